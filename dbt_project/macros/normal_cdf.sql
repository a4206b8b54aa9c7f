{#- Standard normal cdf Φ(x) through erf (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7): DuckDB has no normal
    cdf. Used by marts.model_comparisons for the normal-approximation power of McNemar's test. -#}
{% macro normal_cdf(x) -%}
    (0.5 * (1 + sign({{ x }}) * (1 - (
        ((((1.061405429 * (1 / (1 + 0.3275911 * abs({{ x }}) / sqrt(2))) - 1.453152027)
            * (1 / (1 + 0.3275911 * abs({{ x }}) / sqrt(2))) + 1.421413741)
            * (1 / (1 + 0.3275911 * abs({{ x }}) / sqrt(2))) - 0.284496736)
            * (1 / (1 + 0.3275911 * abs({{ x }}) / sqrt(2))) + 0.254829592)
        * (1 / (1 + 0.3275911 * abs({{ x }}) / sqrt(2)))
        * exp(-({{ x }}) * ({{ x }}) / 2)))))
{%- endmacro %}
