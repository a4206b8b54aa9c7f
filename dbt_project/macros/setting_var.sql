{#- A var whose value lives in benchtrust's settings, not here: dbt_project.yml declares it as null and
    benchtrust.dbt_vars passes it on every invocation (the Dagster dbt asset, the tests, the benchmarks). Running
    dbt by hand: dbt build --vars "$(python -m benchtrust.dbt_vars)". While parsing (execute is false) the
    value is not needed, so a stand-in of the right shape is returned; at run time a missing value fails loudly
    rather than falling back to a second copy of the setting. -#}
{% macro bt_setting_var(name) -%}
    {%- set value = var(name) -%}
    {%- if value is none -%}
        {%- if execute -%}
            {{ exceptions.raise_compiler_error(
                "dbt var '" ~ name ~ "' is not set: its value comes from benchtrust's settings and is passed on every "
                ~ "dbt invocation; running dbt by hand, add --vars \"$(python -m benchtrust.dbt_vars)\"") }}
        {%- endif -%}
        {{ return([0]) }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{#- The method label of the "largest share over the n-gram sizes" evidence row, e.g. 'n=max(13,8)' for the
    default sizes [13, 8]: built from the var, so the label follows config/corpora.yaml. -#}
{% macro bt_ngram_max_method() -%}
    {{ return("n=max(" ~ (bt_setting_var('contamination_ngram_sizes') | sort(reverse=true) | join(',')) ~ ")") }}
{%- endmacro %}
