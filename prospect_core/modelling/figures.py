"""Plotly figure builders: data in (from `evaluation` and `explain`), `go.Figure` out.

Pure functions: no Streamlit, no I/O, no model fitting. Every figure has a title, axis titles, a
legend where there is more than one trace, the `plotly_white` template and a fixed height. Tests read
the numbers back from the traces.
"""

from __future__ import annotations

import functools
import html
import textwrap
from typing import Mapping, Sequence, Union

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from prospect_core.modelling.evaluation import Confusion, Evaluation, ProfitCurve
from prospect_core.modelling.explain import RowExplanation, ShapSample, shap_importance
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.events.target_explorer import TargetLadder
from prospect_core.trainingset.wording import window_label, window_text, window_words

TEMPLATE = "plotly_white"
HEIGHT = 420
WEBGL_MIN_POINTS = 1_000
MAX_CURVE_POINTS = 800
POSITIVE, NEGATIVE, NEUTRAL = "#d62728", "#1f77b4", "#7f7f7f"
CHOSEN = "#2ca02c"  # the one threshold the user chose
CHANCE = dict(color=NEUTRAL, dash="dash", width=1)

CurveInput = Union["Evaluation", Sequence]  # an Evaluation, or (x, y, area)


@functools.cache
def _template(trace_types: frozenset[str]) -> dict:
    """TEMPLATE's layout and the defaults of these trace types only. Plotly validates the whole template of
    every figure it is set on: plotly_white's 24 trace types cost ~15 ms of CPU a figure, its layout and a
    figure's own types ~4 ms (Evaluate draws two figures on every threshold move). The defaults of trace
    types a figure lacks draw nothing."""
    white = pio.templates[TEMPLATE].to_plotly_json()
    return {"layout": white["layout"], "data": {kind: white["data"][kind] for kind in sorted(trace_types) if kind in white["data"]}}


def _layout(figure: go.Figure, *, title: str, x_title: str, y_title: str, height: int = HEIGHT) -> go.Figure:
    # set, not updated: an update would merge it into the default template the figure was made with
    figure.layout.template = _template(frozenset(trace.type for trace in figure.data))
    figure.update_layout(
        title=title,
        xaxis_title=x_title,
        yaxis_title=y_title,
        height=height,
        margin=dict(l=60, r=30, t=60, b=110),
        # below the axis title: inside the plot, a legend covers the curves it describes
        legend=dict(orientation="h", yanchor="top", y=-0.24, xanchor="left", x=0),
    )
    return figure


def _text(value: object) -> str:
    """Data (an event name, a label, a category) for a figure's titles, labels and legends, where
    plotly renders a subset of HTML (`<a href>` makes a link): it shows as written."""
    return html.escape(str(value), quote=False)


# A category label wraps at this many characters: at 420 px a longer line squeezes the bars to nothing.
LABEL_WRAP = 32
LINE_PX = 16


def _category_names(columns: Sequence[str], labels: Mapping[str, str] | None) -> list[str]:
    """Axis labels for feature columns: `labels`' words wrapped onto lines, escaped. Plotly draws equal
    labels as one category, so a repeated one names its column."""
    words = [(labels or {}).get(column, column) for column in columns]
    repeated = {word for word in words if words.count(word) > 1}
    return ["<br>".join(_text(line) for line in textwrap.wrap(f"{word} ({column})" if word in repeated else word,
                                                                LABEL_WRAP, break_long_words=True))
            for word, column in zip(words, columns)]


def _rows_height(names: Sequence[str], *, row_px: int = 28) -> int:
    """Pixels for horizontal rows of `names`: plotly spaces rows evenly, so each gets the height of the
    label with the most lines (a row of three under a row of two overlapped its neighbours)."""
    lines = max((name.count("<br>") + 1 for name in names), default=1)
    return len(names) * max(row_px, LINE_PX * lines + 12)


def _scatter_class(n_points: int) -> type:
    return go.Scattergl if n_points >= WEBGL_MIN_POINTS else go.Scatter


