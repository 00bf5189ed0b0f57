-- Target explorer: for the chosen target event and the few events most frequent in the cohort, how
-- many of the training set's rows (prediction points) and prospects would be positive, for each
-- target window of a ladder. One pass answers every (event, window) pair, before any training.
--
-- A row is positive for event E and window W when at least {{ spec.target_min_count }} E events of its prospect
-- follow strictly later within W second boundaries: the training set's target, for many E and W.
-- How, without a frame per window: number each prospect's E events in time order; the
-- {{ spec.target_min_count }}-th E event strictly after a row is E event number (E events up to this instant,
-- ties included) + {{ spec.target_min_count }}. A row is positive for every window at least as long as the
-- seconds to that event, so each window is one comparison.
{%- set counts_only = true %}
with

{% include "training_events.sql" %},

-- the chosen target first (rank 0, listed even when it never happens), then the most frequent others
candidate_events as (
    select cast({{ bind("target_event") }} as {{ text_type }}) as event_name, 0 as candidate_rank
    union all
    select event_name, candidate_rank
    from (
        select event_name, row_number() over (order by count(*) desc, event_name) as candidate_rank
        from cohort_events
        where event_name is not null
            and event_name <> {{ bind("target_event") }}
        group by event_name
    ) as ranked
    where candidate_rank <= {{ top_events }}
),

-- every row once per candidate, with the candidate's events of its prospect up to this instant
rows_by_candidate as (
    select
        cohort_events.domain_userid,
        candidate_events.event_name as candidate_event,
        candidate_events.candidate_rank,
        {{ epoch_second("cohort_events.derived_tstamp") }} as second_number,
        sum(case when cohort_events.event_name = candidate_events.event_name then 1 else 0 end) over (
            partition by candidate_events.event_name, cohort_events.domain_userid
            order by cohort_events.derived_tstamp
            range between unbounded preceding and current row
        ) as candidates_so_far
    from cohort_events
    cross join candidate_events
),

candidate_occurrences as (
    select
        event_name as candidate_event,
        domain_userid,
        {{ epoch_second("derived_tstamp") }} as second_number,
        row_number() over (partition by event_name, domain_userid order by derived_tstamp, event_id) as occurrence
    from cohort_events
    where event_name in (select event_name from candidate_events)
),

seconds_to_target as (
    select
        rows_by_candidate.domain_userid,
        rows_by_candidate.candidate_event,
        rows_by_candidate.candidate_rank,
        -- null when the prospect has too few such events after this row: positive for no window
        occurrences.second_number - rows_by_candidate.second_number as seconds_ahead
    from rows_by_candidate
    left join candidate_occurrences as occurrences
        on rows_by_candidate.candidate_event = occurrences.candidate_event
        and rows_by_candidate.domain_userid = occurrences.domain_userid
        and occurrences.occurrence = rows_by_candidate.candidates_so_far + {{ spec.target_min_count }}
),

per_candidate as (
    select
        candidate_event,
        candidate_rank,
        count(*) as prediction_points,
        count(distinct domain_userid) as prospects,
{%- for minutes in window_ladder_minutes %}
        sum(case when seconds_ahead <= {{ minutes * 60 }} then 1 else 0 end) as positive_points_{{ minutes }},
        count(distinct case when seconds_ahead <= {{ minutes * 60 }} then domain_userid end)
            as positive_prospects_{{ minutes }}{{ "," if not loop.last }}
{%- endfor %}
    from seconds_to_target
    group by candidate_event, candidate_rank
),

final as (
{%- for minutes in window_ladder_minutes %}
    select
        candidate_event as event_name,
        candidate_rank,
        {{ minutes }} as target_window_minutes,
        prediction_points,
        prospects,
        positive_points_{{ minutes }} as positive_points,
        positive_prospects_{{ minutes }} as positive_prospects,
        cast(positive_points_{{ minutes }} as double) / prediction_points as positive_rate
    from per_candidate
{%- if not loop.last %}
    union all
{%- endif %}
{%- endfor %}
)

select * from final
order by candidate_rank, target_window_minutes
