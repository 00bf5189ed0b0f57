-- Training set, window formulation: the same rows as training_set_seed.sql, computed from running
-- sums over each user's timeline instead of joining every event to every other event of its user,
-- so the cost grows with n log n rather than with the square of a user's event count.
--
-- Why running sums: a window "strictly earlier, at most N second boundaries back" is the events
-- before this instant minus the events whose second is more than N seconds before this event's
-- second. Both are range frames with a constant offset, the only kind Snowflake documents (for
-- COUNT/SUM/MIN/MAX/AVG, without DISTINCT); DuckDB runs the same frames.
-- Distinct counts use islands: a value's occurrences, split where two consecutive ones are more than
-- N seconds (boundaries) apart. A value is in the window exactly when one of its islands started
-- before this instant and did not end before the window's first second, and at most one island per
-- value can, so a distinct count is island starts minus island ends, again two running sums.
{#- From the registry (`plan`): counters (count/any attributes) get a 0/1 flag a row and a running
    total; distinct counts get islands per window; first/last values get a position a window. #}
{%- set user_timeline = "partition by domain_userid order by tick" %}
{%- set user_seconds = "partition by domain_userid order by second_number" %}
{%- set up_to_now = user_timeline ~ " range between unbounded preceding and current row" %}
{%- set strictly_earlier = user_timeline ~ " range between unbounded preceding and 1 preceding" %}
{%- set window_seconds = {"short": short_window_seconds, "long": long_window_seconds} %}
{%- set before_short = user_seconds ~ " range between unbounded preceding and " ~ (short_window_seconds + 1) ~ " preceding" %}
{%- set before_long = user_seconds ~ " range between unbounded preceding and " ~ (long_window_seconds + 1) ~ " preceding" %}
{%- set totals = "partition by domain_userid order by position rows between unbounded preceding and current row" %}
{%- set through_target_window = user_seconds ~ " range between unbounded preceding and " ~ target_window_seconds ~ " following" %}
{%- set distinct_windows = [] %}
{%- for window in ("short", "long") %}{% for attribute in plan.distinct_in(window) %}{% set _ = distinct_windows.append((attribute, window)) %}{% endfor %}{% endfor %}
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
        event_name,
{%- for expression, alias in row_values(plan) %}
        {{ expression }}{{ (" as " ~ alias) if expression != alias }},
{%- endfor %}
        {{ epoch_nanosecond("derived_tstamp") }} as tick,
        {{ epoch_second("derived_tstamp") }} as second_number,
        row_number() over (partition by domain_userid order by derived_tstamp, event_id) as position,
        -- position of the first event at this instant: positions below it are strictly earlier
        rank() over (partition by domain_userid order by derived_tstamp) as first_position_at_instant,
{%- for attribute in plan.counters %}
        case when {{ match(attribute) or "true" }} then 1 else 0 end as is_{{ attribute.name }},
{%- endfor %}
        case when event_name = {{ bind("target_event") }} then 1 else 0 end as is_target
    from events
),

neighbours as (
    select
        *,
{%- for attribute in plan.distinct %}
{%- set column = value_ref(attribute) %}
        lag(second_number) over (partition by domain_userid, {{ column }} order by tick) as previous_{{ attribute.name }}_second,
        lead(second_number) over (partition by domain_userid, {{ column }} order by tick) as next_{{ attribute.name }}_second
            {{- "," if not loop.last }}
{%- endfor %}
    from timeline
),