def _thinned(x: Sequence, y: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """At most MAX_CURVE_POINTS evenly spaced points of a curve, its first and last among them.

    ROC and precision-recall curves have a point per distinct test score (15-18k at 1M events): in
    full, Train's ROC figure of six runs is ~2.5 MB of JSON on every rerun, and the line looks the
    same at this many points. The areas in the legends are the evaluation's, from every point.
    """
    x, y = np.asarray(x), np.asarray(y)
    if len(x) <= MAX_CURVE_POINTS:
        return x, y
    keep = np.linspace(0, len(x) - 1, MAX_CURVE_POINTS).round().astype(int)
    return x[keep], y[keep]


def _runs(curves: Evaluation | Mapping[str, CurveInput], default_label: str = "model") -> dict[str, CurveInput]:
    if isinstance(curves, Mapping):
        if not curves:
            raise ValueError("curves must hold at least one run, got an empty mapping")
        return dict(curves)
    return {default_label: curves}


# ----- threshold-free curves -----------------------------------------------------------------------


def roc_figure(curves: Evaluation | Mapping[str, CurveInput], *, title: str = "ROC curve") -> go.Figure:
    """ROC curve(s) with the AUC in each legend entry and the chance diagonal.

    `curves`: one `Evaluation`, or a mapping label -> `Evaluation` or `(fpr, tpr, auc)` to overlay runs.
    Each curve is drawn with at most MAX_CURVE_POINTS points; the AUC is the one given.
    """
    figure = go.Figure()
    for label, curve in _runs(curves).items():
        fpr, tpr, auc = (curve.roc.x, curve.roc.y, curve.roc_auc) if hasattr(curve, "roc") else curve
        fpr, tpr = _thinned(fpr, tpr)
        figure.add_trace(
            go.Scatter(
                x=fpr, y=tpr, mode="lines", name=f"{label} (AUC {auc:.3f})",
                hovertemplate="FPR %{x:.3f}<br>TPR %{y:.3f}<extra>%{fullData.name}</extra>",
            )
        )
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance (AUC 0.5)", line=CHANCE))
    figure.update_xaxes(range=[0, 1], constrain="domain")
    figure.update_yaxes(range=[0, 1.02])
    return _layout(figure, title=title, x_title="False positive rate", y_title="True positive rate (recall)")


def pr_figure(
    curves: Evaluation | Mapping[str, CurveInput], *, base_rate: float | None = None, title: str = "Precision-recall curve"
) -> go.Figure:
    """Precision-recall curve(s), average precision in the legend, and the base-rate (no-skill) line.

    `curves`: one `Evaluation`, or label -> `Evaluation` or `(recall, precision, average_precision)`.
    The base rate defaults to the first `Evaluation`'s. Each curve is drawn with at most
    MAX_CURVE_POINTS points; the average precision is the one given.
    """
    figure = go.Figure()
    runs = _runs(curves)
    for label, curve in runs.items():
        recall, precision, ap = (curve.pr.x, curve.pr.y, curve.pr_auc) if hasattr(curve, "pr") else curve
        recall, precision = _thinned(recall, precision)
        figure.add_trace(
            go.Scatter(
                x=recall, y=precision, mode="lines", line_shape="hv",
                name=f"{label} (AP {ap:.3f})",
                hovertemplate="recall %{x:.3f}<br>precision %{y:.3f}<extra>%{fullData.name}</extra>",
            )
        )
    if base_rate is None:
        base_rate = next((curve.base_rate for curve in runs.values() if hasattr(curve, "base_rate")), None)
    if base_rate is not None:
        figure.add_trace(
            go.Scatter(x=[0, 1], y=[base_rate, base_rate], mode="lines", name=f"base rate {base_rate:.1%}", line=CHANCE)
        )
    figure.update_xaxes(range=[0, 1])
    figure.update_yaxes(range=[0, 1.02])
    return _layout(figure, title=title, x_title="Recall", y_title="Precision")


# ----- at a threshold ------------------------------------------------------------------------------


def confusion_figure(confusion: Confusion, *, outcomes: tuple[str, str] = ("negative", "positive"),
                     title: str | None = None) -> go.Figure:
    """2x2 heatmap coloured by the per-actual-class rate, each cell showing its count and rate.

    `outcomes` names the actual classes in the target's words (`("did not submit a form within 1
    hour", "submitted a form within 1 hour")`); the predicted side is "flagged" or not."""
    counts, rates = confusion.matrix, confusion.rates
    text = [[f"{counts[i, j]:,}<br>{rates[i, j]:.1%}" for j in range(2)] for i in range(2)]
    figure = go.Figure(
        go.Heatmap(
            z=rates, x=["not flagged", "flagged"], y=["<br>".join(_text(line) for line in textwrap.wrap(label, 18)) for label in outcomes],
            text=text, texttemplate="%{text}", textfont=dict(size=16), customdata=counts,
            colorscale="Blues", zmin=0, zmax=1, colorbar=dict(title="row rate", tickformat=".0%"),
            hovertemplate="%{y}, %{x}<br>%{customdata:,} rows (%{z:.1%} of the actual class)<extra></extra>",
        )
    )
    figure.update_yaxes(autorange="reversed")
    return _layout(
        figure, title=title or f"Confusion matrix at threshold {confusion.threshold:.2f}",
        x_title="Predicted", y_title="Actual", height=380,
    )


# ----- ranking: lift and gains ---------------------------------------------------------------------


def lift_figure(table: pd.DataFrame, *, title: str = "Lift by score decile") -> go.Figure:
    """Bars: lift of each bin (1 = highest scores); line: cumulative lift; dashed: no lift (1)."""
    figure = go.Figure()
    figure.add_trace(
        go.Bar(
            x=table["bin"], y=table["lift"], name="lift in bin", marker_color=NEGATIVE,
            customdata=np.c_[table["rate"], table["rows"]],
            hovertemplate="bin %{x}: lift %{y:.2f}<br>rate %{customdata[0]:.1%} of %{customdata[1]:,} rows<extra></extra>",
        )
    )
    figure.add_trace(go.Scatter(x=table["bin"], y=table["cum_lift"], mode="lines+markers", name="cumulative lift", line=dict(color=POSITIVE)))
    figure.add_trace(go.Scatter(x=[table["bin"].min() - 0.5, table["bin"].max() + 0.5], y=[1, 1], mode="lines", name="no lift", line=CHANCE))
    figure.update_xaxes(dtick=1)
    return _layout(figure, title=title, x_title="Score bin (1 = highest scores)", y_title="Lift (rate / base rate)")


def gains_figure(table: pd.DataFrame, *, title: str = "Cumulative gains") -> go.Figure:
    """Share of all positives captured by the top x% of scores, against random and perfect ordering."""
    x = np.r_[0.0, table["cum_rows_share"].to_numpy()]
    y = np.r_[0.0, table["cum_positives_share"].to_numpy()]
    base_rate = table["positives"].sum() / table["rows"].sum()
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name="model", line=dict(color=POSITIVE)))
    figure.add_trace(go.Scatter(x=[0, base_rate, 1], y=[0, 1, 1], mode="lines", name="perfect", line=dict(color=NEUTRAL, dash="dot", width=1)))
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="random", line=CHANCE))
    figure.update_xaxes(range=[0, 1], tickformat=".0%")
    figure.update_yaxes(range=[0, 1.02], tickformat=".0%")
    return _layout(figure, title=title, x_title="Share of prospects contacted (highest scores first)", y_title="Share of conversions captured")


