{#- A folder name for any model or benchmark name: the rule of benchtrust.lake.path_part (injective; the tests
    compare the two). A plain name (lower-case letters, digits, '.', '_', '-', starting with a letter or digit, no
    '__', not ending in '_', at most 100 characters) is kept; any other becomes a readable slug (runs of other
    characters -> '_', at most 48 characters, '._-' trimmed) + '~' + the first 12 hex digits of its SHA-256. -#}
{% macro path_part(col) -%}
    (case when regexp_full_match({{ col }}, '[a-z0-9][a-z0-9._-]{0,99}') and strpos({{ col }}, '__') = 0
               and not ends_with({{ col }}, '_')
          then {{ col }}
          else coalesce(nullif(trim(left(trim(regexp_replace({{ col }}, '[^A-Za-z0-9.-]+', '_', 'g'), '._-'), 48),
                                    '._-'), ''), 'x')
               || '~' || left(sha256({{ col }}), 12) end)
{%- endmacro %}
