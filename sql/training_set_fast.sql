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
{%- set short_counts = ["page_view", "page_ping", "pricing_view", "conversion", "form_engagement"] %}
{%- set long_counts = ["page_view", "page_ping", "pricing_view", "conversion", "media_event"] %}
{%- set short_values = ["session", "app"] %}
{%- set long_values = ["session", "app", "campaign"] %}
{%- set value_columns = {"session": "domain_sessionid", "app": "app_id", "campaign": "mkt_campaign"} %}
{%- set user_timeline = "partition by domain_userid order by tick" %}
{%- set user_seconds = "partition by domain_userid order by second_number" %}
{%- set up_to_now = user_timeline ~ " range between unbounded preceding and current row" %}
{%- set before_short = user_seconds ~ " range between unbounded preceding and " ~ (short_window_seconds + 1) ~ " preceding" %}
{%- set before_long = user_seconds ~ " range between unbounded preceding and " ~ (long_window_seconds + 1) ~ " preceding" %}
{%- set long_window = user_seconds ~ " range between " ~ long_window_seconds ~ " preceding and current row" %}
{%- set totals = "partition by domain_userid order by position rows between unbounded preceding and current row" %}
{%- set through_target_window = user_seconds ~ " range between unbounded preceding and " ~ target_window_seconds ~ " following" %}
with

{% include "training_events.sql" %},

timeline as (
    select
        event_id,
        domain_userid,
        domain_sessionid,
        app_id,
        mkt_campaign,
        refr_medium,
        mkt_medium,
        derived_tstamp,
        contexts_nl_basjes_yauaa_context_1,
        {{ epoch_nanosecond("derived_tstamp") }} as tick,
        {{ epoch_second("derived_tstamp") }} as second_number,
        row_number() over (partition by domain_userid order by derived_tstamp, event_id) as position,
        -- position of the first event at this instant: positions below it are strictly earlier
        rank() over (partition by domain_userid order by derived_tstamp) as first_position_at_instant,
        case when event_name = 'page_view' then 1 else 0 end as is_page_view,
        case when event_name = 'page_ping' then 1 else 0 end as is_page_ping,
        case when event_name = 'page_view' and page_url like {{ bind("pricing_url_pattern") }} then 1 else 0 end
            as is_pricing_view,
        case when event_name = 'submit_form' then 1 else 0 end as is_conversion,
        case when event_name in ('focus_form', 'change_form') then 1 else 0 end as is_form_engagement,
        case when contexts_com_snowplowanalytics_snowplow_media_player_2 is not null then 1 else 0 end
            as is_media_event,
        case when event_name = {{ bind("target_event") }} then 1 else 0 end as is_target
    from events
),

neighbours as (
    select
        *,
{%- for name, column in value_columns.items() %}
        lag(second_number) over (partition by domain_userid, {{ column }} order by tick) as previous_{{ name }}_second,
        lead(second_number) over (partition by domain_userid, {{ column }} order by tick) as next_{{ name }}_second
            {{- "," if not loop.last }}
{%- endfor %}
    from timeline
),

islands as (
    select
        *,
{%- for window, names, seconds in [("short", short_values, short_window_seconds), ("long", long_values, long_window_seconds)] %}
{%- for name in names %}
{%- set column = value_columns[name] %}
        case when {{ column }} is not null
            and (previous_{{ name }}_second is null or second_number - previous_{{ name }}_second > {{ seconds }})
            then 1 else 0 end as starts_{{ name }}_{{ window }},
        case when {{ column }} is not null
            and (next_{{ name }}_second is null or next_{{ name }}_second - second_number > {{ seconds }})
            then 1 else 0 end as ends_{{ name }}_{{ window }}
            {{- "," if not (loop.last and window == "long") }}
{%- endfor %}
{%- endfor %}
    from neighbours
),