def calibration_figure(table: pd.DataFrame, *, title: str = "Calibration") -> go.Figure:
    """Observed positive rate against mean predicted probability per bin, with the perfect diagonal.

    Both axes stop a little past the largest value (not at 1): with rare targets every bin sits
    near 0, and on a 0-1 square their markers pile on top of each other.
    """
    top = max(float(table["mean_predicted"].max()), float(table["fraction_positive"].max()), 0.0)
    limit = min(1.0, max(0.1, np.ceil(top * 1.1 * 10) / 10))
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=table["mean_predicted"], y=table["fraction_positive"], mode="lines+markers", name="model",
            customdata=table["rows"], line=dict(color=POSITIVE, width=1.5),
            # marker area follows the rows in the bin (a bin of a few rows should not look as certain),
            # small and outlined so neighbouring bins stay apart
            marker=dict(size=5 + 6 * np.sqrt(table["rows"] / max(table["rows"].max(), 1)), opacity=0.85,
                        line=dict(color="white", width=1)),
            hovertemplate="predicted %{x:.3f}<br>observed %{y:.3f}<br>%{customdata:,} rows<extra></extra>",
        )
    )
    figure.add_trace(go.Scatter(x=[0, limit], y=[0, limit], mode="lines", name="perfectly calibrated", line=CHANCE))
    figure.update_xaxes(range=[0, limit])
    figure.update_yaxes(range=[0, limit * 1.02])
    return _layout(figure, title=title, x_title="Mean predicted probability", y_title="Observed conversion rate")


