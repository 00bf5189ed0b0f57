-- Training set, DuckDB window formulation: the same rows as training_set_seed.sql from framed
-- aggregates over each user's timeline, one sort per user and no join between events.
--
-- Why it is exact: the seed keeps an earlier event when `datediff('second', earlier, event) <= N`,
-- i.e. when it is at or after this event's second minus N seconds. DuckDB accepts a per-row RANGE
-- offset, so each history frame starts at `date_trunc('second', ts) - N seconds` and ends one
-- microsecond before the event (TIMESTAMP ticks in microseconds), which leaves out events at the
-- same instant. The target frame mirrors it: from one microsecond after the event to the last
-- microsecond of its second + N. Per-row offsets are DuckDB-only; Snowflake runs training_set_fast.sql.
--
-- Why it is fast: every framed aggregate costs DuckDB a segment tree, so counters that share a frame
-- are packed into 32-bit lanes of one HUGEINT sum (exact while a user has fewer than 2^31 events in
-- a window) and read back with shifts. Distinct counts use value islands (see training_set_fast.sql:
-- a value is in the window when one of its islands started before the event and did not end before
-- the window's first second), which is cheaper here than `count(distinct) over` a frame.
{%- set lanes = {
    "short": ["page_view", "page_ping", "pricing_view", "conversion"],
    "long": ["page_view", "page_ping", "pricing_view", "conversion"],
    "started": ["session_short", "app_short", "session_long", "app_long"],
    "ended_short": ["session_short", "app_short"],
    "ended_long": ["session_long", "app_long", "campaign_long"],
} %}
{%- set value_columns = {"session": "domain_sessionid", "app": "app_id", "campaign": "mkt_campaign"} %}
{%- set islands = [("session", "short"), ("app", "short"), ("session", "long"), ("app", "long"), ("campaign", "long")] %}
{%- set window_seconds = {"short": short_window_seconds, "long": long_window_seconds} %}
{%- macro packed(flags, prefix) -%}
sum({% for flag in flags %}({{ prefix }}{{ flag }}::hugeint << {{ 32 * loop.index0 }}){{ " + " if not loop.last }}{% endfor %})
{%- endmacro %}
{%- macro lane(total, flags, flag) -%}
(({{ total }} >> {{ 32 * flags.index(flag) }}) & 4294967295)::bigint
{%- endmacro %}
{%- set narrow_contexts = true %}
with

{% include "training_events.sql" %},

-- Per-event values, computed once and narrow: the window operators never carry JSON or URLs.
per_event as (
    select
        event_id,
        domain_userid,
        derived_tstamp,
        date_trunc('second', derived_tstamp) as event_second,
        domain_sessionid,
        app_id,
        mkt_campaign,
        refr_medium,
        mkt_medium,
        coalesce(app_id, '') as {{ col.latest_app_id }},
        {{ iso_day_of_week("derived_tstamp") }} as {{ col.day_of_week }},
        coalesce(device_class, '') as {{ col.latest_device_class }},
        (event_name = 'page_view')::tinyint as is_page_view,
        (event_name = 'page_ping')::tinyint as is_page_ping,
        (event_name = 'page_view' and coalesce(page_url like {{ bind("pricing_url_pattern") }}, false))::tinyint
            as is_pricing_view,
        (event_name = 'submit_form')::tinyint as is_conversion,
        event_name in ('focus_form', 'change_form') as is_form_engagement,
        is_media_event,
        event_name = {{ bind("target_event") }} as is_target
    from events
),

-- The second of the same value's previous and next occurrence for the user: where islands split.
neighbours as (
    select
        *,
{%- for name, column in value_columns.items() %}
        date_trunc('second', lag(derived_tstamp) over (partition by domain_userid, {{ column }} order by derived_tstamp))
            as previous_{{ name }}_second,
        date_trunc('second', lead(derived_tstamp) over (partition by domain_userid, {{ column }} order by derived_tstamp))
            as next_{{ name }}_second
            {{- "," if not loop.last }}
{%- endfor %}
    from per_event
),

island_edges as (
    select
        *,
{%- for name, window in islands %}
{%- set column = value_columns[name] %}
        ({{ column }} is not null and (previous_{{ name }}_second is null
            or previous_{{ name }}_second < event_second - interval {{ window_seconds[window] }} second))::tinyint
            as starts_{{ name }}_{{ window }},
        ({{ column }} is not null and (next_{{ name }}_second is null
            or next_{{ name }}_second > event_second + interval {{ window_seconds[window] }} second))::tinyint
            as ends_{{ name }}_{{ window }},
{%- endfor %}
        -- frame reaches, per row: back to the first second of each window, ahead to the last
        -- microsecond of the target window
        derived_tstamp - (event_second - interval {{ short_window_seconds }} second) as short_reach,
        derived_tstamp - (event_second - interval {{ long_window_seconds }} second) as long_reach,
        (event_second + interval {{ target_window_seconds + 1 }} second - interval 1 microsecond) - derived_tstamp
            as target_reach
    from neighbours
),

window_totals as (
    select
        event_id,
        domain_userid,
        derived_tstamp,
        {{ col.latest_app_id }},
        {{ col.day_of_week }},
        {{ col.latest_device_class }},
        {{ packed(lanes.short, "is_") }} over short_history as short_counts,
        count(*) filter (where is_form_engagement) over short_history as form_engagements_short,
        {{ packed(lanes.long, "is_") }} over long_history as long_counts,
        count(*) filter (where is_media_event) over long_history as media_events_long,
        {{ packed(lanes.started, "starts_") }} over earlier as islands_started,
        count(*) filter (where starts_campaign_long = 1) over earlier as campaign_islands_started,
        {{ packed(lanes.ended_short, "ends_") }} over before_short as islands_ended_short,
        {{ packed(lanes.ended_long, "ends_") }} over before_long as islands_ended_long,
        min_by(refr_medium, case when refr_medium is not null then derived_tstamp end) over long_history as first_refr_medium,
        min_by(mkt_medium, case when mkt_medium is not null then derived_tstamp end) over long_history as first_mkt_medium,
        count(*) filter (where is_target) over target_ahead as target_events_ahead
    from island_edges
    window
        user_timeline as (partition by domain_userid order by derived_tstamp),
        earlier as (user_timeline range between unbounded preceding and interval 1 microsecond preceding),
        short_history as (user_timeline range between short_reach preceding and interval 1 microsecond preceding),
        long_history as (user_timeline range between long_reach preceding and interval 1 microsecond preceding),
        before_short as (user_timeline range between unbounded preceding and short_reach + interval 1 microsecond preceding),
        before_long as (user_timeline range between unbounded preceding and long_reach + interval 1 microsecond preceding),
        target_ahead as (user_timeline range between interval 1 microsecond following and target_reach following)
),

final as (
    select
        event_id,
        domain_userid,
        derived_tstamp,
        {{ col.latest_app_id }},
        {{ col.day_of_week }},
        {{ col.latest_device_class }},

        {{ lane("coalesce(islands_started, 0)", lanes.started, "session_short") }} - {{ lane("coalesce(islands_ended_short, 0)", lanes.ended_short, "session_short") }}
            as {{ col.num_sessions_short }},
        {{ lane("coalesce(islands_started, 0)", lanes.started, "app_short") }} - {{ lane("coalesce(islands_ended_short, 0)", lanes.ended_short, "app_short") }}
            as {{ col.num_apps_short }},
        {{ lane("coalesce(short_counts, 0)", lanes.short, "page_view") }} as {{ col.num_page_views_short }},
        {{ lane("coalesce(short_counts, 0)", lanes.short, "page_ping") }} as {{ col.num_page_pings_short }},
        {{ lane("coalesce(short_counts, 0)", lanes.short, "pricing_view") }} as {{ col.num_pricing_views_short }},
        {{ lane("coalesce(short_counts, 0)", lanes.short, "conversion") }} > 0 as {{ col.had_conversions_short }},
        form_engagements_short as {{ col.num_form_engagements_short }},

        {{ lane("coalesce(islands_started, 0)", lanes.started, "session_long") }} - {{ lane("coalesce(islands_ended_long, 0)", lanes.ended_long, "session_long") }}
            as {{ col.num_sessions_long }},
        {{ lane("coalesce(islands_started, 0)", lanes.started, "app_long") }} - {{ lane("coalesce(islands_ended_long, 0)", lanes.ended_long, "app_long") }}
            as {{ col.num_apps_long }},
        {{ lane("coalesce(long_counts, 0)", lanes.long, "page_view") }} as {{ col.num_page_views_long }},
        {{ lane("coalesce(long_counts, 0)", lanes.long, "page_ping") }} as {{ col.num_page_pings_long }},
        {{ lane("coalesce(long_counts, 0)", lanes.long, "pricing_view") }} as {{ col.num_pricing_views_long }},
        {{ lane("coalesce(long_counts, 0)", lanes.long, "conversion") }} > 0 as {{ col.had_conversions_long }},
        media_events_long as {{ col.num_media_events_long }},
        coalesce(first_refr_medium, '') as {{ col.first_refr_medium_long }},
        coalesce(first_mkt_medium, '') as {{ col.first_mkt_medium_long }},
        campaign_islands_started - {{ lane("coalesce(islands_ended_long, 0)", lanes.ended_long, "campaign_long") }}
            as {{ col.num_engaged_campaigns_long }},

        target_events_ahead >= {{ spec.target_min_count }} as {{ target_column }}
    from window_totals
)

select * from final
order by derived_tstamp, event_id
