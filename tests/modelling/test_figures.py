"""Figure builders, checked by the numbers in their traces (never pixels)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from numpy.testing import assert_allclose

from prospect_core.modelling import figures
from prospect_core.modelling.evaluation import calibration_bins, confusion_at, evaluate, lift_table
from prospect_core.modelling.explain import gain_importance
from prospect_core.modelling.explain import explain_row, explain_sample
from prospect_core.modelling.model import ModelParams, TrainingRun, train_model
from prospect_core.trainingset.spec import TrainingSpec
from tests.modelling.test_evaluation import Y_SCORE, Y_TRUE
from tests.modelling.test_model import SPEC, synthetic_training_set

EVALUATION = evaluate(y_true=Y_TRUE, y_score=Y_SCORE)


@pytest.fixture(scope="module")
def run() -> TrainingRun:
    return train_model(synthetic_training_set(n_users=200, events_per_user=8), SPEC, ModelParams(n_estimators=30))


def _check_common(figure: go.Figure) -> None:
    assert isinstance(figure, go.Figure)
    layout = figure.layout
    assert layout.title.text
    assert layout.height and 250 <= layout.height <= 1200
    white, template = pio.templates["plotly_white"].to_plotly_json(), layout.template.to_plotly_json()
    assert template["layout"] == white["layout"]  # plotly_white, with the defaults of the figure's own trace types only
    assert template.get("data", {}) == {kind: white["data"][kind] for kind in {trace.type for trace in figure.data}
                                        if kind in white["data"]}
    assert layout.xaxis.title.text is not None


def test_roc_figure_single_run() -> None:
    figure = figures.roc_figure(EVALUATION)
    assert len(figure.data) == 2
    curve, chance = figure.data
    assert_allclose(curve.x, EVALUATION.roc.x)
    assert_allclose(curve.y, EVALUATION.roc.y)
    assert f"AUC {EVALUATION.roc_auc:.3f}" in curve.name
    assert list(chance.x) == [0, 1] and list(chance.y) == [0, 1]
    assert figure.layout.xaxis.title.text and figure.layout.yaxis.title.text
    _check_common(figure)


def test_roc_figure_overlays_runs() -> None:
    other = evaluate(y_true=Y_TRUE, y_score=Y_SCORE[::-1])
    figure = figures.roc_figure({"random": EVALUATION, "by_user": other, "raw": ([0, 0.5, 1], [0, 0.9, 1], 0.7)})
    assert [trace.name for trace in figure.data] == [
        f"random (AUC {EVALUATION.roc_auc:.3f})", f"by_user (AUC {other.roc_auc:.3f})", "raw (AUC 0.700)",
        "chance (AUC 0.5)",
    ]
    assert list(figure.data[2].y) == [0, 0.9, 1]


def test_pr_figure_has_base_rate_line() -> None:
    figure = figures.pr_figure(EVALUATION)
    curve, base = figure.data
    assert_allclose(curve.x, EVALUATION.pr.x)
    assert_allclose(curve.y, EVALUATION.pr.y)
    assert f"AP {EVALUATION.pr_auc:.3f}" in curve.name
    assert_allclose(base.y, [0.35, 0.35])
    _check_common(figure)


def test_confusion_figure_shows_counts_and_rates() -> None:
    confusion = confusion_at(y_true=Y_TRUE, y_score=Y_SCORE, threshold=0.5)
    figure = figures.confusion_figure(confusion, outcomes=("did not reach 3 page views within 90 minutes",
                                                            "reached 3 page views within 90 minutes"))
    (heatmap,) = figure.data
    assert_allclose(heatmap.z, confusion.rates)
    assert list(heatmap.x) == ["not flagged", "flagged"]
    assert [label.replace("<br>", " ") for label in heatmap.y] == [
        "did not reach 3 page views within 90 minutes", "reached 3 page views within 90 minutes"]
    assert "converted" not in " ".join([*heatmap.x, *heatmap.y])
    np.testing.assert_array_equal(heatmap.customdata, confusion.matrix)
    assert heatmap.text[1][1] == f"{confusion.tp}<br>{confusion.rates[1, 1]:.1%}"
    assert "0.50" in figure.layout.title.text
    _check_common(figure)


def test_lift_and_gains_figures() -> None:
    table = lift_table(y_true=Y_TRUE, y_score=Y_SCORE, bins=5)
    lift = figures.lift_figure(table)
    assert len(lift.data) == 3
    assert_allclose(lift.data[0].y, table["lift"])
    assert_allclose(lift.data[1].y, table["cum_lift"])
    assert_allclose(lift.data[2].y, [1, 1])
    gains = figures.gains_figure(table)
    model, perfect, chance = gains.data
    assert_allclose(model.x, np.r_[0, table["cum_rows_share"]])
    assert_allclose(model.y, np.r_[0, table["cum_positives_share"]])
    assert_allclose(perfect.x, [0, 0.35, 1])
    for figure in (lift, gains):
        _check_common(figure)


def test_calibration_figure() -> None:
    table = calibration_bins(y_true=Y_TRUE, y_score=Y_SCORE, n_bins=5)
    figure = figures.calibration_figure(table)
    assert_allclose(figure.data[0].x, table["mean_predicted"])
    assert_allclose(figure.data[0].y, table["fraction_positive"])
    assert len(figure.data) == 2
    _check_common(figure)


def test_importance_figure_puts_the_largest_on_top(run: TrainingRun) -> None:
    table = gain_importance(run.pipeline)
    figure = figures.importance_figure(table, top=5)
    (bars,) = figure.data
    assert len(bars.y) == 5
    assert bars.y[-1] == table["feature"].iloc[0]  # plotly draws the last category at the top
    assert_allclose(bars.x[::-1], table["gain_share"].head(5))
    _check_common(figure)


def test_shap_figures(run: TrainingRun) -> None:
    sample = explain_sample(run.pipeline, run.X_test, max_rows=150)
    bar = figures.shap_bar_figure(sample, top=8)
    assert len(bar.data[0].x) == 8
    assert_allclose(max(bar.data[0].x), np.abs(sample.values).mean(axis=0).max())

    swarm = figures.shap_beeswarm_figure(sample, top=6)
    coloured, grey = swarm.data
    assert len(coloured.x) + len(grey.x) == 6 * 150
    assert len(swarm.layout.yaxis.ticktext) == 6
    assert np.nanmin(coloured.marker.color) >= 0 and np.nanmax(coloured.marker.color) <= 1
    assert isinstance(coloured, go.Scatter)  # 900 points: SVG is fine
    top_feature = swarm.layout.yaxis.ticktext[-1]
    assert_allclose(np.sort(np.r_[coloured.x, grey.x]), np.sort(sample.values[:, [sample.features.index(f) for f in swarm.layout.yaxis.ticktext]].ravel()))
    assert top_feature == figures_importance_top(sample)

    dependence = figures.shap_dependence_figure(sample, "num_pricing_views_l7d", color_by="had_conversions_l30d")
    assert_allclose(dependence.data[0].y, sample.column("num_pricing_views_l7d"))
    assert_allclose(dependence.data[0].x, sample.data["num_pricing_views_l7d"].to_numpy(dtype=float))
    categorical = figures.shap_dependence_figure(sample, "latest_device_class")
    ticks = list(categorical.layout.xaxis.ticktext)
    assert set(ticks) <= {"Desktop", "Phone", "Tablet", "(missing)"} and ticks == sorted(ticks)
    codes = np.rint(categorical.data[0].x).astype(int)  # jittered by at most 0.25 around the category's code
    assert_allclose(np.abs(categorical.data[0].x - codes).max() <= 0.25, True)
    expected = sample.data["latest_device_class"].replace("", "(missing)").to_numpy()
    np.testing.assert_array_equal(np.array(ticks)[codes], expected)
    np.testing.assert_array_equal(categorical.data[0].text, expected)
    for figure in (bar, swarm, dependence):
        _check_common(figure)


def figures_importance_top(sample) -> str:
    from prospect_core.modelling.explain import shap_importance

    return shap_importance(sample)["feature"].iloc[0]


def test_beeswarm_switches_to_webgl_for_many_points(run: TrainingRun) -> None:
    sample = explain_sample(run.pipeline, run.X_test, max_rows=200)
    figure = figures.shap_beeswarm_figure(sample, top=10)
    assert isinstance(figure.data[0], go.Scattergl)


def test_waterfall_steps_add_up_to_the_prospects_margin(run: TrainingRun) -> None:
    explanation = explain_row(run.pipeline, run.X_test, 0)
    figure = figures.shap_waterfall_figure(explanation, top=5)
    (waterfall,) = figure.data
    measures, steps = list(waterfall.measure), list(waterfall.x)
    assert measures[0] == "absolute" and measures[-1] == "total" and len(steps) == 1 + 5 + 1 + 1
    assert_allclose(steps[0], explanation.base_value)
    assert_allclose(sum(steps[:-1]), explanation.margin, atol=1e-6)
    assert list(waterfall.y)[-2] == "15 other features"
    # the long first and last bars' numbers in their labels, not beside them over the feature names
    assert waterfall.y[0] == f"base value {explanation.base_value:+.3f}" and waterfall.text[0] == waterfall.text[-1] == ""
    assert waterfall.y[-1] == f"prediction {explanation.margin:+.3f} ({explanation.score:.1%})"
    assert figure.layout.yaxis.autorange == "reversed"  # base value on top, prediction at the bottom
    assert f"{explanation.score:.1%}" in figure.layout.title.text
    _check_common(figure)


def test_timeline_figure_draws_the_specs_windows() -> None:
    spec = TrainingSpec(as_of=dt.date(2025, 5, 14), short_window_days=3, long_window_days=14, target_window_minutes=120)
    figure = figures.timeline_figure(spec)
    bars = [trace for trace in figure.data if isinstance(trace, go.Bar)]
    by_name = {bar.name: bar for bar in bars}
    assert (by_name["long history window"].base[0], by_name["long history window"].x[0]) == (-14, 14)
    assert (by_name["short history window"].base[0], by_name["short history window"].x[0]) == (-3, 3)
    assert by_name["target window"].base[0] == 0
    assert by_name["target window"].text[0] == "next 2 hours: 'submit_form'<br>(not to scale)"
    assert "last 14 days" in by_name["long history window"].text[0]
    (marker,) = [trace for trace in figure.data if isinstance(trace, go.Scatter)]
    assert list(marker.x) == [0, 0]
    _check_common(figure)


def test_roc_figure_rejects_an_empty_mapping() -> None:
    with pytest.raises(ValueError, match="at least one run, got an empty mapping"):
        figures.roc_figure({})


def test_class_balance_figure() -> None:
    figure = figures.class_balance_figure(90, 10)
    (bars,) = figure.data
    assert list(bars.y) == [90, 10]
    assert bars.text[1] == "10 (10.0%)"
    _check_common(figure)


def test_timeline_labels_a_history_bar_too_short_for_its_text_beside_it() -> None:
    figure = figures.timeline_figure(TrainingSpec(as_of=dt.date(2025, 5, 14), short_window_days=1, long_window_days=30))
    by_name = {trace.name: trace for trace in figure.data if isinstance(trace, go.Bar)}
    assert by_name["long history window"].textposition == "inside"
    assert by_name["short history window"].textposition == "none"
    (beside,) = [note for note in figure.layout.annotations if note.y != "target window"]
    long_name = figures.timeline_figure(TrainingSpec(as_of=dt.date(2025, 5, 14), target_event="a" * 30))
    assert "'" + "a" * 23 + "\u2026'" in long_name.data[2].text[0]
    assert (beside.text, beside.x, beside.y, beside.xanchor) == ("last 1 day", -1, "short history window", "right")


# ----- issue 15: the slips and the new figures -----------------------------------------------------


def test_calibration_axes_stop_just_past_the_data_so_rare_target_bins_stay_apart() -> None:
    import pandas as pd

    table = pd.DataFrame({"bin_low": [0, 0.1], "bin_high": [0.1, 0.2], "rows": [90, 10],
                          "mean_predicted": [0.03, 0.12], "fraction_positive": [0.02, 0.18]})
    figure = figures.calibration_figure(table)
    assert_allclose(figure.layout.xaxis.range, [0, 0.2])  # 0.18 x 1.1, up to the next tenth
    assert list(figure.data[1].x) == [0, 0.2] and list(figure.data[1].y) == [0, 0.2]
    assert max(figure.data[0].marker.size) <= 11
    full = figures.calibration_figure(calibration_bins(y_true=Y_TRUE, y_score=Y_SCORE, n_bins=5))
    assert full.layout.xaxis.range[1] == 1.0


@pytest.mark.parametrize(("long_days", "minutes"), [(30, 60), (14, 120), (90, 7 * 24 * 60), (30, 90)])
def test_timeline_axis_ends_just_past_the_target_bar(long_days: int, minutes: int) -> None:
    spec = TrainingSpec(as_of=dt.date(2025, 5, 14), short_window_days=3, long_window_days=long_days, target_window_minutes=minutes)
    figure = figures.timeline_figure(spec)
    target = next(trace for trace in figure.data if trace.name == "target window")
    drawn_end = target.base[0] + target.x[0]
    low, high = figure.layout.xaxis.range
    assert_allclose([low, high], [-1.05 * long_days, drawn_end + 0.04 * long_days])  # was 0.75 x long days past it
    # its label sits left of the prediction point, in the target row's empty side
    (label,) = [note for note in figure.layout.annotations if note.y == "target window"]
    assert (label.x, label.xanchor, label.text) == (0, "right", target.text[0]) and target.textposition == "none"


def test_dependence_plot_leaves_room_above_its_highest_point(run: TrainingRun) -> None:
    sample = explain_sample(run.pipeline, run.X_test, max_rows=100)
    for feature in ("num_pricing_views_l7d", "latest_device_class"):
        figure = figures.shap_dependence_figure(sample, feature)
        values = sample.column(feature)
        low, high = figure.layout.yaxis.range
        span = max(values.max(), 0) - min(values.min(), 0)
        assert_allclose([low, high], [min(values.min(), 0) - 0.08 * span, max(values.max(), 0) + 0.08 * span])


def test_target_explorer_figure_draws_the_ladder(tmp_path) -> None:
    import pandas as pd

    from prospect_core.events.target_explorer import normalize_ladder

    spec = TrainingSpec(as_of=dt.date(2025, 5, 14), target_window_minutes=90)
    minutes = [15, 60, 90, 360, 1440, 10080]
    rows = [
        {"event_name": event, "candidate_rank": rank, "target_window_minutes": m, "prediction_points": 100, "prospects": 10,
         "positive_points": points, "positive_prospects": points // 4, "positive_rate": points / 100}
        for rank, event in enumerate(["submit_form", "page_view"])
        for m, points in zip(minutes, [4 * (i + 1) * (rank + 1) for i in range(6)])
    ]
    ladder = normalize_ladder(pd.DataFrame(rows).sample(frac=1, random_state=0), spec)
    figure = figures.target_explorer_figure(ladder)
    chosen, other = figure.data
    assert (chosen.name, other.name) == ("submit_form (target)", "page_view")
    assert list(chosen.x) == ["15 min", "1 h", "90 min", "6 h", "24 h", "7 days"]
    assert_allclose(chosen.y, [0.04, 0.08, 0.12, 0.16, 0.20, 0.24])
    assert_allclose(other.y, [0.08, 0.16, 0.24, 0.32, 0.40, 0.48])
    assert [tuple(point) for point in other.customdata[:2]] == [("page_view", 15, 8, 2), ("page_view", 60, 16, 4)]
    (line,) = figure.layout.shapes
    assert line.x0 == 2  # the spec's 90 minutes, third on the ladder
    _check_common(figure)


def test_profit_figure_marks_the_best_and_the_chosen_threshold() -> None:
    from prospect_core.modelling.evaluation import profit_by_threshold

    times = np.datetime64("2025-05-01") + np.arange(20).astype("timedelta64[h]")
    curve = profit_by_threshold(y_true=Y_TRUE, y_score=Y_SCORE, prospect_ids=np.arange(20).astype(str), timestamps=times,
                                value_per_conversion=10, cost_per_flag=3)
    figure = figures.profit_figure(curve, chosen=0.5, currency="$")
    line, best, chosen = figure.data
    assert_allclose(line.x, curve.thresholds)  # one prospect a moment: a point per distinct score, all drawn
    assert_allclose(line.y, curve.profit_per_day)
    assert (best.x[0], best.y[0]) == (curve.best.threshold, curve.best.profit_per_day)
    assert best.name == f"best profit at {curve.best.threshold:.4g}"
    assert (chosen.x[0], chosen.y[0], chosen.name) == (0.5, curve.at(0.5).profit_per_day, "chosen threshold 0.5")
    _check_common(figure)
    losing = profit_by_threshold(y_true=Y_TRUE, y_score=Y_SCORE, prospect_ids=np.arange(20).astype(str), timestamps=times,
                                 value_per_conversion=1, cost_per_flag=3)
    assert len(figures.profit_figure(losing).data) == 1


def test_roc_and_pr_figures_draw_a_long_curve_thinned_with_its_exact_areas() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random(20_000) < 0.2).astype(int)
    long = evaluate(y_true=y, y_score=np.clip(0.25 * y + 0.75 * rng.random(20_000), 0, 1))
    assert len(long.roc.x) > 2 * figures.MAX_CURVE_POINTS and len(long.pr.x) > 2 * figures.MAX_CURVE_POINTS
    for curve, drawn, area in [(long.roc, figures.roc_figure({"Run 1": long}).data[0], f"AUC {long.roc_auc:.3f}"),
                               (long.pr, figures.pr_figure(long).data[0], f"AP {long.pr_auc:.3f}")]:
        assert len(drawn.x) == len(drawn.y) == figures.MAX_CURVE_POINTS and area in drawn.name
        assert (drawn.x[0], drawn.y[0], drawn.x[-1], drawn.y[-1]) == (curve.x[0], curve.y[0], curve.x[-1], curve.y[-1])
        points = set(zip(curve.x.tolist(), curve.y.tolist()))  # every drawn point is one of the curve's own
        assert all(point in points for point in zip(drawn.x, drawn.y))


def test_profit_figure_thins_a_long_curve_but_keeps_the_best() -> None:
    from prospect_core.modelling.evaluation import profit_by_threshold

    rng = np.random.default_rng(0)
    y = (rng.random(20_000) < 0.1).astype(int)
    score = np.clip(0.3 * y + 0.7 * rng.random(20_000), 0, 1)
    curve = profit_by_threshold(y_true=y, y_score=score, prospect_ids=rng.integers(0, 8000, 20_000).astype(str),
                                timestamps=np.datetime64("2025-05-01") + rng.integers(0, 86400 * 7, 20_000).astype("timedelta64[s]"),
                                value_per_conversion=50, cost_per_flag=4)
    line = figures.profit_figure(curve).data[0]
    assert len(curve.thresholds) > 4000 and len(line.x) <= figures.MAX_CURVE_POINTS + 1
    assert curve.best.threshold in set(line.x) and curve.best.profit_per_day == max(line.y)


def test_dependence_plot_builds_with_webgl_points(run: TrainingRun, monkeypatch) -> None:
    # a real sample of 1,000+ rows is slow to explain; lower our own WebGL switch instead
    monkeypatch.setattr(figures, "WEBGL_MIN_POINTS", 10)
    sample = explain_sample(run.pipeline, run.X_test, max_rows=50)
    figure = figures.shap_dependence_figure(sample, "num_pricing_views_l7d")
    assert isinstance(figure.data[0], go.Scattergl) and figure.layout.yaxis.range[1] > sample.column("num_pricing_views_l7d").max()
