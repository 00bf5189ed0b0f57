-- Training set, DuckDB window formulation: the same rows as training_set_seed.sql from framed
-- aggregates over each user's timeline, one sort per user and no join between events.
--
-- Why it is exact: the seed keeps an earlier event when `datediff('second', earlier, event) <= N`,
-- i.e. when it is at or after this event's second minus N seconds. DuckDB accepts a per-row RANGE
-- offset, so each frame starts at `date_trunc('second', ts) - N seconds` and ends one microsecond
-- before the event (TIMESTAMP ticks in microseconds), which leaves out events at the same instant.
-- The target frame mirrors it: from one microsecond after the event to the end of its second + N.
-- `count(distinct ...)` over a RANGE frame is DuckDB-only; Snowflake runs training_set_fast.sql.
with

{% include "training_events.sql" %},

-- Per-event values, computed once and narrow: the window operator never carries JSON or URLs.
per_event as (
    select
        event_id,
        domain_userid,
        derived_tstamp,
        domain_sessionid,
        app_id,
        mkt_campaign,
        refr_medium,
        mkt_medium,
        coalesce(app_id, '') as {{ col.latest_app_id }},
        {{ iso_day_of_week("derived_tstamp") }} as {{ col.day_of_week }},
        coalesce({{ device_class("contexts_nl_basjes_yauaa_context_1") }}, '') as {{ col.latest_device_class }},
        event_name = 'page_view' as is_page_view,
        event_name = 'page_ping' as is_page_ping,
        event_name = 'page_view' and coalesce(page_url like {{ bind("pricing_url_pattern") }}, false) as is_pricing_view,
        event_name = 'submit_form' as is_conversion,
        event_name in ('focus_form', 'change_form') as is_form_engagement,
        contexts_com_snowplowanalytics_snowplow_media_player_2 is not null as is_media_event,
        event_name = {{ bind("target_event") }} as is_target,
        -- frame reaches, per row: back to the first second of each history window, ahead to the
        -- last microsecond of the target window
        derived_tstamp - (date_trunc('second', derived_tstamp) - interval {{ short_window_seconds }} second) as short_reach,
        derived_tstamp - (date_trunc('second', derived_tstamp) - interval {{ long_window_seconds }} second) as long_reach,
        (date_trunc('second', derived_tstamp) + interval {{ target_window_seconds + 1 }} second - interval 1 microsecond)
            - derived_tstamp as target_reach
    from events
),

features as (
    select
        event_id,
        domain_userid,
        derived_tstamp,
        {{ col.latest_app_id }},
        {{ col.day_of_week }},
        {{ col.latest_device_class }},

        count(distinct domain_sessionid) over short_history as {{ col.num_sessions_short }},
        count(distinct app_id) over short_history as {{ col.num_apps_short }},
        count(*) filter (where is_page_view) over short_history as {{ col.num_page_views_short }},
        count(*) filter (where is_page_ping) over short_history as {{ col.num_page_pings_short }},
        count(*) filter (where is_pricing_view) over short_history as {{ col.num_pricing_views_short }},
        count(*) filter (where is_conversion) over short_history > 0 as {{ col.had_conversions_short }},
        count(*) filter (where is_form_engagement) over short_history as {{ col.num_form_engagements_short }},

        count(distinct domain_sessionid) over long_history as {{ col.num_sessions_long }},
        count(distinct app_id) over long_history as {{ col.num_apps_long }},
        count(*) filter (where is_page_view) over long_history as {{ col.num_page_views_long }},
        count(*) filter (where is_page_ping) over long_history as {{ col.num_page_pings_long }},
        count(*) filter (where is_pricing_view) over long_history as {{ col.num_pricing_views_long }},
        count(*) filter (where is_conversion) over long_history > 0 as {{ col.had_conversions_long }},
        count(*) filter (where is_media_event) over long_history as {{ col.num_media_events_long }},
        coalesce(min_by(refr_medium, case when refr_medium is not null then derived_tstamp end) over long_history, '')
            as {{ col.first_refr_medium_long }},
        coalesce(min_by(mkt_medium, case when mkt_medium is not null then derived_tstamp end) over long_history, '')
            as {{ col.first_mkt_medium_long }},
        count(distinct mkt_campaign) over long_history as {{ col.num_engaged_campaigns_long }},

        count(*) filter (where is_target) over target_ahead >= {{ spec.target_min_count }} as {{ target_column }}
    from per_event
    window
        user_timeline as (partition by domain_userid order by derived_tstamp),
        short_history as (user_timeline range between short_reach preceding and interval 1 microsecond preceding),
        long_history as (user_timeline range between long_reach preceding and interval 1 microsecond preceding),
        target_ahead as (user_timeline range between interval 1 microsecond following and target_reach following)
),

final as (
    select * from features
)

select * from final
order by derived_tstamp, event_id
