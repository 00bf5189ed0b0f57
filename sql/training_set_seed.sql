-- Training set, tutorial formulation: every event joined to its user's other events.
-- One row per eligible event: identifiers, features as of that event, and the target.
-- Cost grows with the square of each user's event count; see training_set_fast.sql.
with

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

        coalesce(er.app_id, '') as {{ col.latest_app_id }},
        {{ iso_day_of_week("er.derived_tstamp") }} as {{ col.day_of_week }},
        coalesce({{ device_class("er.contexts_nl_basjes_yauaa_context_1") }}, '') as {{ col.latest_device_class }},

        count(distinct case when {{ in_short }} then eh.domain_sessionid end) as {{ col.num_sessions_short }},
        count(distinct case when {{ in_short }} then eh.app_id end) as {{ col.num_apps_short }},
        count(case when {{ in_short }} and eh.event_name = 'page_view' then 1 end) as {{ col.num_page_views_short }},
        count(case when {{ in_short }} and eh.event_name = 'page_ping' then 1 end) as {{ col.num_page_pings_short }},
        count(case when {{ in_short }} and eh.event_name = 'page_view'
            and eh.page_url like {{ bind("pricing_url_pattern") }} then 1 end) as {{ col.num_pricing_views_short }},
        count(case when {{ in_short }} and eh.event_name = 'submit_form' then 1 end) > 0 as {{ col.had_conversions_short }},
        count(case when {{ in_short }} and eh.event_name in ('focus_form', 'change_form') then 1 end)
            as {{ col.num_form_engagements_short }},

        count(distinct eh.domain_sessionid) as {{ col.num_sessions_long }},
        count(distinct eh.app_id) as {{ col.num_apps_long }},
        count(case when eh.event_name = 'page_view' then 1 end) as {{ col.num_page_views_long }},
        count(case when eh.event_name = 'page_ping' then 1 end) as {{ col.num_page_pings_long }},
        count(case when eh.event_name = 'page_view'
            and eh.page_url like {{ bind("pricing_url_pattern") }} then 1 end) as {{ col.num_pricing_views_long }},
        count(case when eh.event_name = 'submit_form' then 1 end) > 0 as {{ col.had_conversions_long }},
        count(eh.contexts_com_snowplowanalytics_snowplow_media_player_2) as {{ col.num_media_events_long }},
        -- earliest event in the window that has a value: an explicit null-skipping min_by, the same in both dialects
        coalesce(min_by(eh.refr_medium, case when eh.refr_medium is not null then eh.derived_tstamp end), '')
            as {{ col.first_refr_medium_long }},
        coalesce(min_by(eh.mkt_medium, case when eh.mkt_medium is not null then eh.derived_tstamp end), '')
            as {{ col.first_mkt_medium_long }},
        count(distinct eh.mkt_campaign) as {{ col.num_engaged_campaigns_long }}
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

select * from final
order by derived_tstamp, event_id
