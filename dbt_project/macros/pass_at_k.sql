{#- Unbiased pass@k (Chen et al. 2021; AUDITS.md audit 3) for an item with n samples of which c pass:
    1 − C(n−c, k)/C(n, k) = 1 − ∏_{i=n−c+1}^{n} (1 − k/i), the numerically stable product form. NULL when n < k. -#}
{% macro pass_at_k(n, c, k) -%}
    case
        when {{ n }} < {{ k }} then null
        when {{ n }} - {{ c }} < {{ k }} then 1.0
        -- c = 0: the product is empty (pass@k = 0), and DuckDB's list_sum of an empty list is NULL, not 0
        else 1.0 - exp(coalesce(list_sum(list_transform(range({{ n }} - {{ c }} + 1, {{ n }} + 1), lambda i: ln(1.0 - {{ k }}::double / i))), 0.0))
    end
{%- endmacro %}
