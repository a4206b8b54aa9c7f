-- Audit 10 (item quality): which items are malformed or repeated? One row per benchmark × dataset version × item.
--   options_recorded      the item lists its answer options (imports such as HELM's matrix carry none: the option
--                         checks below are then NULL, not false)
--   has_repeated_options  two options have the same text (compared lower-cased, whitespace collapsed)
--   gold_option_repeated  the gold option's text appears more than once among the options
--   gold_outside_options  the gold index points at no option (multiple choice only)
--   is_exact_duplicate    an earlier item (by source row, then id) has exactly the same input and options
--   is_duplicate          the loader's flag: the same input and options after normalising case and whitespace
--                         (so it includes the exact duplicates; duplicate_of names the first copy)
with items as (
    select
        benchmark, dataset_version, item_id, subject, task_type, gold_index, is_duplicate, duplicate_of,
        source_row, input, choices,
        coalesce(len(choices), 0) as n_options,
        list_transform(choices, lambda c: trim(regexp_replace(lower(c), '\s+', ' ', 'g'))) as norm_choices
    from {{ ref('stg_lake__items') }}
)

select
    benchmark,
    dataset_version,
    item_id,
    subject,
    n_options::integer as n_options,
    n_options > 0 as options_recorded,
    case when n_options > 0 then len(list_distinct(norm_choices)) < n_options end as has_repeated_options,
    case when n_options > 0 then
            gold_index >= 0 and gold_index < n_options
            and len(list_filter(norm_choices, lambda c: c = norm_choices[gold_index + 1])) > 1
    end as gold_option_repeated,
    case when n_options > 0 and task_type = 'multiple_choice' then
            gold_index is null or gold_index < 0 or gold_index >= n_options
    end as gold_outside_options,
    row_number() over (partition by benchmark, dataset_version, input, choices order by source_row, item_id) > 1
        as is_exact_duplicate,
    coalesce(is_duplicate, false) as is_duplicate,
    duplicate_of
from items