window_edges as (
    select
        event_id,
        domain_userid,
        derived_tstamp,
        app_id,
        contexts_nl_basjes_yauaa_context_1,
        first_position_at_instant - 1 as last_earlier_position,
        count(*) over ({{ before_short }}) as last_position_before_short,
        count(*) over ({{ before_long }}) as last_position_before_long,
        -- the earliest event with a medium from the window's first second on; it counts only if it is
        -- strictly earlier than this event (checked against first_position_at_instant below)
        min(case when refr_medium is not null then position end) over ({{ long_window }}) as first_refr_position,
        min(case when mkt_medium is not null then position end) over ({{ long_window }}) as first_mkt_position,
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
{%- for flag in (short_counts + long_counts) | unique %}
        sum(is_{{ flag }}) over ({{ totals }}) as {{ flag }}s,
{%- endfor %}
{%- for window, names in [("short", short_values), ("long", long_values)] %}
{%- for name in names %}
        sum(starts_{{ name }}_{{ window }}) over ({{ totals }}) as {{ name }}_islands_started_{{ window }},
        sum(ends_{{ name }}_{{ window }}) over ({{ totals }}) as {{ name }}_islands_ended_{{ window }}
            {{- "," if not (loop.last and window == "long") }}
{%- endfor %}
{%- endfor %}
    from islands
),

mediums as (
    select domain_userid, position, refr_medium, mkt_medium
    from timeline
),

final as (
    select
        edges.event_id,
        edges.domain_userid,
        edges.derived_tstamp,

        coalesce(edges.app_id, '') as {{ col.latest_app_id }},
        {{ iso_day_of_week("edges.derived_tstamp") }} as {{ col.day_of_week }},
        coalesce({{ device_class("edges.contexts_nl_basjes_yauaa_context_1") }}, '') as {{ col.latest_device_class }},

{%- macro in_window(before, total, ended=none) -%}
cast(coalesce(earlier.{{ total }}, 0) - coalesce({{ before }}.{{ ended or total }}, 0) as bigint)
{%- endmacro %}
        {{ in_window("before_short", "session_islands_started_short", "session_islands_ended_short") }} as {{ col.num_sessions_short }},
        {{ in_window("before_short", "app_islands_started_short", "app_islands_ended_short") }} as {{ col.num_apps_short }},
        {{ in_window("before_short", "page_views") }} as {{ col.num_page_views_short }},
        {{ in_window("before_short", "page_pings") }} as {{ col.num_page_pings_short }},
        {{ in_window("before_short", "pricing_views") }} as {{ col.num_pricing_views_short }},
        {{ in_window("before_short", "conversions") }} > 0 as {{ col.had_conversions_short }},
        {{ in_window("before_short", "form_engagements") }} as {{ col.num_form_engagements_short }},

        {{ in_window("before_long", "session_islands_started_long", "session_islands_ended_long") }} as {{ col.num_sessions_long }},
        {{ in_window("before_long", "app_islands_started_long", "app_islands_ended_long") }} as {{ col.num_apps_long }},
        {{ in_window("before_long", "page_views") }} as {{ col.num_page_views_long }},
        {{ in_window("before_long", "page_pings") }} as {{ col.num_page_pings_long }},
        {{ in_window("before_long", "pricing_views") }} as {{ col.num_pricing_views_long }},
        {{ in_window("before_long", "conversions") }} > 0 as {{ col.had_conversions_long }},
        {{ in_window("before_long", "media_events") }} as {{ col.num_media_events_long }},
        coalesce(first_refr.refr_medium, '') as {{ col.first_refr_medium_long }},
        coalesce(first_mkt.mkt_medium, '') as {{ col.first_mkt_medium_long }},
        {{ in_window("before_long", "campaign_islands_started_long", "campaign_islands_ended_long") }}
            as {{ col.num_engaged_campaigns_long }},

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
    left join mediums as first_refr
        on edges.domain_userid = first_refr.domain_userid
        and edges.first_refr_position = first_refr.position
        and edges.first_refr_position < edges.first_position_at_instant
    left join mediums as first_mkt
        on edges.domain_userid = first_mkt.domain_userid
        and edges.first_mkt_position = first_mkt.position
        and edges.first_mkt_position < edges.first_position_at_instant
)

select * from final
order by derived_tstamp, event_id
