-- Every report version, with the versions of its inputs, the folder it lives in and the version it follows.
--
-- A report version is a content hash of (model version, dataset version, grid version, code version), computed
-- in reliability_report. Its files live in <BENCHTRUST_HOME>/reports/<model>/<benchmark>/<report_version>/ —
-- deterministic, so the path is known here before the reports asset writes it, and never changes afterwards.
-- Versions of one model × benchmark are ordered by when their predictions were written (the order that makes
-- reliability_report.is_latest); each row names the version before it and which inputs differ from it.
with versions as (
    select model, benchmark, dataset_version, model_version, grid_version, report_version, written_at, is_latest
    from {{ ref('reliability_report') }}
),

ordered as (
    select
        *,
        row_number() over w as version_seq,
        lag(report_version) over w as previous_report_version,
        lag(dataset_version) over w as previous_dataset_version,
        lag(model_version) over w as previous_model_version,
        lag(grid_version) over w as previous_grid_version
    from versions
    -- the reverse of reliability_report's is_latest order (written_at desc, dataset_version)
    window w as (partition by model, benchmark order by written_at asc, dataset_version desc, report_version asc)
)

select
    model,
    benchmark,
    dataset_version,
    model_version,
    grid_version,
    report_version,
    '{{ env_var("BENCHTRUST_HOME", "data") }}/reports/'
    || {{ path_part('model') }}
    || '/'
    || {{ path_part('benchmark') }}
    || '/' || report_version
    || '/report.html' as report_path,
    written_at as created_at,
    version_seq::integer as version_seq,
    previous_report_version,
    previous_dataset_version,
    previous_model_version,
    previous_grid_version,
    coalesce(previous_dataset_version <> dataset_version, false) as dataset_changed,
    coalesce(previous_model_version <> model_version, false) as model_changed,
    coalesce(previous_grid_version is distinct from grid_version and previous_report_version is not null, false)
        as grid_changed,
    is_latest
from ordered
