"""Issue 17, item 3: one copy of a training set per server, held as long as a session refers to it."""

from __future__ import annotations

import gc
import weakref

import pandas as pd

from prospect_core.events.build import build_training_set
from prospect_core.trainingset.dataset import TEXT
from prospect_core.events.demo_data import write_demo_db
from prospect_core.events.sources import open_source
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.studio.data import shared_training_set


def test_builds_of_one_set_share_one_frame_until_the_last_lets_it_go(tmp_path, monkeypatch):
    db = tmp_path / "demo.duckdb"
    write_demo_db(db, n_users=300, seed=1)
    monkeypatch.setenv("PROSPECT_DEMO_DB", str(db))
    spec = TrainingSpec()
    warehouse = open_source("demo", events_table=spec.events_table)

    def build(spec: TrainingSpec):
        return build_training_set(warehouse, spec, max_rows=1_000_000, load=shared_training_set("demo"))

    first, second = build(spec), build(spec)
    assert second.frame is first.frame  # two sessions, one frame
    direct = build_training_set(warehouse, spec, max_rows=1_000_000).frame
    pd.testing.assert_frame_equal(first.frame, direct)  # the same rows as an unshared build
    assert len(direct) > 1000 and first.frame["event_id"].dtype == TEXT and first.frame["latest_app_id"].dtype == TEXT
    longer = spec.replace(target_window_minutes=120)
    other = build(longer)
    assert other.frame is not first.frame and longer.target_column in other.frame  # another spec, another set
    assert spec.target_column not in other.frame

    held = weakref.ref(first.frame)
    del first, second, direct
    gc.collect()
    assert held() is None  # nothing but the sessions' sets kept it
    again = build(spec)
    assert len(again.frame) > 1000 and again.frame is not other.frame
