{#- Wilson score interval for k successes in n trials (AUDITS.md audit 1):
    (p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n). Safe at k = 0 and k = n, unlike the CLT interval.
    NULL when n = 0. -#}
{% macro wilson_low(k, n, z=var('z95')) -%}
    case when {{ n }} > 0 then
      greatest(0.0, ((({{ k }})::double / {{ n }}) + {{ z }}*{{ z }} / (2.0 * {{ n }})
        - {{ z }} * sqrt((({{ k }})::double / {{ n }}) * (1 - ({{ k }})::double / {{ n }}) / {{ n }} + {{ z }}*{{ z }} / (4.0 * {{ n }} * {{ n }})))
       / (1 + {{ z }}*{{ z }} / {{ n }}))
    end
{%- endmacro %}

{% macro wilson_high(k, n, z=var('z95')) -%}
    case when {{ n }} > 0 then
      least(1.0, ((({{ k }})::double / {{ n }}) + {{ z }}*{{ z }} / (2.0 * {{ n }})
        + {{ z }} * sqrt((({{ k }})::double / {{ n }}) * (1 - ({{ k }})::double / {{ n }}) / {{ n }} + {{ z }}*{{ z }} / (4.0 * {{ n }} * {{ n }})))
       / (1 + {{ z }}*{{ z }} / {{ n }}))
    end
{%- endmacro %}