# ----- importance ----------------------------------------------------------------------------------


def importance_figure(
    table: pd.DataFrame, *, value: str = "gain_share", top: int = 20, title: str = "Feature importance (XGBoost gain)",
    x_title: str = "Share of total gain", labels: Mapping[str, str] | None = None,
) -> go.Figure:
    """Horizontal bars of `table[value]` by `table['feature']`, the largest at the top, one bar per column.

    `labels` (column -> human label) names the bars, wrapped; the column name is then in the tooltip."""
    shown = table.nlargest(top, value).iloc[::-1]
    names = _category_names(list(shown["feature"]), labels)
    figure = go.Figure(
        go.Bar(x=shown[value], y=names, customdata=shown["feature"], orientation="h", marker_color=NEGATIVE, name=value,
               hovertemplate="%{y} (%{customdata}): %{x:.4f}<extra></extra>")
    )
    figure.update_yaxes(automargin=True)  # the labels' width, not a fixed margin that clips them
    return _layout(figure, title=title, x_title=x_title, y_title="", height=max(300, _rows_height(names) + 150))


def shap_bar_figure(sample: ShapSample, *, top: int = 20, title: str = "Mean |SHAP| per feature",
                    labels: Mapping[str, str] | None = None) -> go.Figure:
    """Global SHAP importance: mean absolute contribution (log-odds) per feature."""
    return importance_figure(
        shap_importance(sample), value="mean_abs_shap", top=top, title=title, x_title="Mean |SHAP value| (log-odds)",
        labels=labels,
    )


def _normalised(values: pd.Series) -> np.ndarray:
    """Numeric values scaled to [0, 1] between their 5th and 95th percentiles (NaN if not numeric)."""
    if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
        return np.full(len(values), np.nan)
    numbers = values.to_numpy(dtype=float)
    low, high = np.nanpercentile(numbers, [5, 95])
    if high <= low:
        low, high = np.nanmin(numbers), np.nanmax(numbers)
    if high <= low:
        return np.full(len(values), 0.5)
    return np.clip((numbers - low) / (high - low), 0, 1)


def _jitter(shap_values: np.ndarray, rng: np.random.Generator, width: float = 0.4) -> np.ndarray:
    """Vertical offsets that widen where many points share a SHAP value (a cheap beeswarm)."""
    counts, edges = np.histogram(shap_values, bins=40)
    density = counts[np.clip(np.searchsorted(edges, shap_values, side="right") - 1, 0, len(counts) - 1)]
    return rng.uniform(-1, 1, len(shap_values)) * width * np.sqrt(density / max(counts.max(), 1))


