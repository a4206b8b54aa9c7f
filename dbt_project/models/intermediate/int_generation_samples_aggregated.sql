-- pass@1 and unbiased pass@k per model × benchmark × dataset version, over the executed samples of the
-- headline template (original order, first few-shot seed, the headline's numeric configuration). A grid that
-- decodes both greedily and by sampling (decoding: [greedy, sample × K]) counts its K samples only: the greedy
-- cell is compared with them in marts.decoding_gap.
with headline_config as (
    select distinct
        model, model_version, benchmark, dataset_version, grid_version, template_id, fewshot_seed,
        dtype, attn_implementation
    from {{ ref('stg_lake__predictions') }}
    where is_headline and task_type = 'generation'
),

per_item_decoding as (
    select
        p.model, p.model_version, p.benchmark, p.dataset_version, p.grid_version, p.decoding, p.item_id,
        count(*) as n,
        count(*) filter (where p.is_correct) as c
    from {{ ref('stg_lake__predictions') }} as p
    inner join headline_config
        using (
            model, model_version, benchmark, dataset_version, grid_version, template_id,
            fewshot_seed, dtype, attn_implementation
        )
    where p.permutation_seed = 0 and p.is_correct is not null
    group by all
),

per_item as (  -- the sampled decoding where the grid has one, else the headline's
    select * exclude (decoding)
    from per_item_decoding
    qualify dense_rank() over (
            partition by model, model_version, benchmark, dataset_version, grid_version
            order by case when decoding = 'sample' then 0 else 1 end
        ) = 1
)

select
    model, model_version, benchmark, dataset_version, grid_version,
    count(*) as n_items_executed,
    min(n) as n_samples,
    avg(c::double / n) as pass_at_1,
    avg({{ pass_at_k('n', 'c', 5) }}) as pass_at_5,
    avg({{ pass_at_k('n', 'c', 10) }}) as pass_at_10
from per_item
group by all
