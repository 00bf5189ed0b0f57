"""Snowplow's sample events and its current prospect-scoring notebook, built by the studio.

The notebook (signals-notebooks web/web_prospect_scoring_end_to_end.ipynb) reads app 'website',
page_view and submit_form events with a domain_userid, leaves out moments at or after a prospect's
first submit_form, counts three lifetime counters over strictly earlier events and targets a
submit_form within the next hour. Its query runs here in DuckDB on the same CSV as the oracle.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from prospect_core.events.build import query_training_set
from prospect_core.events.events_files import open_events_file
from prospect_core.outputs.replay import training_semantics, replay
from prospect_core.trainingset.features import feature_columns
from prospect_core.trainingset.spec import TrainingSpec
from tests.conftest import AS_OF

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "snowplow_sample_events.csv.gz"
INPUTS = ["num_page_views", "num_pricing_views", "num_customers_views"]
TARGET = "target_had_submit_form_next1h"

# The notebook's query, as it is, reading the sample file.
NOTEBOOK_SQL = """
with
events as (
    select * from read_csv_auto('{csv}')
    where app_id = 'website' and domain_userid is not null and event_name in ('page_view', 'submit_form')
),
post_conv as (
    select domain_userid, min(derived_tstamp) as first_conv from events where event_name = 'submit_form' group by 1
),
targets_as_of_event as (
    select er.event_id, count_if(ef.event_name = 'submit_form') > 0 as target_had_submit_form_next1h,
    from events er
    left join events ef on er.domain_userid = ef.domain_userid
        and er.derived_tstamp < ef.derived_tstamp
        and datediff('second', er.derived_tstamp, ef.derived_tstamp) <= 60 * 60
    group by er.event_id
),
final_training as (
    select er.event_id, er.domain_userid, er.derived_tstamp, er.event_name,
        coalesce(count_if(eh.event_name = 'page_view'), 0) as num_page_views,
        coalesce(count_if(eh.event_name = 'page_view' and eh.page_url like '%pricing%'), 0) as num_pricing_views,
        coalesce(count_if(eh.event_name = 'page_view' and eh.page_url like '%customers%'), 0) as num_customers_views,
        coalesce(t.target_had_submit_form_next1h, false) as target_had_submit_form_next1h,
    from events er
    left join events eh on er.domain_userid = eh.domain_userid and eh.derived_tstamp < er.derived_tstamp
    left join targets_as_of_event t on er.event_id = t.event_id
    left join post_conv p on er.domain_userid = p.domain_userid and er.derived_tstamp >= p.first_conv
    group by all
    having not p.domain_userid is not null
)
select * from final_training
"""


def notebook_spec(timing: str) -> TrainingSpec:
    """The notebook's settings: its three lifetime counters, app website, every prospect of the sample
    (first seen 2025-04-01 to 2025-05-13, so a cohort of 44 days before 2025-05-14 to that day), its
    post-conversion filter and target."""
    return TrainingSpec(as_of=AS_OF, preset="notebook", feature_timing=timing, app_ids=("website",),
                        cohort_first_seen_from_days=44, cohort_first_seen_to_days=0, target_event="submit_form",
                        target_window_minutes=60, exclude_after_first_target=True)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("notebook")
    warehouse = open_events_file(SAMPLE, cache_dir=folder / "cache")
    with duckdb.connect() as connection:
        notebook = connection.sql(NOTEBOOK_SQL.format(csv=SAMPLE)).df()
        events = connection.sql(f"select * from read_csv_auto('{SAMPLE}')").df()
    for frame in (notebook, events):  # the CSV's headers are upper case, as Snowflake unloads them
        frame.columns = [column.lower() for column in frame.columns]
    return warehouse, notebook.set_index("event_id").sort_index(), events


def by_event(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.set_index("event_id").sort_index()
    frame.index = frame.index.astype(object)
    return frame


def test_the_notebook_preset_builds_the_notebooks_rows_labels_and_values(sample):
    warehouse, notebook, _ = sample
    spec = notebook_spec("tutorial")
    assert feature_columns(spec) == INPUTS
    built = by_event(query_training_set(warehouse, spec))
    assert len(notebook) == len(built) == 3_539
    assert list(built.index) == list(notebook.index.astype(object))
    assert (built[spec.target_column] == notebook[TARGET]).all() and built[spec.target_column].sum() == 385
    pd.testing.assert_frame_equal(built[INPUTS], notebook[INPUTS].astype("int64"), check_names=False)


def test_signals_timing_on_the_notebook_equals_the_replay_and_counts_the_current_page_view(sample):
    warehouse, notebook, events = sample
    spec = notebook_spec("signals")
    built = query_training_set(warehouse, spec)
    expected = replay(events, built, spec, training_semantics(spec))
    pd.testing.assert_frame_equal(built[INPUTS], expected[INPUTS], check_dtype=False)
    built = by_event(built)
    assert len(built) == 3_539 and (built[spec.target_column] == notebook[TARGET]).all()
    # every row left is a page view before any form (the post-conversion filter), and Signals has
    # already counted it: all 3,539 rows differ, num_page_views by exactly one
    assert (built["num_page_views"] == notebook["num_page_views"] + 1).all()
    changed = (built[INPUTS] != notebook[INPUTS]).any(axis=1)
    assert changed.all() and 0 < (built["num_pricing_views"] != notebook["num_pricing_views"]).mean() < 0.2
