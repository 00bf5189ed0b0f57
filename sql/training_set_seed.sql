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
    from cohort_events as er
    left join cohort_events as ef
        on er.domain_userid = ef.domain_userid
        and er.derived_tstamp < ef.derived_tstamp
        and {{ seconds_between("er.derived_tstamp", "ef.derived_tstamp") }} <= {{ target_window_seconds }}
    group by er.event_id
),

{#- A history event is in a feature's span: tutorial timing, strictly earlier and at most N second
    boundaries back (datediff); signals timing, up to and including the instant and later than it
    less N seconds. The join holds the longest span; a shorter one is a condition on it. #}
{%- set signals = plan.timing == "signals" %}
{%- set widest = plan.widest_seconds %}
{%- macro in_span(seconds) -%}
{%- if signals -%}
eh.derived_tstamp > {{ seconds_before("er.derived_tstamp", seconds) }}
{%- else -%}
{{ seconds_between("eh.derived_tstamp", "er.derived_tstamp") }} <= {{ seconds }}
{%- endif -%}
{%- endmacro %}

agg_as_of_event as (
    select
        er.event_id,
        er.domain_userid,
        er.derived_tstamp,
        er.event_name,

{%- for feature in plan.event %}
{%- set own = value_expr(feature.attribute, "er.") %}
{%- if feature.key in plan.fallbacks %}
{%- set seen = value_expr(feature.attribute, "eh.") %}
        -- Signals' `last` skips NULLs: the event's own value, else the latest one up to its instant
        coalesce(max({{ own }}), max_by({{ seen }}, case when {{ seen }} is not null then eh.derived_tstamp end), {{ default_literal(feature) }}) as {{ col[feature.key] }},
{%- else %}
        coalesce({{ own }}, {{ default_literal(feature) }}) as {{ col[feature.key] }},
{%- endif %}
{%- endfor %}
{% for feature in plan.history_features %}
{%- set seconds = plan.span_seconds[plan.span_of[feature.key]] %}
{%- set attribute = feature.attribute %}
{%- set comma = "" if loop.last else "," %}
{%- set conditions = ([in_span(seconds)] if seconds is not none and seconds != widest else []) + ([match(attribute, "eh.")] if attribute.filtered else []) %}
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
    from cohort_events as er
    left join history as eh
        on er.domain_userid = eh.domain_userid
        and eh.derived_tstamp {{ "<=" if signals else "<" }} er.derived_tstamp
{%- if widest is not none %}
        and {{ in_span(widest) }}
{%- endif %}
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
