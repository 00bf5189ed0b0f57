"""The feature registry: every model input, once.

Each feature mirrors a Snowplow Signals attribute computed as of an event (the prediction point):
either a property of that event itself, or an aggregate over the user's strictly earlier events in
the short or long history window. Column names carry the window's length (`num_sessions_l7d`), so
they come from the spec; with the default spec they are the tutorial's names.

The SQL templates alias their columns from here, the pipeline takes its column lists from here, and
the model card and the app label features from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from prospect_core.spec import TrainingSpec

Kind = Literal["numeric", "boolean", "categorical"]
Window = Literal["event", "short", "long"]

IDENTIFIER_COLUMNS = ("event_id", "domain_userid", "derived_tstamp")


@dataclass(frozen=True)
class Feature:
    name: str
    kind: Kind
    window: Window
    description: str

    @property
    def key(self) -> str:
        """Stable name the SQL templates use, independent of window lengths: `num_sessions_short`."""
        return self.name if self.window == "event" else f"{self.name}_{self.window}"

    def column(self, spec: TrainingSpec) -> str:
        """The column name under `spec`: `num_sessions_l7d` for `num_sessions` in a 7-day window."""
        if self.window == "event":
            return self.name
        days = spec.short_window_days if self.window == "short" else spec.long_window_days
        return f"{self.name}_l{days}d"

    def window_text(self, spec: TrainingSpec) -> str:
        if self.window == "event":
            return "the event itself"
        days = spec.short_window_days if self.window == "short" else spec.long_window_days
        return f"earlier events in the last {days} days"


def _history(window: Window) -> tuple[Feature, ...]:
    """The counters both history windows share."""
    return (
        Feature("num_sessions", "numeric", window, "Distinct sessions with an event in the window"),
        Feature("num_apps", "numeric", window, "Distinct app ids seen in the window"),
        Feature("num_page_views", "numeric", window, "page_view events in the window"),
        Feature("num_page_pings", "numeric", window, "page_ping heartbeats in the window (reading time)"),
        Feature("num_pricing_views", "numeric", window, "page_view events on a URL containing 'pricing'"),
        Feature("had_conversions", "boolean", window, "At least one submit_form event in the window"),
    )


FEATURES: tuple[Feature, ...] = (
    Feature("latest_app_id", "categorical", "event", "App id of the event ('' when missing)"),
    Feature("day_of_week", "categorical", "event", "ISO day of week of the event, 1 = Monday"),
    Feature("latest_device_class", "categorical", "event", "YAUAA device class of the event ('' when missing)"),
    *_history("short"),
    Feature(
        "num_form_engagements", "numeric", "short",
        "focus_form and change_form events in the window (a count; the tutorial's SQL made it a boolean)",
    ),
    *_history("long"),
    Feature("num_media_events", "numeric", "long", "Events carrying a media player context"),
    Feature("first_refr_medium", "categorical", "long", "Referrer medium of the earliest event in the window that has one ('' if none)"),
    Feature("first_mkt_medium", "categorical", "long", "Marketing medium of the earliest event in the window that has one ('' if none)"),
    Feature("num_engaged_campaigns", "numeric", "long", "Distinct marketing campaigns in the window"),
)

FEATURES_BY_KEY = {feature.key: feature for feature in FEATURES}


def feature_columns(spec: TrainingSpec, kind: Kind | None = None) -> list[str]:
    """Column names in registry order, optionally only one kind."""
    return [f.column(spec) for f in FEATURES if kind is None or f.kind == kind]


def column_aliases(spec: TrainingSpec) -> dict[str, str]:
    """`{'num_sessions_short': 'num_sessions_l7d', ...}`: what the SQL templates alias their columns to."""
    return {key: feature.column(spec) for key, feature in FEATURES_BY_KEY.items()}


def training_columns(spec: TrainingSpec) -> list[str]:
    """Every column of the training set, in order: identifiers, features, target."""
    return [*IDENTIFIER_COLUMNS, *feature_columns(spec), spec.target_column]
