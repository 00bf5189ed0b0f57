{#- The events every formulation reads: the as-of cut-off, the lookback scan, the cohort and the
    event filters. Included by each training_set_*.sql inside its `with`, so this logic lives once.
    Options a template may set before including it (all off by default):
    - narrow_scan: instead of the raw columns the attributes read (`plan.raw_columns`: URLs, JSON
      contexts, ...), the scan computes what the features need from them at once, so no later step
      carries them: each value column (`row_values`: device class, filtered values) and, for each
      counter with criteria or identified events (`plan.matched_in_scan`), `matches_<name>`, whether
      the event counts for it;
    - counts_only: the scan reads only the six columns every query needs, none an attribute reads (for
      the preflight's counts and the target explorer);
    - with_first_targets: the training-set templates set it; with the spec's
      exclude_after_first_target it adds `first_targets` (each user's first target event);
    - numbered_users: each cohort user gets a `user_number` (an integer to partition by, cheaper
      to sort and carry than the user id string), joined onto `cohort_events`, and `lookback_events`, the
      count of all its events in the scan.
    It defines `cohort_events`, the rows (prediction points), and `history`, the events attributes read,
    each with `is_row`: the rows themselves, plus (`plan.extra_history`) the cohort's other events
    the spec's feature timing sees: in signals timing every event of the prospect with no session,
    app or event-name filter, and with a lifetime window the events before the lookback. -#}
{%- set narrow_scan = narrow_scan | default(false) %}
{%- set counts_only = counts_only | default(false) %}
{%- set numbered_users = numbered_users | default(false) %}
{%- set wide_scan = plan.scan_days != spec.lookback_days %}
{%- set lookback_start = days_before_as_of(spec.lookback_days) %}
events_in_lookback as {{ cte_hint }}(
    -- only the columns the features read: atomic.events has over a hundred. Two CTEs read this one;
    -- `cte_hint` renders `not materialized` on DuckDB, which otherwise materialises the whole scan
    -- (JSON included) to share it, and nothing on Snowflake.
{%- set scanned = [] %}
{%- if not counts_only and narrow_scan %}
{%- for expression, alias in row_values(plan) %}{% set _ = scanned.append(expression ~ ((" as " ~ alias) if expression != alias else "")) %}{% endfor %}
{%- for attribute in plan.counters if plan.matched_in_scan(attribute) %}{% set _ = scanned.append("coalesce(" ~ match(attribute) ~ ", false) as matches_" ~ attribute.name) %}{% endfor %}
{%- elif not counts_only %}
{%- for column in plan.raw_columns %}{% set _ = scanned.append(column) %}{% endfor %}
{%- endif %}
    select
        event_id,
        app_id,
        event_name,
        derived_tstamp,
        domain_userid,
        domain_sessionid
{%- for item in scanned %},
        {{ item }}
{%- endfor %}
    from {{ events_source }}
{%- if plan.scan_days is none %}
    -- a lifetime window reads every earlier event the table holds: no lower bound (the cohort's
    -- prospects only, below)
    where derived_tstamp < {{ end_of_as_of_day }}
{%- else %}
{%- if wide_scan %}
    -- the lookback, widened by the longest window: signals timing reads each window in full
{%- endif %}
    where derived_tstamp >= {{ days_before_as_of(plan.scan_days) }}
        and derived_tstamp < {{ end_of_as_of_day }}
{%- if collector_tstamp_from %}
        -- Prunes by load order, keeping every row the derived_tstamp bounds keep: derived_tstamp is
        -- collector_tstamp less the device's send delay (sent minus created), so it precedes it (by days
        -- for an event queued offline) and follows it only when the device clock went back between
        -- creating and sending, by less than the margin (collector_tstamp_margin_days). No upper bound.
        and collector_tstamp >= {{ collector_tstamp_from }}
{%- endif %}
{%- endif %}
),

-- Users first seen in the cohort window, on the chosen apps (first seen = within the scan above).
eligible_users as (
    select
        domain_userid,
{%- if numbered_users %}
        row_number() over () as user_number,
        -- all the user's events in the scan: no count the features take can exceed it
        count(*) as lookback_events,
        min(derived_tstamp) filter (where app_id in ({{ bind_list("app_ids") }})
            {%- if wide_scan %} and derived_tstamp >= {{ lookback_start }}{% endif %}) as first_seen
    from events_in_lookback
    where domain_userid is not null
{%- else %}
        min(derived_tstamp) as first_seen
    from events_in_lookback
    where domain_userid is not null
        and app_id in ({{ bind_list("app_ids") }})
{%- if wide_scan %}
        -- the cohort is who was first seen in the lookback, as without the wider scan
        and derived_tstamp >= {{ lookback_start }}
{%- endif %}
{%- endif %}
{%- if spec.user_sample_percent < 100 %}
        -- a deterministic sample of {{ spec.user_sample_percent }} users in 100, by a hash both dialects compute
        -- alike (no percent sign in this comment: the connector would read it as a placeholder)
        and {{ in_user_sample("domain_userid", spec.user_sample_percent) }}
{%- endif %}
    group by domain_userid
    having {{ "first_seen" if numbered_users else "min(derived_tstamp)" }}
        between {{ days_before_as_of(spec.cohort_first_seen_from_days) }}
        and {{ days_before_as_of(spec.cohort_first_seen_to_days) }}
),

{#- Snowplow delivers at least once: an event_id seen twice is one event, its earliest copy. A dialect
    without `qualify` (Spark) numbers the copies inside a nested select and keeps the first outside. #}
{%- macro first_copy() %}row_number() over (partition by event_id order by derived_tstamp, events_in_lookback.domain_userid, domain_sessionid, event_name){% endmacro %}
{%- macro copies_open() %}{% if not has_qualify %}
    select * from ({% endif %}{% endmacro %}
{%- macro copy_number() %}{{ (", " ~ first_copy() ~ " as copy_number") if not has_qualify }}{% endmacro %}
{%- macro first_copy_only() %}{% if has_qualify %}
    qualify {{ first_copy() }} = 1{% else %}
    ) as copies
    where copy_number = 1{% endif %}{% endmacro %}
{#- The spec's event filters: the rows' events, and in tutorial timing every event the history reads. #}
{%- macro event_filters() -%}
{{ not_in("event_name", "excluded_events") }}
        and {{ in_list_or_all("event_name", "included_events") }}
{%- if spec.count_only_cohort_apps %}
        and app_id in ({{ bind_list("app_ids") }})
{%- endif %}
{%- endmacro %}
cohort_events as ({{ copies_open() }}
{%- if numbered_users %}
    select events_in_lookback.*, eligible_users.user_number{{ copy_number() }}
    from events_in_lookback
    inner join eligible_users on events_in_lookback.domain_userid = eligible_users.domain_userid
    where domain_sessionid is not null
{%- else %}
    select *{{ copy_number() }}
    from events_in_lookback
    where domain_userid in (select domain_userid from eligible_users)
        and domain_sessionid is not null
{%- endif %}
        and event_id is not null
        and {{ event_filters() }}
{%- if wide_scan %}
        and derived_tstamp >= {{ lookback_start }}
{%- endif %}{{ first_copy_only() }}
),
{%- if plan.extra_history %}

-- What attributes read besides the rows, each event once (its earliest copy; an event that is a row
-- is read as that row): {{ "in signals timing every event of the prospect, as Signals sees it, unfiltered by session, app or event-name lists" if plan.timing == "signals" else "the same filters as the rows, before the lookback (a lifetime window)" }}.
history_only as ({{ copies_open() }}
    select events_in_lookback.*{{ ", eligible_users.user_number" if numbered_users }}{{ copy_number() }}
    from events_in_lookback
    inner join eligible_users on events_in_lookback.domain_userid = eligible_users.domain_userid
    where event_id is not null
{%- if plan.timing != "signals" %}
        and domain_sessionid is not null
        and {{ event_filters() }}
{%- endif %}
        and event_id not in (select event_id from cohort_events){{ first_copy_only() }}
),
{%- endif %}

history as (
    select *, true as is_row from cohort_events
{%- if plan.extra_history %}
    union all
    select *, false as is_row from history_only
{%- endif %}
)
{%- if spec.exclude_after_first_target and with_first_targets | default(false) %},

-- Each prospect's first target event in the scan: rows at or after it are left out (the spec's
-- exclude_after_first_target), by training_rows.sql at the end of each template.
first_targets as (
    select domain_userid, min(derived_tstamp) as first_target_at
    from cohort_events
    where event_name = {{ bind("target_event") }}
    group by domain_userid
)
{%- endif %}
