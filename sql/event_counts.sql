-- Events per identity (vendor, name, version) in the spec's lookback scan: what a user can pick as a
-- target, and the identities custom attributes' events take. A source without event_vendor or
-- event_version reads them as NULL (`events_source`), so its events are counted by name alone.
with

events_in_lookback as (
    select event_vendor, event_name, event_version
    from {{ events_source }}
    where derived_tstamp >= {{ days_before_as_of(spec.lookback_days) }}
        and derived_tstamp < {{ end_of_as_of_day }}
),

final as (
    select
        event_vendor,
        event_name,
        event_version,
        count(*) as events
    from events_in_lookback
    where event_name is not null
    group by event_vendor, event_name, event_version
)

select * from final
order by events desc, event_name, event_vendor, event_version
limit {{ names_shown }}
