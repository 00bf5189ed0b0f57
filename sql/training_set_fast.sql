-- Training set, window formulation: the same rows as training_set_seed.sql, computed from running
-- sums over each user's timeline instead of joining every event to every other event of its user,
-- so the cost grows with n log n rather than with the square of a user's event count.
--
-- Why running sums: a window's count is the events up to its last position minus the events up to
-- the position just before its first. Both positions come from range frames that run from the
-- start of the timeline (cumulative) to a constant offset, the only kind Snowflake documents (for
-- COUNT/SUM/MIN/MAX/AVG, without DISTINCT); DuckDB runs the same frames. Tutorial timing: the last
-- position is the last strictly earlier event, the first is the first within N second boundaries.
-- Signals timing: the last is the last event at this instant, the first is the first later than
-- the instant less N seconds (ticks in nanoseconds, exact).
-- Distinct counts use islands: a value's occurrences, split where two consecutive ones are too far
-- apart to share a window. A value is in the window exactly when one of its islands started by the
-- window's last position and did not end before its first, and at most one island per value can,
-- so a distinct count is island starts minus island ends, again two running sums.
-- First and last values use only cumulative ROWS frames and ordinal joins, no sliding MIN: per
-- position, the latest position at or before it with a value (a running max) and the earliest at or
-- after it (a running min, backwards); the last value of a window is the former read at the window's
-- last position, the first the latter read at its first position, each kept when inside the window.
{#- From the registry (`plan`): counters (count/any attributes) get a 0/1 flag a row and a running
    total; distinct counts get islands per span; first/last values get marks per position. #}
{%- set signals = plan.timing == "signals" %}
{%- set user_timeline = "partition by domain_userid order by tick" %}
{%- set user_seconds = "partition by domain_userid order by second_number" %}
{%- set up_to_now = user_timeline ~ " range between unbounded preceding and current row" %}
{%- set strictly_earlier = user_timeline ~ " range between unbounded preceding and 1 preceding" %}
{%- set totals = "partition by domain_userid order by position rows between unbounded preceding and current row" %}
{%- set totals_backwards = "partition by domain_userid order by position desc rows between unbounded preceding and current row" %}
{%- set through_target_window = user_seconds ~ " range between unbounded preceding and " ~ target_window_seconds ~ " following" %}
{#- The frame that ends just before a span's first position, per span. #}
{%- macro before_span(seconds) -%}
{%- if signals -%}
{{ user_timeline }} range between unbounded preceding and {{ seconds * 1000000000 }} preceding
{%- else -%}
{{ user_seconds }} range between unbounded preceding and {{ seconds + 1 }} preceding
{%- endif -%}
{%- endmacro %}
{#- Whether two occurrences of a value (`earlier`, `later`: `tick` and `second_number` columns or
    lag/lead aliases) are too far apart for one span to hold both. #}
{%- macro apart(earlier_second, later_second, earlier_tick, later_tick, seconds) -%}
{%- if signals -%}
{{ later_tick }} - {{ earlier_tick }} >= {{ seconds * 1000000000 }}
{%- else -%}
{{ later_second }} - {{ earlier_second }} > {{ seconds }}
{%- endif -%}
{%- endmacro %}
{#- The scan computes each value and criterion match at once, so the JSON contexts and URLs never go
    through the dedup's shuffle (training_events.sql's narrow_scan). #}
{%- set narrow_scan = true %}
with

{%- set with_first_targets = true %}
{% include "training_events.sql" %},

timeline as (
    select
        event_id,
        domain_userid,
        domain_sessionid,
        app_id,
        derived_tstamp,
        is_row,
        event_name,
{%- for expression, alias in row_values(plan) %}
        {{ alias }},
{%- endfor %}
        {{ epoch_nanosecond("derived_tstamp") }} as tick,
        {{ epoch_second("derived_tstamp") }} as second_number,
        row_number() over (partition by domain_userid order by derived_tstamp, event_id) as position,
        -- position of the first event at this instant: positions below it are strictly earlier
        rank() over (partition by domain_userid order by derived_tstamp) as first_position_at_instant,
{%- for attribute in plan.counters %}
        case when {{ ("matches_" ~ attribute.name) if plan.matched_in_scan(attribute) else (match(attribute) or "true") }} then 1 else 0 end as is_{{ attribute.name }},
{%- endfor %}
        -- the target counts the rows' events only, as without wider history
        case when is_row and event_name = {{ bind("target_event") }} then 1 else 0 end as is_target
    from history
),

neighbours as (
    select
        *,
{%- for attribute in plan.distinct %}
{%- set column = value_ref(attribute) %}
        lag(second_number) over (partition by domain_userid, {{ column }} order by tick) as previous_{{ attribute.name }}_second,
        lead(second_number) over (partition by domain_userid, {{ column }} order by tick) as next_{{ attribute.name }}_second,
        lag(tick) over (partition by domain_userid, {{ column }} order by tick) as previous_{{ attribute.name }}_tick,
        lead(tick) over (partition by domain_userid, {{ column }} order by tick) as next_{{ attribute.name }}_tick
            {{- "," if not loop.last }}
{%- endfor %}
    from timeline
),

islands as (
    select
        *,
{%- for attribute, span in plan.distinct_spans %}
{%- set column = value_ref(attribute) %}
{%- set seconds = plan.span_seconds[span] %}
{%- set name = attribute.name %}
{%- if seconds is none %}
        -- lifetime: one island per value, from its first occurrence on
        case when {{ column }} is not null and previous_{{ name }}_tick is null then 1 else 0 end as starts_{{ name }}_{{ span }},
        0 as ends_{{ name }}_{{ span }}
{%- else %}
        case when {{ column }} is not null
            and (previous_{{ name }}_tick is null or {{ apart("previous_" ~ name ~ "_second", "second_number", "previous_" ~ name ~ "_tick", "tick", seconds) }})
            then 1 else 0 end as starts_{{ name }}_{{ span }},
        case when {{ column }} is not null
            and (next_{{ name }}_tick is null or {{ apart("second_number", "next_" ~ name ~ "_second", "tick", "next_" ~ name ~ "_tick", seconds) }})
            then 1 else 0 end as ends_{{ name }}_{{ span }}
{%- endif %}
            {{- "," if not loop.last }}
{%- endfor %}
    from neighbours
),

window_edges as (
    select
        event_id,
        domain_userid,
        derived_tstamp,
        event_name,
        second_number,
        app_id,
        is_row,
{%- for expression, alias in row_values(plan) %}
        {{ alias }},
{%- endfor %}
{%- if signals %}
        -- the last event at this instant: Signals has processed every event up to and including it
        count(*) over ({{ up_to_now }}) as last_history_position,
{%- else %}
        first_position_at_instant - 1 as last_history_position,
{%- endif %}
{%- for span in plan.bounded_spans %}
        count(*) over ({{ before_span(plan.span_seconds[span]) }}) as last_position_before_{{ span }},
{%- endfor %}
        coalesce(sum(is_target) over ({{ through_target_window }}), 0)
            - coalesce(sum(is_target) over ({{ up_to_now }}), 0) as target_events_ahead
    from islands
),

-- Running totals by position; a window's count is the total at its last event minus the total
-- just before its first, read by joining on the two positions.
running_totals as (
    select
        domain_userid,
        position,
{%- for attribute in plan.counters %}
        sum(is_{{ attribute.name }}) over ({{ totals }}) as {{ attribute.name }}_total,
{%- endfor %}
{%- for attribute, span in plan.distinct_spans %}
        sum(starts_{{ attribute.name }}_{{ span }}) over ({{ totals }}) as {{ attribute.name }}_islands_started_{{ span }},
        sum(ends_{{ attribute.name }}_{{ span }}) over ({{ totals }}) as {{ attribute.name }}_islands_ended_{{ span }},
{%- endfor %}
{%- for attribute in plan.value_attributes %}
{%- set value = value_ref(attribute) %}
        max(case when {{ value }} is not null then position end) over ({{ totals }}) as {{ attribute.name }}_latest_position,
        min(case when {{ value }} is not null then position end) over ({{ totals_backwards }}) as {{ attribute.name }}_next_position,
{%- endfor %}
        position as total_position
    from islands
),

event_values as (
    select domain_userid, position, second_number
{%- for feature in plan.values %}, {{ value_ref(feature.attribute) }} as {{ feature.key }}{% endfor %}
    from timeline
),

final as (
    select
        edges.event_id,
        edges.domain_userid,
        edges.derived_tstamp,
        edges.event_name,
{% for feature in plan.event %}
{%- set fallback = plan.fallbacks.get(feature.key) %}
        coalesce({{ value_ref(feature.attribute, "edges.") }}, {{ ("value_" ~ fallback.key ~ "." ~ fallback.key ~ ", ") if fallback }}{{ default_literal(feature) }}) as {{ col[feature.key] }},
{%- endfor %}
{%- macro in_span(before, total, ended=none) -%}
cast(coalesce(earlier.{{ total }}, 0) {%- if before %} - coalesce({{ before }}.{{ ended or total }}, 0){% endif %} as bigint)
{%- endmacro %}
{% for feature in plan.history_features %}
{%- set attribute = feature.attribute %}
{%- set span = plan.span_of[feature.key] %}
{%- set before = ("before_" ~ span) if plan.span_seconds[span] is not none else none %}
{%- if attribute.aggregation in ("count", "any") %}
        {{ in_span(before, attribute.name ~ "_total") }}{{ " > 0" if attribute.aggregation == "any" }} as {{ col[feature.key] }},
{%- elif attribute.aggregation == "count_distinct" %}
        {{ in_span(before, attribute.name ~ "_islands_started_" ~ span, attribute.name ~ "_islands_ended_" ~ span) }}
            as {{ col[feature.key] }},
{%- else %}
        coalesce(value_{{ feature.key }}.{{ feature.key }}, {{ default_literal(feature) }}) as {{ col[feature.key] }},
{%- endif %}
{%- endfor %}

        edges.target_events_ahead >= {{ spec.target_min_count }} as {{ target_column }}
    from window_edges as edges
    -- the running totals at the window's last position, and just before its first (a lifetime
    -- window starts at the timeline's start: nothing before it)
    left join running_totals as earlier
        on edges.domain_userid = earlier.domain_userid
        and edges.last_history_position = earlier.position
{%- for span in plan.bounded_spans %}
    left join running_totals as before_{{ span }}
        on edges.domain_userid = before_{{ span }}.domain_userid
        and edges.last_position_before_{{ span }} = before_{{ span }}.position
{%- endfor %}
{%- for span in plan.first_value_spans %}
    left join running_totals as first_of_{{ span }}
        on edges.domain_userid = first_of_{{ span }}.domain_userid
        and {{ ("edges.last_position_before_" ~ span) if plan.span_seconds[span] is not none else "0" }} + 1 = first_of_{{ span }}.position
{%- endfor %}
{%- for feature in plan.values %}
{%- set span = plan.span_of[feature.key] %}
{%- set first_position = ("edges.last_position_before_" ~ span) if plan.span_seconds[span] is not none else "0" %}
    left join event_values as value_{{ feature.key }}
        on edges.domain_userid = value_{{ feature.key }}.domain_userid
{%- if feature.attribute.aggregation == "first" %}
        -- the earliest position with a value from the window's first on, if not past its last
        and first_of_{{ span }}.{{ feature.name }}_next_position = value_{{ feature.key }}.position
        and value_{{ feature.key }}.position <= edges.last_history_position
{%- else %}
        -- the latest position with a value up to the window's last, if not before its first
        and earlier.{{ feature.name }}_latest_position = value_{{ feature.key }}.position
        and value_{{ feature.key }}.position > {{ first_position }}
{%- endif %}
{%- endfor %}
    where edges.is_row
)

{% include "training_rows.sql" -%}
