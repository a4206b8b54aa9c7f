{#- The lake accepts only files the pipeline wrote (issue 15, item 6; benchtrust.lake.register): a staging model
    keeps a row only if the Parquet file it came from is listed, with its current size, by the file's sidecar
    manifest entry. Every file that is not is reported in stg_lake__files (and by its warning test). -#}
{% macro bt_listed_file(filename_col) -%}
    {{ filename_col }} in (select file from {{ ref('stg_lake__files') }} where is_listed)
{%- endmacro %}
