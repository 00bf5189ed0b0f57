{#- The training-set templates' last step, one copy for all three: every row of `final`, less the rows
    at or after the prospect's first target event when the spec excludes them (`first_targets`, from
    training_events.sql), in a stable order. -#}
select final.* from final
{%- if spec.exclude_after_first_target %}
left join first_targets on final.domain_userid = first_targets.domain_userid
where first_targets.first_target_at is null or final.derived_tstamp < first_targets.first_target_at
{%- endif %}
order by derived_tstamp, event_id
