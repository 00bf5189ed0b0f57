-- Preflight: what the training-set query would scan and return, at the cost of one pass of counts.
-- The cohort logic is the training set's own (training_events.sql).
{%- set counts_only = true %}
with

{% include "training_events.sql" %},

training_events_per_user as (
    select domain_userid, count(*) as events
    from cohort_events
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
