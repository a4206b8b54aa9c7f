{#- Contamination audits (AUDITS.md audits 8, 9): the SQL definitions every model of the audit shares.

    Tokens: lower-case, then maximal runs of Unicode letters, numbers and '_' — punctuation and whitespace
    separate tokens (the GPT-3 / lm-evaluation-harness 13-gram convention; benchtrust.contamination.ngrams
    implements exactly this in numpy and its tests check the two agree). An n-gram's hash is DuckDB's hash of
    the list of its tokens' hashes, so item n-grams and the matched n-gram texts the corpus pass emits meet
    on the same key. -#}

{% macro bt_item_text(input, choices) -%}
    ({{ input }} || coalesce(chr(10) || nullif(array_to_string({{ choices }}, chr(10)), ''), ''))
{%- endmacro %}

{% macro bt_tokens(text) -%}
    regexp_extract_all(lower({{ text }}), '[\p{L}\p{N}_]+')
{%- endmacro %}

{% macro bt_token_hashes(text) -%}
    list_transform({{ bt_tokens(text) }}, lambda t: hash(t))
{%- endmacro %}

{#- hash of an n-gram given as its normalised text 'tok tok … tok' (what the corpus pass writes) -#}
{% macro bt_ngram_text_hash(ngram_text) -%}
    hash(list_transform(string_split({{ ngram_text }}, ' '), lambda t: hash(t)))
{%- endmacro %}

{#- Two-sided exact McNemar p-value for b and c discordant pairs: 2·P(X ≤ min(b, c)), X ~ Binomial(b + c, ½),
    capped at 1 (1 when there is no discordant pair). -#}
{% macro bt_mcnemar_exact_p(b, c) -%}
    case when ({{ b }}) + ({{ c }}) = 0 then 1.0 else least(1.0, 2 * list_sum(list_transform(
        range(0, least({{ b }}, {{ c }}) + 1),
        lambda i: exp(lgamma(({{ b }}) + ({{ c }}) + 1) - lgamma(i + 1) - lgamma(({{ b }}) + ({{ c }}) - i + 1)
                      - (({{ b }}) + ({{ c }})) * ln(2))))) end
{%- endmacro %}

{#- Newcombe's hybrid score interval (method 10) for p1 − p2 from two independent proportions k1/n1, k2/n2,
    built from their Wilson intervals: safe at 0 and n, unlike the Wald difference. -#}
{% macro bt_newcombe_low(k1, n1, k2, n2) -%}
    case when ({{ n1 }}) > 0 and ({{ n2 }}) > 0 then
        ({{ k1 }})::double / ({{ n1 }}) - ({{ k2 }})::double / ({{ n2 }}) - sqrt(
            power(({{ k1 }})::double / ({{ n1 }}) - {{ wilson_low(k1, n1) }}, 2)
            + power({{ wilson_high(k2, n2) }} - ({{ k2 }})::double / ({{ n2 }}), 2))
    end
{%- endmacro %}

{% macro bt_newcombe_high(k1, n1, k2, n2) -%}
    case when ({{ n1 }}) > 0 and ({{ n2 }}) > 0 then
        ({{ k1 }})::double / ({{ n1 }}) - ({{ k2 }})::double / ({{ n2 }}) + sqrt(
            power({{ wilson_high(k1, n1) }} - ({{ k1 }})::double / ({{ n1 }}), 2)
            + power(({{ k2 }})::double / ({{ n2 }}) - {{ wilson_low(k2, n2) }}, 2))
    end
{%- endmacro %}

{#- A lake table that may not exist yet. DuckDB's read_parquet fails on a glob that matches nothing, and the
    contamination tables only appear once a corpus is registered, so a staging model reads its source only
    when files exist and is an empty, typed relation otherwise. `columns` is a list of [name, type]. At parse
    time the source() is always rendered, so the lineage (and Dagster's asset graph) is complete. -#}
{% macro bt_lake_source(source_name, table_name, lake_glob, columns) -%}
    {%- set has_files = true -%}
    {%- if execute -%}
        {%- set lake = env_var('BENCHTRUST_LAKE', 'data/lake') -%}
        {%- set res = run_query("select count(*) from glob('" ~ lake ~ "/" ~ lake_glob ~ "')") -%}
        {%- set has_files = (res.columns[0].values()[0] | int) > 0 -%}
    {%- endif -%}
    {%- if has_files %}
    select
        {%- for c in columns %}
        {{ c[0] }}::{{ c[1] }} as {{ c[0] }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ source(source_name, table_name) }}
    where {{ bt_listed_file('filename') }}
    {%- else %}
    select
        {%- for c in columns %}
        null::{{ c[1] }} as {{ c[0] }}{{ "," if not loop.last }}
        {%- endfor %}
    where false
    {%- endif %}
{%- endmacro %}