def shap_beeswarm_figure(
    sample: ShapSample, *, top: int = 12, seed: int = 0, title: str = "SHAP values per feature",
    labels: Mapping[str, str] | None = None,
) -> go.Figure:
    """One row of points per feature (most important at the top), x = SHAP value, colour = feature value.

    Colour is the feature's value scaled to its 5th-95th percentile (blue low, red high); text
    categories have no order, so their points are grey. Two traces: coloured points, grey points.
    """
    order = shap_importance(sample)["feature"].head(top).tolist()[::-1]
    rng = np.random.default_rng(seed)
    xs, ys, colours, hover = [], [], [], []
    for position, feature in enumerate(order):
        values = sample.column(feature)
        raw = sample.data[feature]
        xs.append(values)
        ys.append(position + _jitter(values, rng))
        colours.append(_normalised(raw))
        hover.append([f"{_text((labels or {}).get(feature, feature))} = {_text(value)}" for value in raw])
    x, y, colour, text = np.concatenate(xs), np.concatenate(ys), np.concatenate(colours), np.concatenate(hover)
    numeric = ~np.isnan(colour)
    scatter = _scatter_class(len(x))
    figure = go.Figure()
    figure.add_trace(
        scatter(
            x=x[numeric], y=y[numeric], mode="markers", name="numeric value", text=text[numeric],
            marker=dict(color=colour[numeric], colorscale=[[0, NEGATIVE], [1, POSITIVE]], cmin=0, cmax=1, size=4,
                        opacity=0.7, colorbar=dict(title="feature value", tickvals=[0, 1], ticktext=["low", "high"])),
            hovertemplate="%{text}<br>SHAP %{x:.3f}<extra></extra>",
        )
    )
    figure.add_trace(
        scatter(
            x=x[~numeric], y=y[~numeric], mode="markers", name="category (no order)", text=text[~numeric],
            marker=dict(color=NEUTRAL, size=4, opacity=0.5), hovertemplate="%{text}<br>SHAP %{x:.3f}<extra></extra>",
        )
    )
    figure.add_vline(x=0, line=dict(color=NEUTRAL, width=1))
    names = _category_names(order, labels) if labels else order
    figure.update_yaxes(tickvals=list(range(len(order))), ticktext=names, range=[-0.7, len(order) - 0.3], automargin=True)
    figure.update_layout(legend=dict(orientation="h", y=-0.15))
    return _layout(
        figure, title=title, x_title="SHAP value (log-odds impact on the score)", y_title="",
        height=max(360, _rows_height(names, row_px=34) + 160),
    )


def shap_waterfall_figure(explanation: RowExplanation, *, top: int = 10, title: str | None = None,
                          labels: Mapping[str, str] | None = None) -> go.Figure:
    """One prospect: from the base value, each feature's contribution, to the prospect's log-odds.

    The `top` largest contributions are shown; the rest are summed into one "other features" step.
    `labels` (column -> words) names the features.
    """
    contributions = explanation.contributions
    order = contributions.abs().sort_values(ascending=False, kind="stable").index
    shown, rest = list(order[:top]), list(order[top:])
    named = dict(zip(shown, _category_names(shown, labels)))
    # The base value and the prediction carry their numbers in their labels: written beside their long
    # bars, the numbers ran into the feature names on a phone's width.
    labels = [f"base value {explanation.base_value:+.3f}"] + [
        f"{named[feature]} = {_text(explanation.values[feature])}" for feature in shown]
    steps = [explanation.base_value] + [float(contributions[feature]) for feature in shown]
    if rest:
        labels.append(f"{len(rest)} other features")
        steps.append(float(contributions[rest].sum()))
    # a calibrated model's explanation ends at its score before calibration: say so, not the calibrated score
    ending = "prediction before calibration" if explanation.calibrated else "prediction"
    labels.append(f"{ending} {explanation.margin:+.3f} ({explanation.score:.1%})")
    steps.append(explanation.margin)
    measures = ["absolute"] + ["relative"] * (len(steps) - 2) + ["total"]
    texts = [""] + [f"{step:+.3f}" for step in steps[1:-1]] + [""]
    path = np.cumsum([0.0, *steps[:-1]])
    low, high = min(path.min(), 0.0), max(path.max(), 0.0)
    pad = 0.3 * (high - low or 1.0)  # room for a contribution's number beside its bar
    figure = go.Figure(
        go.Waterfall(
            orientation="h", y=labels, x=steps, measure=measures, name="contribution",
            increasing=dict(marker_color=POSITIVE), decreasing=dict(marker_color=NEGATIVE),
            totals=dict(marker_color=NEUTRAL), text=texts, textposition="outside", cliponaxis=False,
            connector=dict(line=dict(color="#bbbbbb", width=1)),
        )
    )
    figure.update_xaxes(range=[low - pad, high + pad])
    # plotly accumulates in trace order; read it top to bottom
    figure.update_yaxes(autorange="reversed", automargin=True)
    return _layout(
        figure,
        title=title or f"Why this prospect scores {explanation.score:.1%}{' before calibration' if explanation.calibrated else ''} "
        f"(log-odds {explanation.margin:+.2f})",
        x_title="Log-odds (base + contributions)", y_title="",
        height=max(360, _rows_height(labels, row_px=30) + 140),
    )


