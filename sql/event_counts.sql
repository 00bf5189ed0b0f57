-- Events per name in the spec's lookback scan: what a user can pick as a target.
with

events_in_lookback as (
    select event_name, app_id
    from {{ events_table }}
    where derived_tstamp >= {{ days_before_as_of(spec.lookback_days) }}
        and derived_tstamp < {{ end_of_as_of_day }}
),

final as (
    select
        event_name,
        count(*) as events
    from events_in_lookback
    where event_name is not null
    group by event_name
)

select * from final
order by events desc, event_name
limit {{ names_shown }}