islands as (
    select
        *,
{%- for attribute, window in distinct_windows %}
{%- set column = value_ref(attribute) %}
{%- set seconds = window_seconds[window] %}
        case when {{ column }} is not null
            and (previous_{{ attribute.name }}_second is null or second_number - previous_{{ attribute.name }}_second > {{ seconds }})
            then 1 else 0 end as starts_{{ attribute.name }}_{{ window }},
        case when {{ column }} is not null
            and (next_{{ attribute.name }}_second is null or next_{{ attribute.name }}_second - second_number > {{ seconds }})
            then 1 else 0 end as ends_{{ attribute.name }}_{{ window }}
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
{%- for expression, alias in row_values(plan) %}
        {{ alias }},
{%- endfor %}
        first_position_at_instant - 1 as last_earlier_position,
        count(*) over ({{ before_short }}) as last_position_before_short,
        count(*) over ({{ before_long }}) as last_position_before_long,
{%- for feature in plan.values %}
{%- set value = value_ref(feature.attribute) %}
{%- if feature.attribute.aggregation == "first" %}
        -- the earliest event with a value from the window's first second on; it counts only if it is
        -- strictly earlier than this event (checked against first_position_at_instant below)
        min(case when {{ value }} is not null then position end)
            over ({{ user_seconds }} range between {{ window_seconds[feature.window] }} preceding and current row) as {{ feature.key }}_position,
{%- else %}
        -- the latest strictly earlier event with a value (a max, written as min of the negated
        -- position); it counts only if it is in the window (checked below)
        -min(case when {{ value }} is not null then -position end) over ({{ strictly_earlier }}) as {{ feature.key }}_position,
{%- endif %}
{%- endfor %}
        first_position_at_instant,
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
{%- for attribute, window in distinct_windows %}
        sum(starts_{{ attribute.name }}_{{ window }}) over ({{ totals }}) as {{ attribute.name }}_islands_started_{{ window }},
        sum(ends_{{ attribute.name }}_{{ window }}) over ({{ totals }}) as {{ attribute.name }}_islands_ended_{{ window }}
            {{- "," if not loop.last }}
{%- endfor %}
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
        coalesce({{ value_ref(feature.attribute, "edges.") }}, {{ default_literal(feature) }}) as {{ col[feature.key] }},
{%- endfor %}
{%- macro in_window(before, total, ended=none) -%}
cast(coalesce(earlier.{{ total }}, 0) - coalesce({{ before }}.{{ ended or total }}, 0) as bigint)
{%- endmacro %}
{% for feature in plan.in_window("short") + plan.in_window("long") %}
{%- set attribute = feature.attribute %}
{%- set before = "before_" ~ feature.window %}
{%- if attribute.aggregation in ("count", "any") %}
        {{ in_window(before, attribute.name ~ "_total") }}{{ " > 0" if attribute.aggregation == "any" }} as {{ col[feature.key] }},
{%- elif attribute.aggregation == "count_distinct" %}
        {{ in_window(before, attribute.name ~ "_islands_started_" ~ feature.window, attribute.name ~ "_islands_ended_" ~ feature.window) }}
            as {{ col[feature.key] }},
{%- else %}
        coalesce(value_{{ feature.key }}.{{ feature.key }}, {{ default_literal(feature) }}) as {{ col[feature.key] }},
{%- endif %}
{%- endfor %}

        edges.target_events_ahead >= {{ spec.target_min_count }} as {{ target_column }}
    from window_edges as edges
    left join running_totals as earlier
        on edges.domain_userid = earlier.domain_userid
        and edges.last_earlier_position = earlier.position
    left join running_totals as before_short
        on edges.domain_userid = before_short.domain_userid
        and edges.last_position_before_short = before_short.position
    left join running_totals as before_long
        on edges.domain_userid = before_long.domain_userid
        and edges.last_position_before_long = before_long.position
{%- for feature in plan.values %}
    left join event_values as value_{{ feature.key }}
        on edges.domain_userid = value_{{ feature.key }}.domain_userid
        and edges.{{ feature.key }}_position = value_{{ feature.key }}.position
{%- if feature.attribute.aggregation == "first" %}
        and edges.{{ feature.key }}_position < edges.first_position_at_instant
{%- else %}
        and value_{{ feature.key }}.second_number >= edges.second_number - {{ window_seconds[feature.window] }}
{%- endif %}
{%- endfor %}
)

{% include "training_rows.sql" -%}