def shap_dependence_figure(
    sample: ShapSample, feature: str, *, color_by: str | None = None, title: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> go.Figure:
    """SHAP value of `feature` against its value; optionally coloured by another feature's value.
    `labels` (column -> words) names the features."""
    named = (labels or {}).get(feature, feature)
    values = sample.column(feature)
    raw = sample.data[feature]
    is_numeric = pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_bool_dtype(raw)
    marker: dict = dict(size=5, opacity=0.6, color=NEGATIVE)
    if color_by is not None:
        sample.column(color_by)  # validates the name
        marker.update(color=_normalised(sample.data[color_by]), colorscale=[[0, NEGATIVE], [1, POSITIVE]],
                      cmin=0, cmax=1, colorbar=dict(title=dict(text=color_by, side="right"), tickvals=[0, 1],
                                                    ticktext=["low", "high"], len=0.9))
    if is_numeric:
        x, text = raw.to_numpy(dtype=float), raw.astype(str).to_numpy()
    else:  # categories: one column of points each, spread sideways so they do not hide each other
        labels = raw.astype(str).replace("", "(missing)")
        categories = sorted(labels.unique())
        codes = labels.map({category: code for code, category in enumerate(categories)}).to_numpy(dtype=float)
        x = codes + np.random.default_rng(0).uniform(-0.25, 0.25, len(codes))
        text = labels.map(_text).to_numpy()
    figure = go.Figure(
        _scatter_class(len(values))(
            x=x, y=values, mode="markers", marker=marker, name=_text(named), text=text,
            hovertemplate=f"{_text(named)} = %{{text}}<br>SHAP %{{y:.3f}}<extra></extra>",
        )
    )
    # an explicit range with room above the highest point: left to autorange (and the app's theme),
    # the top markers sat on the plot's edge, cut in half
    low, high = min(float(np.min(values)), 0.0), max(float(np.max(values)), 0.0)
    pad = 0.08 * (high - low or 1.0)
    figure.update_yaxes(range=[low - pad, high + pad])
    if not is_numeric:
        figure.update_xaxes(tickvals=list(range(len(categories))), ticktext=[_text(category) for category in categories])
    figure.add_hline(y=0, line=dict(color=NEUTRAL, width=1))
    heading = "<br>".join(textwrap.wrap(f"SHAP dependence: {_text(named)}", 2 * LABEL_WRAP))  # a phone clipped it
    return _layout(figure, title=title or heading, x_title=_text(named), y_title="SHAP value (log-odds)")


# ----- the spec ------------------------------------------------------------------------------------


# The timeline's plot area is at least this wide (a 420 px phone screen: the page's column less the
# margins, with no row names beside the axis), and a 12 px label takes about this much per character:
# enough to tell whether a label fits inside its bar, and how long a line fits beside it.
TIMELINE_PLOT_PX = 290
LABEL_PX_PER_CHAR = 7
TARGET_LINE_CHARS = 28


def timeline_figure(spec: TrainingSpec, *, title: str = "Prediction structure") -> go.Figure:
    """History windows -> prediction point -> target window, in days relative to the prediction point.

    The target window is minutes long against history windows of days, so it is drawn at a minimum
    visible width; its label gives the real length.
    """
    long_days, short_days = spec.long_window_days, spec.short_window_days
    target_days = spec.target_window_minutes / (60 * 24)
    target_drawn = max(target_days, long_days * 0.12)
    # the target's label sits right of its bar, one part a line; a long event name is shortened to fit
    event = _text(spec.target_event if len(spec.target_event) <= 24 else spec.target_event[:23] + "\u2026")
    # the window in words ("next 7 days"), not minutes: a long label pushed the axis far right
    what = f"'{event}'" + (f" x{spec.target_min_count}" if spec.target_min_count > 1 else "")
    when = f"next {window_text(spec.target_window_minutes)}:"
    joint = " " if len(when) + len(what) < TARGET_LINE_CHARS else "<br>"  # one line where it fits beside the bars
    target_label = when + joint + what + ("<br>(not to scale)" if target_drawn > target_days else "")
    rows = [
        ("long history window", -long_days, long_days, NEGATIVE, window_words(spec, "long")),
        ("short history window", -short_days, short_days, "#6baed6", window_words(spec, "short")),
        ("target window", 0.0, target_drawn, POSITIVE, target_label),
    ]
    # the target's label sits left of the prediction point, in its row's empty history side, so the
    # axis can end just past the target bar (room for a label on the right left 20-30 empty days)
    x_range = [-long_days * 1.05, target_drawn + long_days * 0.04]
    figure = go.Figure()
    for name, start, length, colour, label in rows:
        is_target = name == "target window"
        # a history label that would not fit in its bar goes to the bar's left, where its row is empty
        fits = not is_target and length / (x_range[1] - x_range[0]) * TIMELINE_PLOT_PX >= LABEL_PX_PER_CHAR * len(label) + 12
        figure.add_trace(
            go.Bar(
                y=[name], x=[length], base=[start], orientation="h", name=name, marker_color=colour,
                text=[label], textposition="inside" if fits else "none",
                insidetextanchor="middle", textfont=dict(size=12, color="white"),
                cliponaxis=False, constraintext="none", hoverinfo="text", hovertext=[label],
            )
        )
        if not fits:
            figure.add_annotation(x=start, y=name, text=label, xanchor="right", showarrow=False, xshift=-12 if is_target else -6,
                                  font=dict(size=12, color="#333333"))
    figure.add_trace(
        go.Scatter(
            x=[0, 0], y=[rows[0][0], rows[-1][0]], mode="lines+markers", name="prediction point (the event)",
            line=dict(color="black", width=2, dash="dot"), marker=dict(symbol="diamond", size=12, color="black"),
            hovertext=["prediction point: features use only strictly earlier events"] * 2, hoverinfo="text",
        )
    )
    # the rows are named by the legend and their labels: names beside the axis took half of a phone's width,
    # and the bars' labels then overlapped
    figure.update_yaxes(categoryorder="array", categoryarray=[row[0] for row in rows][::-1], showticklabels=False)
    figure.update_xaxes(range=x_range, zeroline=False)
    _layout(figure, title=title, x_title="Days relative to the prediction point", y_title="", height=340)
    # a short figure: the shared legend offset would sit on the axis title
    return figure.update_layout(barmode="overlay", showlegend=True, legend=dict(y=-0.42), margin=dict(l=20))


def class_balance_figure(negatives: int, positives: int, *, title: str = "Class balance") -> go.Figure:
    """Rows per target class, with each class's share in its label."""
    total = max(negatives + positives, 1)
    figure = go.Figure(
        go.Bar(
            x=["negative", "positive"], y=[negatives, positives], marker_color=[NEGATIVE, POSITIVE],
            text=[f"{negatives:,} ({negatives / total:.1%})", f"{positives:,} ({positives / total:.1%})"],
            textposition="outside", cliponaxis=False, showlegend=False,
        )
    )
    figure.update_yaxes(range=[0, max(negatives, positives, 1) * 1.2])
    return _layout(figure, title=title, x_title="Target", y_title="Rows", height=320)


# ----- the target explorer and thresholds in business terms -----------------------------------------


def target_explorer_figure(ladder: TargetLadder, *, title: str = "Which targets are learnable") -> go.Figure:
    """Positive rate against target window, one line per explored event; the spec's event in red.

    Each point's customdata is (event, window minutes, positive moments, positive prospects), so a
    click can set the target; the spec's own window is the dashed line.
    """
    windows = list(ladder.windows)
    labels = [window_label(minutes) for minutes in windows]
    figure = go.Figure()
    for event in ladder.events:
        rows = ladder.table[ladder.table["event_name"] == event]
        chosen = event == ladder.spec.target_event
        figure.add_trace(
            go.Scatter(
                x=[labels[windows.index(minutes)] for minutes in rows["target_window_minutes"]], y=rows["positive_rate"],
                mode="lines+markers", name=_text(event) + (" (target)" if chosen else ""), text=[_text(event)] * len(rows),
                line=dict(color=POSITIVE, width=3) if chosen else dict(width=1.5),
                marker=dict(size=9 if chosen else 6),
                customdata=np.c_[rows["event_name"], rows["target_window_minutes"], rows["positive_points"], rows["positive_prospects"]],
                hovertemplate="%{text} within %{x}<br>%{y:.1%} of moments positive<br>"
                              "%{customdata[2]:,} positive moments from %{customdata[3]:,} prospects<extra></extra>",
            )
        )
    spec_position = windows.index(ladder.spec.target_window_minutes)
    figure.add_vline(x=spec_position, line=CHANCE, annotation_text="current window", annotation_position="top")
    figure.update_xaxes(type="category", categoryorder="array", categoryarray=labels)
    figure.update_yaxes(tickformat=".0%", rangemode="tozero")
    return _layout(figure, title=title, x_title="Target window (how soon after the moment)", y_title="Moments that reach the target")


def profit_figure(curve: ProfitCurve, *, chosen: float | None = None, currency: str = "",
                  title: str = "Expected profit by threshold") -> go.Figure:
    """Expected profit a day against threshold, the best threshold marked (none when none pays) and
    the `chosen` one (Evaluate's one threshold) as a line with its profit.

    At most MAX_CURVE_POINTS points are drawn (the curve has one per prospect's best score); the best
    is always among them. The curve is a step: profit changes only at those scores.
    """
    keep = np.unique(np.r_[np.linspace(0, len(curve.thresholds) - 1, min(len(curve.thresholds), MAX_CURVE_POINTS)).astype(int),
                           int(np.argmax(curve.profit_per_day))])
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=curve.thresholds[keep], y=curve.profit_per_day[keep], mode="lines", name="expected profit a day",
            line=dict(color=NEGATIVE, shape="vh"), customdata=np.c_[curve.flagged_share[keep], curve.caught_share[keep]],
            hovertemplate=f"threshold %{{x:.3f}}<br>{currency}%{{y:,.0f}} a day<br>flags %{{customdata[0]:.1%}} of prospects, "
                          "catches %{customdata[1]:.0%} of converting prospects<extra></extra>",
        )
    )
    figure.add_hline(y=0, line=dict(color=NEUTRAL, width=1))
    if curve.best is not None:
        best = curve.best
        figure.add_trace(
            go.Scatter(
                x=[best.threshold], y=[best.profit_per_day], mode="markers", name=f"best profit at {best.threshold:.4g}",
                marker=dict(color=POSITIVE, size=12, symbol="diamond"),
                hovertemplate=f"best: threshold %{{x:.3f}}<br>{currency}%{{y:,.0f}} a day<extra></extra>",
            )
        )
    if chosen is not None:
        at = curve.at(chosen)
        figure.add_trace(
            go.Scatter(
                x=[at.threshold], y=[at.profit_per_day], mode="markers", name=f"chosen threshold {at.threshold:.4g}",
                marker=dict(color=CHOSEN, size=11, symbol="circle-open", line=dict(width=3)),
                hovertemplate=f"chosen: threshold %{{x:.3f}}<br>{currency}%{{y:,.0f}} a day<extra></extra>",
            )
        )
    figure.update_xaxes(range=[0, 1])
    return _layout(figure, title=title, x_title="Score threshold (flag a prospect at or above)",
                   y_title=f"Expected profit a day{f' ({currency})' if currency else ''}")
