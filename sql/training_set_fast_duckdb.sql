-- Training set, DuckDB window formulation: the same rows as training_set_seed.sql from framed
-- aggregates over each user's timeline, one sort per user and no join between events.
--
-- Why it is exact: the seed keeps an earlier event when `datediff('second', earlier, event) <= N`,
-- i.e. when it is at or after this event's second minus N seconds. DuckDB accepts a per-row RANGE
-- offset, so each history frame starts at `date_trunc('second', ts) - N seconds` and ends one
-- microsecond before the event (TIMESTAMP ticks in microseconds), which leaves out events at the
-- same instant. The target frame mirrors it: from one microsecond after the event to the last
-- microsecond of its second + N. Per-row offsets are DuckDB-only; Snowflake runs training_set_fast.sql.
-- Distinct counts use value islands (see training_set_fast.sql): a value is in the window when one
-- of its islands started before the event and did not end before the window's first second.
--
-- Why it is fast: DuckDB builds a segment tree per framed aggregate, so the counters that share a
-- frame are packed into {{ lane_bits }}-bit lanes of one HUGEINT sum and read back with shifts (five
-- counters a sum, eight aggregates in all). A lane is exact while it stays below 2^{{ lane_bits }};
-- a lane never counts more than its user's events, so the query stops with an error for a user with
-- that many events rather than return wrong counts. Every pass before the long window carries narrow
-- columns: a user number instead of the id, the event's kinds and island edges as bits.
{%- set sums = {
    "short_counts": ("short_history", ["is_page_view", "is_page_ping", "is_pricing_view", "is_conversion",
        "is_form_engagement"]),
    "long_counts": ("long_history", ["is_page_view", "is_page_ping", "is_pricing_view", "is_conversion",
        "is_media_event"]),
    "islands_started": ("earlier", ["starts_session_short", "starts_app_short", "starts_session_long",
        "starts_app_long", "starts_campaign_long"]),
    "islands_ended_short": ("before_short", ["ends_session_short", "ends_app_short"]),
    "islands_ended_long": ("before_long", ["ends_session_long", "ends_app_long", "ends_campaign_long"]),
} %}
{%- set kind_bits = ["page_view", "page_ping", "pricing_view", "conversion", "form_engagement", "media_event", "target"] %}
{%- set edge_bits = [
    "starts_session_short", "ends_session_short", "starts_session_long", "ends_session_long",
    "starts_app_short", "ends_app_short", "starts_app_long", "ends_app_long",
    "starts_campaign_long", "ends_campaign_long",
] %}
{%- set window_seconds = {"short": short_window_seconds, "long": long_window_seconds} %}
{%- macro lane(total, flag) -%}
((coalesce({{ total }}, 0) >> {{ lane_bits * sums[total][1].index(flag) }}) & {{ 2 ** lane_bits - 1 }})::bigint
{%- endmacro %}
{#- The island edges of one value column, as bits added to `edges`: an occurrence starts an island
    when the value's previous occurrence is more than N seconds (boundaries) back, ends one when the
    next is more than N ahead. #}
{%- macro island_edges(name, column, windows) -%}
{%- for window in windows %}
{%- for edge, neighbour, beyond in [("starts", "lag", "<"), ("ends", "lead", ">")] %}
            + (({{ column }} is not null and ({{ neighbour }}(derived_tstamp) over same_{{ name }} is null
                or date_trunc('second', {{ neighbour }}(derived_tstamp) over same_{{ name }})
                    {{ beyond }} date_trunc('second', derived_tstamp) {{ "-" if edge == "starts" else "+" }} interval {{ window_seconds[window] }} second)
            )::integer << {{ edge_bits.index(edge ~ "_" ~ name ~ "_" ~ window) }})
{%- endfor %}
{%- endfor %}
{%- endmacro %}
{%- set narrow_contexts = true %}
{%- set narrow_urls = true %}
{%- set numbered_users = true %}
with

{% include "training_events.sql" %},

-- Per event, what the windows need and nothing wider: the kinds of event it counts as, as bits.
per_event as (
    select
        event_id,
        user_number,
        derived_tstamp,
        domain_sessionid,
        app_id,
        mkt_campaign,
        refr_medium,
        mkt_medium,
        device_class,
        ((event_name = 'page_view')::integer << {{ kind_bits.index("page_view") }})
            + ((event_name = 'page_ping')::integer << {{ kind_bits.index("page_ping") }})
            + (is_pricing_page_view::integer << {{ kind_bits.index("pricing_view") }})
            + ((event_name = 'submit_form')::integer << {{ kind_bits.index("conversion") }})
            + ((event_name in ('focus_form', 'change_form'))::integer << {{ kind_bits.index("form_engagement") }})
            + (is_media_event::integer << {{ kind_bits.index("media_event") }})
            + ((event_name = {{ bind("target_event") }})::integer << {{ kind_bits.index("target") }}) as kinds
    from events
),

-- Island edges, one pass (one sort) per value column; each drops its column once it is done with it.
session_edges as (
    select
        * exclude (domain_sessionid),
        0 {{- island_edges("session", "domain_sessionid", ["short", "long"]) }} as edges
    from per_event
    window same_session as (partition by user_number, domain_sessionid order by derived_tstamp)
),

app_edges as (
    select
        * replace (edges {{- island_edges("app", "app_id", ["short", "long"]) }} as edges)
    from session_edges
    window same_app as (partition by user_number, app_id order by derived_tstamp)
),

campaign_edges as (
    select
        * exclude (mkt_campaign) replace (edges {{- island_edges("campaign", "mkt_campaign", ["long"]) }} as edges)
    from app_edges
    window same_campaign as (partition by user_number, mkt_campaign order by derived_tstamp)
),

-- The bits as flags, and each row's frame reaches: back to the first second of each window, ahead
-- to the last microsecond of the target window.
timeline as (
    select
        * exclude (kinds, edges),
{%- for kind in kind_bits %}
        ((kinds >> {{ loop.index0 }}) & 1)::tinyint as is_{{ kind }},
{%- endfor %}
{%- for edge in edge_bits %}
        ((edges >> {{ loop.index0 }}) & 1)::tinyint as {{ edge }},
{%- endfor %}
        derived_tstamp - (date_trunc('second', derived_tstamp) - interval {{ short_window_seconds }} second) as short_reach,
        derived_tstamp - (date_trunc('second', derived_tstamp) - interval {{ long_window_seconds }} second) as long_reach,
        (date_trunc('second', derived_tstamp) + interval {{ target_window_seconds + 1 }} second - interval 1 microsecond)
            - derived_tstamp as target_reach
    from campaign_edges
),

window_totals as (
    select
        event_id,
        user_number,
        derived_tstamp,
        app_id,
        device_class,
{%- for name, (frame, flags) in sums.items() %}
        sum(
            {%- for flag in flags %}({{ flag }}::hugeint << {{ lane_bits * loop.index0 }}){{ " + " if not loop.last }}{% endfor -%}
        ) over {{ frame }} as {{ name }},
{%- endfor %}
        min_by(refr_medium, case when refr_medium is not null then derived_tstamp end) over long_history as first_refr_medium,
        min_by(mkt_medium, case when mkt_medium is not null then derived_tstamp end) over long_history as first_mkt_medium,
        sum(is_target) over target_ahead as target_events_ahead
    from timeline
    window
        user_timeline as (partition by user_number order by derived_tstamp),
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
        eligible_users.domain_userid,
        derived_tstamp,
        coalesce(app_id, '') as {{ col.latest_app_id }},
        {{ iso_day_of_week("derived_tstamp") }} as {{ col.day_of_week }},
        coalesce(device_class, '') as {{ col.latest_device_class }},

        {{ lane("islands_started", "starts_session_short") }} - {{ lane("islands_ended_short", "ends_session_short") }}
            as {{ col.num_sessions_short }},
        {{ lane("islands_started", "starts_app_short") }} - {{ lane("islands_ended_short", "ends_app_short") }}
            as {{ col.num_apps_short }},
        {{ lane("short_counts", "is_page_view") }} as {{ col.num_page_views_short }},
        {{ lane("short_counts", "is_page_ping") }} as {{ col.num_page_pings_short }},
        {{ lane("short_counts", "is_pricing_view") }} as {{ col.num_pricing_views_short }},
        {{ lane("short_counts", "is_conversion") }} > 0 as {{ col.had_conversions_short }},
        {{ lane("short_counts", "is_form_engagement") }} as {{ col.num_form_engagements_short }},

        {{ lane("islands_started", "starts_session_long") }} - {{ lane("islands_ended_long", "ends_session_long") }}
            as {{ col.num_sessions_long }},
        {{ lane("islands_started", "starts_app_long") }} - {{ lane("islands_ended_long", "ends_app_long") }}
            as {{ col.num_apps_long }},
        {{ lane("long_counts", "is_page_view") }} as {{ col.num_page_views_long }},
        {{ lane("long_counts", "is_page_ping") }} as {{ col.num_page_pings_long }},
        {{ lane("long_counts", "is_pricing_view") }} as {{ col.num_pricing_views_long }},
        {{ lane("long_counts", "is_conversion") }} > 0 as {{ col.had_conversions_long }},
        {{ lane("long_counts", "is_media_event") }} as {{ col.num_media_events_long }},
        coalesce(first_refr_medium, '') as {{ col.first_refr_medium_long }},
        coalesce(first_mkt_medium, '') as {{ col.first_mkt_medium_long }},
        {{ lane("islands_started", "starts_campaign_long") }} - {{ lane("islands_ended_long", "ends_campaign_long") }}
            as {{ col.num_engaged_campaigns_long }},

        coalesce(target_events_ahead, 0) >= {{ spec.target_min_count }} as {{ target_column }}
    from window_totals
    inner join eligible_users on window_totals.user_number = eligible_users.user_number
    -- the lanes' bound (see the top): error() stops the query
    where eligible_users.lookback_events < {{ 2 ** lane_bits }}
        or error('user ' || eligible_users.domain_userid || ' has ' || eligible_users.lookback_events
            || ' events in the lookback, {{ lane_limit_message }} ({{ 2 ** lane_bits - 1 }}); it is most likely '
            || 'a bot: exclude it, or build with the portable formulation')
)

select * from final
order by derived_tstamp, event_id
