-- Training set, tutorial formulation: every event joined to its user's other events.
-- One row per eligible event: identifiers, features as of that event, and the target.
-- Cost grows with the square of each user's event count; see training_set_fast.sql.
with

{%- set with_first_targets = true %}
{% include "training_events.sql" %},

targets_as_of_event as (
    select
        er.event_id,
        count(case when ef.event_name = {{ bind("target_event") }} then 1 end)
            >= {{ spec.target_min_count }} as {{ target_column }}
    from events as er
    left join events as ef
        on er.domain_userid = ef.domain_userid
        and er.derived_tstamp < ef.derived_tstamp
        and {{ seconds_between("er.derived_tstamp", "ef.derived_tstamp") }} <= {{ target_window_seconds }}
    group by er.event_id
),

{%- set in_short = seconds_between("eh.derived_tstamp", "er.derived_tstamp") ~ " <= " ~ short_window_seconds %}

agg_as_of_event as (
    select
        er.event_id,
        er.domain_userid,
        er.derived_tstamp,
        er.event_name,

{%- for feature in plan.event %}
        coalesce({{ value_expr(feature.attribute, "er.") }}, {{ default_literal(feature) }}) as {{ col[feature.key] }},
{%- endfor %}
{% for feature in plan.in_window("short") + plan.in_window("long") %}
{%- set window = feature.window %}
{%- set attribute = feature.attribute %}
{%- set comma = "" if loop.last else "," %}
{#- the join holds the long window; the short one is a condition on it #}
{%- set conditions = ([in_short] if window == "short" else []) + ([match(attribute, "eh.")] if attribute.filtered else []) %}
{%- if attribute.aggregation in ("count", "any") %}
        count(case when {{ (conditions or ["eh.event_id is not null"]) | join(" and ") }} then 1 end)
            {{- " > 0" if attribute.aggregation == "any" }} as {{ col[feature.key] }}{{ comma }}
{%- elif attribute.aggregation == "count_distinct" %}
{%- if conditions %}
        count(distinct case when {{ conditions | join(" and ") }} then {{ prop(attribute.property, "eh.") }} end) as {{ col[feature.key] }}{{ comma }}
{%- else %}
        count(distinct {{ prop(attribute.property, "eh.") }}) as {{ col[feature.key] }}{{ comma }}
{%- endif %}
{%- else %}
        -- the {{ attribute.aggregation }} event in the window that has a value: an explicit null-skipping {{ "min_by" if attribute.aggregation == "first" else "max_by" }}, the same in both dialects
        coalesce({{ "min_by" if attribute.aggregation == "first" else "max_by" }}({{ prop(attribute.property, "eh.") }}, case when {{ (conditions + [prop(attribute.property, "eh.") ~ " is not null"]) | join(" and ") }} then eh.derived_tstamp end), {{ default_literal(feature) }})
            as {{ col[feature.key] }}{{ comma }}
{%- endif %}
{%- endfor %}
    from events as er
    left join events as eh
        on er.domain_userid = eh.domain_userid
        and eh.derived_tstamp < er.derived_tstamp
        and {{ seconds_between("eh.derived_tstamp", "er.derived_tstamp") }} <= {{ long_window_seconds }}
    group by all
),

final as (
    select
        agg.*,
        targets.{{ target_column }}
    from agg_as_of_event as agg
    inner join targets_as_of_event as targets on agg.event_id = targets.event_id
)

{% include "training_rows.sql" -%}
