{#- A folder name for any model or benchmark name, the rule of benchtrust.report.render.path_part: every run of
    characters outside [A-Za-z0-9._-] becomes '__' ('openai/gpt-4o' → 'openai__gpt-4o'); '', '.' and '..' are
    wrapped in '_'. -#}
{% macro path_part(col) -%}
    (case when regexp_replace({{ col }}, '[^A-Za-z0-9._-]+', '__', 'g') in ('', '.', '..')
          then '_' || regexp_replace({{ col }}, '[^A-Za-z0-9._-]+', '__', 'g') || '_'
          else regexp_replace({{ col }}, '[^A-Za-z0-9._-]+', '__', 'g') end)
{%- endmacro %}
