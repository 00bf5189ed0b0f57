"""The pipeline, the splits and `train_model`, on small deterministic synthetic training sets."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prospect_core.trainingset import features
from prospect_core.infra.errors import DatasetError, UserError
from prospect_core.modelling.evaluation import evaluate
from prospect_core.modelling.model import (
    SPLITS,
    CompactFrame,
    ModelParams,
    ParamsError,
    build_pipeline,
    input_columns,
    split_dataset,
    train_model,
    transformed_sources,
)
from prospect_core.trainingset.spec import TrainingSpec

ROOT = Path(__file__).resolve().parents[2]  # subprocesses import this checkout
SPEC = TrainingSpec(as_of=dt.date(2025, 5, 14))
CATEGORIES = {
    "latest_app_id": ["website", "hs-landing"],
    "latest_device_class": ["Desktop", "Phone", "Tablet", ""],
    "first_refr_medium": ["search", "social", "", "internal"],
    "first_mkt_medium": ["cpc", "email", ""],
}


def synthetic_training_set(
    n_users: int = 120, events_per_user: int = 8, seed: int = 0, spec: TrainingSpec = SPEC
) -> pd.DataFrame:
    """A training set with the dataset contract's columns and dtypes; the target leans on pricing views."""
    rng = np.random.default_rng(seed)
    n = n_users * events_per_user
    users = np.repeat([f"u{i:04d}" for i in range(n_users)], events_per_user)
    start = pd.Timestamp(spec.as_of) - pd.Timedelta(days=60)
    offsets = rng.integers(0, 30 * 24 * 3600, size=n)
    frame = pd.DataFrame(
        {
            "event_id": [f"e{i:06d}" for i in range(n)],
            "domain_userid": users,
            "derived_tstamp": start + pd.to_timedelta(np.sort(offsets), unit="s"),
            "event_name": rng.choice(["page_view", "page_ping", "submit_form"], size=n),
        }
    )
    for feature in features.FEATURES:
        column = feature.column(spec)
        if feature.kind == "numeric":
            frame[column] = rng.poisson(3, size=n).astype("int64")
        elif feature.kind == "boolean":
            frame[column] = rng.random(n) < 0.3
        elif feature.name == "day_of_week":
            frame[column] = rng.integers(1, 8, size=n).astype("int64")
        else:
            frame[column] = pd.Series(rng.choice(CATEGORIES[feature.name], size=n)).astype(str)
    pricing = frame[features.FEATURES_BY_KEY["num_pricing_views_short"].column(spec)]
    converted = frame[features.FEATURES_BY_KEY["had_conversions_long"].column(spec)]
    logit = -2.5 + 0.6 * (pricing - 3) + 1.0 * converted + rng.normal(0, 0.5, size=n)
    frame[spec.target_column] = rng.random(n) < 1 / (1 + np.exp(-logit))
    return frame


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return synthetic_training_set()


def test_synthetic_set_follows_the_dataset_contract(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == features.training_columns(SPEC)
    assert 0.05 < frame[SPEC.target_column].mean() < 0.5


# ----- ModelParams --------------------------------------------------------------------------------


def test_model_params_defaults_are_xgboosts() -> None:
    assert ModelParams().to_dict() == {
        "n_estimators": 100, "max_depth": 6, "learning_rate": 0.3, "subsample": 1.0,
        "scale_pos_weight": 1.0, "seed": 0, "family": "xgboost", "train_negatives_per_positive": None,
        "early_stopping_rounds": None, "calibration": None,
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_estimators": 0}, r"n_estimators must be a whole number from 1 to 5000, got 0"),
        ({"n_estimators": 10.5}, r"n_estimators must be a whole number .* got 10.5"),
        ({"max_depth": True}, r"max_depth must be a whole number .* got True"),
        ({"learning_rate": 0}, r"learning_rate must be a number in \(0, 1\], got 0"),
        ({"learning_rate": float("nan")}, r"learning_rate .* got nan"),
        ({"subsample": 1.5}, r"subsample must be a number in \(0, 1\], got 1.5"),
        ({"scale_pos_weight": -1}, r"scale_pos_weight must be a number in \(0, 10000\], got -1"),
        ({"seed": -1}, r"seed must be a whole number from 0 to 4294967295, got -1"),
    ],
)
def test_model_params_reject_out_of_range_values(changes: dict, message: str) -> None:
    with pytest.raises(ParamsError, match=message) as caught:
        ModelParams(**changes)
    assert isinstance(caught.value, UserError) and isinstance(caught.value, ValueError)


