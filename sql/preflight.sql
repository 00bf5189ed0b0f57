-- Preflight: what the training-set query would scan and return, at the cost of one pass of counts.
-- The cohort logic mirrors training_set_seed.sql (lookback scan, first seen on the chosen apps).
with

events_in_lookback as (
    select domain_userid, domain_sessionid, app_id, event_name, derived_tstamp
    from {{ events_table }}
    where derived_tstamp >= {{ days_before_as_of(spec.lookback_days) }}
        and derived_tstamp < {{ end_of_as_of_day }}
),

eligible_users as (
    select domain_userid
    from events_in_lookback
    where domain_userid is not null
        and app_id in ({{ bind_list("app_ids") }})
    group by domain_userid
    having min(derived_tstamp) between {{ days_before_as_of(spec.cohort_first_seen_from_days) }}
        and {{ days_before_as_of(spec.cohort_first_seen_to_days) }}
),

training_events_per_user as (
    select domain_userid, count(*) as events
    from events_in_lookback
    where domain_userid in (select domain_userid from eligible_users)
        and domain_sessionid is not null
        and {{ not_in("event_name", "excluded_events") }}
    group by domain_userid
),

lookback as (
    select
        count(*) as events_in_lookback,
        count(distinct domain_userid) as users_in_lookback
    from events_in_lookback
),

training as (
    select
        count(*) as eligible_users,
        coalesce(sum(events), 0) as training_rows,
        -- the seed formulation joins each user's events with each other: its work grows with this
        coalesce(sum(events * events), 0) as self_join_pairs,
        coalesce(max(events), 0) as largest_user_events
    from training_events_per_user
),

final as (
    select
        cast(lookback.events_in_lookback as bigint) as events_in_lookback,
        cast(lookback.users_in_lookback as bigint) as users_in_lookback,
        cast(training.eligible_users as bigint) as eligible_users,
        cast(training.training_rows as bigint) as training_rows,
        cast(training.self_join_pairs as bigint) as self_join_pairs,
        cast(training.largest_user_events as bigint) as largest_user_events
    from lookback
    cross join training
)

select * from final
