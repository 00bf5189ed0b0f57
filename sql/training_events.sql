{#- The events every formulation reads: the as-of cut-off, the lookback scan, the cohort and the
    event filters. Included by each training_set_*.sql inside its `with`, so this logic lives once. -#}
events_in_lookback as {{ cte_hint }}(
    -- only the columns the features read: atomic.events has over a hundred. Two CTEs read this one;
    -- `cte_hint` renders `not materialized` on DuckDB, which otherwise materialises the whole scan
    -- (JSON included) to share it, and nothing on Snowflake.
    select
        event_id,
        app_id,
        event_name,
        derived_tstamp,
        domain_userid,
        domain_sessionid,
        page_url,
        refr_medium,
        mkt_medium,
        mkt_campaign,
{%- if narrow_contexts is defined and narrow_contexts %}
        -- the two JSON contexts as narrow columns at once, so no later step carries JSON
        {{ device_class("contexts_nl_basjes_yauaa_context_1") }} as device_class,
        contexts_com_snowplowanalytics_snowplow_media_player_2 is not null as is_media_event
{%- else %}
        contexts_nl_basjes_yauaa_context_1,
        contexts_com_snowplowanalytics_snowplow_media_player_2
{%- endif %}
    from {{ events_table }}
    where derived_tstamp >= {{ days_before_as_of(spec.lookback_days) }}
        and derived_tstamp < {{ end_of_as_of_day }}
),

-- Users first seen in the cohort window, on the chosen apps (first seen = within the scan above).
eligible_users as (
    select
        domain_userid,
        min(derived_tstamp) as first_seen
    from events_in_lookback
    where domain_userid is not null
        and app_id in ({{ bind_list("app_ids") }})
{%- if spec.user_sample_percent < 100 %}
        -- a deterministic sample of {{ spec.user_sample_percent }} users in 100, by a hash both dialects compute
        -- alike (no percent sign in this comment: the connector would read it as a placeholder)
        and {{ in_user_sample("domain_userid", spec.user_sample_percent) }}
{%- endif %}
    group by domain_userid
    having min(derived_tstamp) between {{ days_before_as_of(spec.cohort_first_seen_from_days) }}
        and {{ days_before_as_of(spec.cohort_first_seen_to_days) }}
),

events as (
    select *
    from events_in_lookback
    where domain_userid in (select domain_userid from eligible_users)
        and domain_sessionid is not null
        and event_id is not null
        and {{ not_in("event_name", "excluded_events") }}
    -- Snowplow delivers at least once: an event_id seen twice is one event, its earliest copy
    qualify row_number() over (
        partition by event_id order by derived_tstamp, domain_userid, domain_sessionid, event_name
    ) = 1
)