# ----- the pipeline -------------------------------------------------------------------------------


def test_pipeline_has_named_steps_and_addressable_params() -> None:
    pipeline = build_pipeline(SPEC, ModelParams(max_depth=3, n_estimators=7, seed=5))
    assert list(pipeline.named_steps) == ["preprocessor", "classifier"]
    params = pipeline.get_params()
    assert params["classifier__max_depth"] == 3
    assert params["classifier__n_estimators"] == 7
    assert params["classifier__random_state"] == 5
    assert params["classifier__eval_metric"] == "logloss"


def test_xgboost_threads_follow_the_cores_this_process_may_use() -> None:
    """One core granted (as `taskset` or a container's cpuset would): one thread, not the machine's count."""
    import subprocess
    import sys

    probe = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
        "from prospect_core.modelling.model import build_pipeline, fit_threads; from prospect_core.trainingset.spec import TrainingSpec; "
        "print(fit_threads(), build_pipeline(TrainingSpec()).named_steps['classifier'].n_jobs)"
    )
    one_core = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert one_core.stdout.split() == ["1", "1"]
    assert build_pipeline(SPEC).named_steps["classifier"].n_jobs == len(os.sched_getaffinity(0))


@pytest.mark.parametrize(("preset", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_openmp_threads_sleep_when_idle_unless_the_user_says_otherwise(preset: str | None, expected: str) -> None:
    """Set when the package is imported, so before xgboost's OpenMP runtime reads it; a user's value wins."""
    import subprocess
    import sys

    env = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    if preset:
        env["OMP_WAIT_POLICY"] = preset
    probe = "import prospect_core, os, sys; print(os.environ['OMP_WAIT_POLICY'], 'xgboost' in sys.modules)"
    printed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env, cwd=ROOT)
    assert printed.stdout.split() == [expected, "False"]


def test_pipeline_reads_every_registry_feature_and_nothing_else() -> None:
    assert sorted(input_columns(build_pipeline(SPEC))) == sorted(features.feature_columns(SPEC))


def test_every_registry_feature_reaches_the_model(frame: pd.DataFrame) -> None:
    """The tutorial dropped had_conversions_l7d/_l30d via remainder='drop'; nothing is dropped here."""
    pipeline = build_pipeline(SPEC, ModelParams(n_estimators=5))
    pipeline.fit(frame[features.feature_columns(SPEC)], frame[SPEC.target_column].astype(int))
    names = pipeline.named_steps["preprocessor"].get_feature_names_out()
    for column in features.feature_columns(SPEC):
        assert any(name.split("__", 1)[1].startswith(column) for name in names), column
    assert "bool__had_conversions_l7d" in names and "bool__had_conversions_l30d" in names
    assert set(transformed_sources(pipeline)) == set(features.feature_columns(SPEC))
    assert pipeline.named_steps["classifier"].n_features_in_ == len(names)


def test_column_names_follow_the_spec_windows() -> None:
    spec = SPEC.replace(short_window_days=3, long_window_days=14)
    frame = synthetic_training_set(n_users=40, spec=spec)
    run = train_model(frame, spec, ModelParams(n_estimators=5))
    assert "num_sessions_l3d" in input_columns(run.pipeline)
    assert "num_sessions_l14d" in input_columns(run.pipeline)


def test_pipeline_scores_bools_ints_and_unknown_categories(frame: pd.DataFrame) -> None:
    run = train_model(frame, SPEC, ModelParams(n_estimators=10))
    X = frame[features.feature_columns(SPEC)].head(20).copy()
    as_bools = run.pipeline.predict_proba(X)[:, 1]
    bool_columns = features.feature_columns(SPEC, "boolean")
    X_ints = X.astype({column: "int64" for column in bool_columns})
    np.testing.assert_allclose(run.pipeline.predict_proba(X_ints)[:, 1], as_bools)
    X_unknown = X.assign(latest_app_id="never-seen", first_mkt_medium="brand-new")
    scores = run.pipeline.predict_proba(X_unknown)[:, 1]
    assert np.all((scores >= 0) & (scores <= 1))


def test_pipeline_is_pure_sklearn_and_xgboost(frame: pd.DataFrame) -> None:
    run = train_model(frame, SPEC, ModelParams(n_estimators=3))
    modules = {type(obj).__module__.split(".")[0] for obj in _walk(run.pipeline)}
    assert modules <= {"sklearn", "xgboost", "builtins"}, modules


def _walk(estimator: object) -> list[object]:
    found = [estimator]
    for value in getattr(estimator, "get_params", lambda deep=False: {})(deep=False).values():
        if isinstance(value, list):
            for item in value:
                found.extend(_walk(item[1] if isinstance(item, tuple) else item))
        elif hasattr(value, "get_params"):
            found.extend(_walk(value))
    return found


# ----- splits -------------------------------------------------------------------------------------


@pytest.mark.parametrize("split", SPLITS)
def test_splits_are_about_80_20_disjoint_and_cover_every_row(frame: pd.DataFrame, split: str) -> None:
    train, test = split_dataset(frame, SPEC, split, seed=0)
    assert len(np.intersect1d(train, test)) == 0
    assert len(train) + len(test) == len(frame)
    assert 0.15 < len(test) / len(frame) < 0.25
    y = frame[SPEC.target_column].to_numpy()
    assert y[train].any() and y[test].any() and not y[train].all() and not y[test].all()


def test_random_split_is_the_tutorials_stratified_split(frame: pd.DataFrame) -> None:
    from sklearn.model_selection import train_test_split

    y = frame[SPEC.target_column]
    _, expected_test = train_test_split(np.arange(len(frame)), test_size=0.2, random_state=0, stratify=y)
    _, test = split_dataset(frame, SPEC, "random", seed=0)
    np.testing.assert_array_equal(test, np.sort(expected_test))


def test_by_user_split_keeps_each_prospect_on_one_side(frame: pd.DataFrame) -> None:
    train, test = split_dataset(frame, SPEC, "by_user", seed=0)
    users = frame["domain_userid"].to_numpy()
    assert not set(users[train]) & set(users[test])


def test_out_of_time_split_tests_on_later_prediction_points(frame: pd.DataFrame) -> None:
    train, test = split_dataset(frame, SPEC, "out_of_time", seed=0)
    tstamps = frame["derived_tstamp"].to_numpy()
    assert tstamps[test].min() >= tstamps[train].max()


def test_splits_are_seeded(frame: pd.DataFrame) -> None:
    for split in ("random", "by_user"):
        first, second = split_dataset(frame, SPEC, split, seed=1), split_dataset(frame, SPEC, split, seed=1)
        np.testing.assert_array_equal(first[1], second[1])
        assert not np.array_equal(first[1], split_dataset(frame, SPEC, split, seed=2)[1])


# ----- unusable training sets ---------------------------------------------------------------------


def _with_target(frame: pd.DataFrame, positive_rows: list[int]) -> pd.DataFrame:
    target = np.zeros(len(frame), dtype=bool)
    target[positive_rows] = True
    return frame.assign(**{SPEC.target_column: target})


SMALL = synthetic_training_set(n_users=10, events_per_user=3, seed=3)
BAD_SETS = [
    pytest.param(
        _with_target(SMALL, []),
        r"target column 'target_had_submit_form_next1h' has only one class \(0 True, 30 False\).*"
        r"another target event, a longer target window.*earlier as-of date",
        "random", id="no-positives",
    ),
    pytest.param(
        _with_target(SMALL, list(range(30))), r"only one class \(30 True, 0 False\)", "random", id="all-positives",
    ),
    pytest.param(SMALL.iloc[:0], r"the training set has no rows", "random", id="empty"),
    pytest.param(
        _with_target(SMALL, [0, 1, 2]),
        r"too few rows for the random split: 30 rows, 3 positive, 27 negative.*at least 2 rows of each class",
        "random", id="three-positives-random",
    ),
    pytest.param(
        _with_target(SMALL, [0, 1, 2]),
        r"the by_user split needs at least 2 prospects who hit the target, one for each side, got 1 of 10 "
        r"prospects; .*choose a target that happens more often",
        "by_user", id="one-users-positives-by-user",
    ),
    pytest.param(
        _with_target(SMALL, [27, 28, 29, 26, 25]),
        r"too few rows for the out_of_time split: 30 rows, 5 positive.*train: 24 rows, 0 positive",
        "out_of_time", id="positives-only-late",
    ),
    pytest.param(
        SMALL.head(12), r"the by_user split needs at least 5 prospects \(domain_userid\), got 4", "by_user",
        id="too-few-users",
    ),
    pytest.param(
        SMALL.drop(columns=["num_sessions_l7d"]), r"lacks column\(s\) \['num_sessions_l7d'\]", "random",
        id="missing-column",
    ),
    pytest.param(
        SMALL.assign(**{SPEC.target_column: [None] + [True, False] * 14 + [True]}),
        r"'target_had_submit_form_next1h' has 1 missing value", "random", id="missing-target",
    ),
]


@pytest.mark.parametrize(("frame_in", "message", "split"), BAD_SETS)
def test_unusable_training_sets_fail_before_fitting(frame_in: pd.DataFrame, message: str, split: str) -> None:
    with pytest.raises(DatasetError, match=message):
        train_model(frame_in, SPEC, ModelParams(n_estimators=2), split=split)


def test_unknown_split_is_a_dataset_error(frame: pd.DataFrame) -> None:
    with pytest.raises(DatasetError, match=r"split must be one of \['random', 'by_user', 'out_of_time'\], got 'kfold'"):
        split_dataset(frame, SPEC, "kfold")  # type: ignore[arg-type]


# ----- train_model --------------------------------------------------------------------------------


def test_train_model_reports_stages_and_keeps_test_rows_aligned(frame: pd.DataFrame) -> None:
    stages: list[str] = []
    run = train_model(frame, SPEC, ModelParams(n_estimators=20), split="by_user", progress=stages.append)
    assert stages == ["check", "split", "fit", "score", "evaluate"]
    assert set(run.timings) == set(stages) and all(t >= 0 for t in run.timings.values())
    assert run.n_train + run.n_test == len(frame)
    assert len(run.X_test) == len(run.y_test) == len(run.y_score) == len(run.test_ids) == run.n_test
    assert list(run.X_test.columns) == features.feature_columns(SPEC)
    assert list(run.test_ids.columns) == list(features.IDENTIFIER_COLUMNS)
    by_event = frame.set_index("event_id")
    np.testing.assert_array_equal(by_event.loc[run.test_ids["event_id"], SPEC.target_column].astype(int), run.y_test)
    np.testing.assert_allclose(run.pipeline.predict_proba(run.X_test)[:, 1], run.y_score)
    assert run.evaluation.n == run.n_test and run.evaluation.positives == run.positives_test
    positive_test_rows = frame[frame["event_id"].isin(run.test_ids["event_id"]) & frame[SPEC.target_column]]
    assert run.positive_prospects_test == positive_test_rows["domain_userid"].nunique() > 0


def test_training_is_reproducible_and_learns_the_signal(frame: pd.DataFrame) -> None:
    first = train_model(frame, SPEC, ModelParams(n_estimators=30, max_depth=3))
    second = train_model(frame, SPEC, ModelParams(n_estimators=30, max_depth=3))
    np.testing.assert_array_equal(first.y_score, second.y_score)
    assert first.evaluation.roc_auc > 0.65


# ----- on the demo data ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_set(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    from prospect_core.events.build import query_training_set
    from prospect_core.events.demo_data import write_demo_db
    from prospect_core.events.warehouse import DuckDBWarehouse

    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    write_demo_db(path, n_users=600, seed=0, anchor=SPEC.as_of)
    return query_training_set(DuckDBWarehouse(path), SPEC)


@pytest.mark.parametrize("split", SPLITS)
def test_demo_training_set_trains_under_every_split(demo_set: pd.DataFrame, split: str) -> None:
    run = train_model(demo_set, SPEC, ModelParams(n_estimators=30, max_depth=3, learning_rate=0.1), split=split)
    assert run.n_train + run.n_test == len(demo_set)
    assert run.evaluation.roc_auc > 0.5, run.evaluation.metrics()
    train_rows = ~demo_set["event_id"].isin(run.test_ids["event_id"])
    if split == "by_user":
        assert not set(run.test_ids["domain_userid"]) & set(demo_set.loc[train_rows, "domain_userid"])
    if split == "out_of_time":
        assert run.test_ids["derived_tstamp"].min() >= demo_set.loc[train_rows, "derived_tstamp"].max()


def test_a_run_keeps_its_test_rows_compact_and_scores_them_exactly(demo_set: pd.DataFrame) -> None:
    run = train_model(demo_set, SPEC, ModelParams(n_estimators=30, max_depth=3, seed=3), split="by_user")
    _, test = split_dataset(demo_set, SPEC, "by_user", seed=3)
    as_fitted = demo_set[features.feature_columns(SPEC)].iloc[test].reset_index(drop=True)
    ids = demo_set[list(features.IDENTIFIER_COLUMNS)].iloc[test].reset_index(drop=True)
    pd.testing.assert_frame_equal(run.X_test, as_fitted, check_exact=True)  # dtypes too: int64, Arrow strings
    pd.testing.assert_frame_equal(run.test_ids, ids, check_exact=True)
    rescored = run.pipeline.predict_proba(run.X_test)[:, 1]
    assert np.array_equal(rescored, run.pipeline.predict_proba(as_fitted)[:, 1]) and np.array_equal(rescored, run.y_score)
    assert evaluate(y_true=run.y_test, y_score=rescored).metrics() == run.evaluation.metrics()
    held = run.test_rows.held
    assert held[features.FEATURES_BY_KEY["num_page_views_long"].column(SPEC)].dtype.itemsize <= 2
    assert isinstance(held["latest_device_class"].dtype, pd.CategoricalDtype)
    assert isinstance(run.test_keys.held["domain_userid"].dtype, pd.CategoricalDtype)
    assert held.memory_usage(deep=True).sum() < as_fitted.memory_usage(deep=True).sum() / 3
    assert run.test_keys.held.memory_usage(deep=True).sum() < ids.memory_usage(deep=True).sum()


def test_compact_frame_gives_back_every_column_exactly() -> None:
    arrow = pd.StringDtype("pyarrow")
    frame = pd.DataFrame({
        "counts": np.array([0, 3, 300, 3, 0, 70_000], dtype="int64"),
        "signed": np.array([-5, 0, 5, -5, 0, 5], dtype="int64"),
        "small": np.array([1, 2, 1, 2, 1, 2], dtype="int8"),  # already as small as it gets
        "flags": [True, False, True, True, False, False],
        "text": pd.Series(["a", None, "a", "", "a", "a"], dtype=arrow),
        "unique_text": pd.Series([f"id-{i}" for i in range(6)], dtype=arrow),
        "python_text": pd.Series(["x", "y", "x", None, "x", "y"], dtype="string"),
        "objects": ["x", None, float("nan"), "x", "x", "x"],  # None and NaN: a Categorical would merge them
        "floats": [0.5, float("nan"), 0.5, 1.0, 0.5, 1.0],
        "when": pd.to_datetime(["2025-05-01 10:00:00.123"] * 6),
    }).set_axis(pd.RangeIndex(10, 16))
    compact = CompactFrame.of(frame)
    pd.testing.assert_frame_equal(compact.frame(), frame, check_exact=True)
    objects = compact.frame()["objects"]
    assert objects.iloc[1] is None and isinstance(objects.iloc[2], float) and np.isnan(objects.iloc[2])
    assert {column: str(dtype) for column, dtype in compact.held.dtypes.items() if column in compact.dtypes} == {
        "counts": "uint32", "signed": "int8", "text": "category", "python_text": "category"}
    given = compact.frame()
    given.loc[10, ["counts", "flags"]] = [1, False]  # a compacted column and one held as it is
    assert compact.frame().loc[10, "counts"] == 0 and compact.frame().loc[10, "flags"]  # each read is a new frame
    assert len(compact) == 6
    empty = frame.iloc[:0]
    pd.testing.assert_frame_equal(CompactFrame.of(empty).frame(), empty)
    twice = pd.concat([frame[["counts"]], frame[["counts"]]], axis=1)  # duplicate names: held as they are
    pd.testing.assert_frame_equal(CompactFrame.of(twice).frame(), twice)


def test_summary_counts_the_prospects_behind_the_positive_rows():
    from prospect_core.trainingset.dataset import summarize

    frame = pd.DataFrame({
        "domain_userid": ["a", "a", "a", "b", "c", "c"],
        SPEC.target_column: [True, True, False, False, True, False],
    })
    summary = summarize(frame, SPEC)
    assert (summary.rows, summary.positives, summary.users, summary.positive_users) == (6, 3, 3, 2)
