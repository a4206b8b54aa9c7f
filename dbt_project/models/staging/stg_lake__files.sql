{{ config(materialized='table') }}
-- Every Parquet file under the lake, and whether the pipeline listed it (issue 15, item 6): a sidecar
-- <file>.manifest.json written by benchtrust.lake.register with the file's size and SHA-256. Files without a
-- listing, or whose size differs from it (overwritten by another route), are ignored by the staging models and
-- reported here (problem) and by the warning test on is_listed.
{%- set lake = env_var('BENCHTRUST_LAKE', 'data/lake') %}
with present as (
    select filename as file, size as bytes
    from read_blob('{{ lake }}/**/*.parquet')
    -- set aside by the pipeline itself and never read by staging
    where not starts_with(filename, '{{ lake }}/rejected/') and not starts_with(filename, '{{ lake }}/superseded/')
),

listed as (
    select
        regexp_replace(filename, '\.manifest\.json$', '') as file,
        bytes as listed_bytes,
        sha256 as listed_sha256,
        written_at as listed_at
    from read_json(
            '{{ lake }}/**/*.parquet.manifest.json', filename = true, format = 'auto',
            columns = {
                file: 'varchar', bytes: 'bigint', sha256: 'varchar', written_at: 'varchar',
                writer_pid: 'bigint'
            }
        )
)

select
    p.file,
    p.bytes,
    l.listed_bytes,
    l.listed_sha256,
    l.listed_at,
    coalesce(l.listed_bytes = p.bytes, false) as is_listed,
    case
        when l.file is null then 'not written by the pipeline (no manifest entry): ignored'
        when l.listed_bytes <> p.bytes then 'size differs from its manifest entry (changed by another route): ignored'
    end as problem
from present as p
left join listed as l on p.file = l.file
