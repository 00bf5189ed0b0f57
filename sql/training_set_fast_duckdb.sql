-- Training set, DuckDB window formulation: the same rows as training_set_seed.sql from framed
-- aggregates over each user's timeline, one sort per user and no join between events.
--
-- Why it is exact: the seed keeps an earlier event when `datediff('second', earlier, event) <= N`,
-- i.e. when it is at or after this event's second minus N seconds. DuckDB accepts a per-row RANGE
-- offset, so each history frame starts at `date_trunc('second', ts) - N seconds` and ends one
-- microsecond before the event (TIMESTAMP ticks in microseconds), which leaves out events at the
-- same instant. The target frame mirrors it: from one microsecond after the event to the last
-- microsecond of its second + N. Per-row offsets are DuckDB-only; Snowflake runs training_set_fast.sql.
-- In signals timing a history frame runs from N seconds less one microsecond before the event to
-- the current row with its peers (every event at the same instant), a constant offset.
-- Distinct counts use value islands (see training_set_fast.sql): a value is in the window when one
-- of its islands started before the event and did not end before the window's first second.
--
-- Why it is fast: DuckDB builds a segment tree per framed aggregate, so the counters that share a
-- frame are packed into {{ lane_bits }}-bit lanes of one HUGEINT sum and read back with shifts (five
-- counters a sum; with the built-in features, eight aggregates in all). A lane is exact while it stays below 2^{{ lane_bits }};
-- a lane never counts more than its user's events, so the query stops with an error for a user with
-- that many events rather than return wrong counts. Every pass before the long window carries narrow
-- columns: a user number instead of the id, the event's kinds and island edges as bits.
{#- From the registry (`plan`): each counter (count/any attribute) is a bit of `kinds`, each
    distinct count's island edges are bits of `edges`, and the counters sharing a frame are packed
    into sums of `lanes_per_sum` lanes; first/last values are one framed aggregate each. #}
{%- set signals = plan.timing == "signals" %}
{%- set kind_bits = plan.kind_bits %}
{%- set edge_bits = plan.edge_bits %}
{%- set lane_of = plan.lane_index(lanes_per_sum) %}
{%- macro lane(frame, flag) -%}
{%- set total, index = lane_of[frame ~ ":" ~ flag] -%}
((coalesce({{ total }}, 0) >> {{ lane_bits * index }}) & {{ 2 ** lane_bits - 1 }})::bigint
{%- endmacro %}
{#- The island edges of one distinct attribute, as bits added to `edges`: an occurrence starts an
    island when the value's previous occurrence is more than N seconds (boundaries) back, ends one
    when the next is more than N ahead. #}
{%- macro island_edges(attribute) -%}
{%- set column = value_ref(attribute) %}
{%- for span in plan.spans if attribute in plan.distinct_in(span) %}
{%- set seconds = plan.span_seconds[span] %}
{%- for edge, neighbour, beyond in [("starts", "lag", "<"), ("ends", "lead", ">")] if seconds is not none or edge == "starts" %}
            + (({{ column }} is not null and ({{ neighbour }}(derived_tstamp) over same_{{ attribute.name }} is null
{%- if seconds is none %}
            {#- lifetime: one island per value, from its first occurrence #}
{%- elif signals %}
                or {{ neighbour }}(derived_tstamp) over same_{{ attribute.name }}
                    {{ beyond ~ "=" }} derived_tstamp {{ "-" if edge == "starts" else "+" }} interval {{ seconds }} second
{%- else %}
                or date_trunc('second', {{ neighbour }}(derived_tstamp) over same_{{ attribute.name }})
                    {{ beyond }} date_trunc('second', derived_tstamp) {{ "-" if edge == "starts" else "+" }} interval {{ seconds }} second
{%- endif %})
            )::{{ bit_type(edge_bits | length) }} << {{ edge_bits.index(edge ~ "_" ~ attribute.name ~ "_" ~ span) }})
{%- endfor %}
{%- endfor %}
{%- endmacro %}
{#- Value columns an event or first/last feature reads: no island pass may drop them. #}
{%- set kept_columns = [] %}
{%- for feature in plan.event + plan.values %}{% set _ = kept_columns.append(value_column(feature.attribute)) %}{% endfor %}
{%- set event_columns = [] %}
{%- for feature in plan.event %}{% set _ = event_columns.append(value_column(feature.attribute)) %}{% endfor %}
{%- set narrow_scan = true %}
{%- set numbered_users = true %}
with

{%- set with_first_targets = true %}
{% include "training_events.sql" %},

-- Per event, what the windows need and nothing wider: the kinds of event it counts as, as bits.
per_event as (
    select
        event_id,
        user_number,
        derived_tstamp,
        event_name,
        domain_sessionid,
        app_id,
        is_row,
{%- for expression, alias in row_values(plan) %}
        {{ alias }},
{%- endfor %}
{%- for attribute in plan.counters %}
        {{ "+ " if not loop.first }}(({{ ("matches_" ~ attribute.name) if plan.matched_in_scan(attribute) else (match(attribute) or "true") }})::{{ bit_type(kind_bits | length) }} << {{ loop.index0 }})
{%- endfor %}
            -- the target counts the rows' events only, as without wider history
            + ((is_row and event_name = {{ bind("target_event") }})::{{ bit_type(kind_bits | length) }} << {{ kind_bits.index("target") }}) as kinds
    from history
),

-- Island edges, one pass (one sort) per distinct attribute; each drops its value column once nothing
-- later reads it.
{%- set previous = namespace(name="per_event") %}
{%- for attribute in plan.distinct %}
{%- set column = value_column(attribute) %}
{%- set later = [] %}
{%- for other in plan.distinct[loop.index:] %}{% set _ = later.append(value_column(other)) %}{% endfor %}
{%- set drop = column not in later and column not in kept_columns %}

{{ attribute.name }}_edges as (
    select
{%- if loop.first %}
        *{{ (" exclude (" ~ column ~ ")") if drop }},
        0 {{- island_edges(attribute) }} as edges
{%- else %}
        *{{ (" exclude (" ~ column ~ ")") if drop }} replace (edges {{- island_edges(attribute) }} as edges)
{%- endif %}
    from {{ previous.name }}
    window same_{{ attribute.name }} as (partition by user_number, {{ value_ref(attribute) }} order by derived_tstamp)
),
{%- set previous.name = attribute.name ~ "_edges" %}
{%- endfor %}

-- The bits as flags, and each row's frame reaches: back to the first second of each window, ahead
-- to the last microsecond of the target window.
timeline as (
    select
        * exclude (kinds{{ ", edges" if plan.distinct }}),
{%- for kind in kind_bits %}
        ((kinds >> {{ loop.index0 }}) & 1)::tinyint as is_{{ kind }},
{%- endfor %}
{%- for edge in edge_bits %}
        ((edges >> {{ loop.index0 }}) & 1)::tinyint as {{ edge }},
{%- endfor %}
{%- if not signals %}
{%- for span in plan.bounded_spans %}
        derived_tstamp - (date_trunc('second', derived_tstamp) - interval {{ plan.span_seconds[span] }} second) as {{ span }}_reach,
{%- endfor %}
{%- endif %}
        (date_trunc('second', derived_tstamp) + interval {{ target_window_seconds + 1 }} second - interval 1 microsecond)
            - derived_tstamp as target_reach
    from {{ previous.name }}
),

window_totals as (
    select
        event_id,
        user_number,
        derived_tstamp,
        event_name,
        app_id,
        is_row,
{%- for expression, alias in row_values(plan) if alias in event_columns %}
        {{ alias }},
{%- endfor %}
{%- for name, frame, flags in plan.lane_sums(lanes_per_sum) %}
        sum(
            {%- for flag in flags %}({{ flag }}::hugeint << {{ lane_bits * loop.index0 }}){{ " + " if not loop.last }}{% endfor -%}
        ) over {{ frame }} as {{ name }},
{%- endfor %}
{%- for feature in plan.values %}
{%- set value = value_ref(feature.attribute) %}
        {{ "min_by" if feature.attribute.aggregation == "first" else "max_by" }}({{ value }}, case when {{ value }} is not null then derived_tstamp end)
            over {{ plan.span_of[feature.key] }}_history as {{ feature.key }},
{%- endfor %}
        sum(is_target) over target_ahead as target_events_ahead
    from timeline
    window
        user_timeline as (partition by user_number order by derived_tstamp),
{%- set history_end = "current row" if signals else "interval 1 microsecond preceding" %}
        earlier as (user_timeline range between unbounded preceding and {{ history_end }}),
{%- for span in plan.spans %}
{%- set seconds = plan.span_seconds[span] %}
{%- if seconds is none %}
        {{ span }}_history as (user_timeline range between unbounded preceding and {{ history_end }}),
{%- elif signals %}
        {{ span }}_history as (user_timeline range between interval {{ seconds * 1000000 - 1 }} microsecond preceding and current row),
        before_{{ span }} as (user_timeline range between unbounded preceding and interval {{ seconds }} second preceding),
{%- else %}
        {{ span }}_history as (user_timeline range between {{ span }}_reach preceding and interval 1 microsecond preceding),
        before_{{ span }} as (user_timeline range between unbounded preceding and {{ span }}_reach + interval 1 microsecond preceding),
{%- endif %}
{%- endfor %}
        target_ahead as (user_timeline range between interval 1 microsecond following and target_reach following)
),

final as (
    select
        event_id,
        eligible_users.domain_userid,
        derived_tstamp,
        event_name,
{%- for feature in plan.event %}
{%- set fallback = plan.fallbacks.get(feature.key) %}
        coalesce({{ value_ref(feature.attribute) }}, {{ (fallback.key ~ ", ") if fallback }}{{ default_literal(feature) }}) as {{ col[feature.key] }},
{%- endfor %}
{% for feature in plan.history_features %}
{%- set attribute = feature.attribute %}
{%- set span = plan.span_of[feature.key] %}
{%- if attribute.aggregation in ("count", "any") %}
        {{ lane(span ~ "_history", "is_" ~ attribute.name) }}{{ " > 0" if attribute.aggregation == "any" }} as {{ col[feature.key] }},
{%- elif attribute.aggregation == "count_distinct" %}
        {{ lane("earlier", "starts_" ~ attribute.name ~ "_" ~ span) }}
            {%- if plan.span_seconds[span] is not none %} - {{ lane("before_" ~ span, "ends_" ~ attribute.name ~ "_" ~ span) }}{% endif %}
            as {{ col[feature.key] }},
{%- else %}
        coalesce({{ feature.key }}, {{ default_literal(feature) }}) as {{ col[feature.key] }},
{%- endif %}
{%- endfor %}

        coalesce(target_events_ahead, 0) >= {{ spec.target_min_count }} as {{ target_column }}
    from window_totals
    inner join eligible_users on window_totals.user_number = eligible_users.user_number
    -- the lanes' bound (see the top): error() stops the query
    where is_row and (eligible_users.lookback_events < {{ 2 ** lane_bits }}
        or error('user ' || eligible_users.domain_userid || ' has ' || eligible_users.lookback_events
            || ' events in the lookback, {{ lane_limit_message }} ({{ 2 ** lane_bits - 1 }}); it is most likely '
            || 'a bot: exclude it, or build with the portable formulation'))
)

{% include "training_rows.sql" -%}
