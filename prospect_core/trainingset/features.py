"""The feature registry: every model input, once, derived from the attribute registry.

Each feature is one (attribute, window) pair of `prospect_core.trainingset.attributes`: a Snowplow Signals
attribute computed as of an event (the prediction point), either a property of that event itself
or an aggregate over the user's history in a window (short, long, a period of its own, lifetime),
seen as the spec's `feature_timing` says. Column names carry the window's length
(`num_sessions_l7d`; a lifetime column is the attribute's name alone), so they come from the spec;
with the default spec they are the tutorial's names. A spec's preset gives the first attributes and
its custom ones (`TrainingSpec.attributes`) add features after them in the same window.

The SQL templates alias their columns from here, the pipeline takes its column lists from here, and
the model card, scoring and the app label and type features from here (`kind` says how the model
treats a feature, `dtype` how it is stored: `day_of_week` is a category stored as an integer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prospect_core.trainingset.attributes import BUILT_IN_ATTRIBUTES, PROPERTIES, Attribute, Dtype, Kind, Property, Window
from prospect_core.trainingset.spec import EVENT_NAME_COLUMN, IDENTIFIER_COLUMNS, TrainingSpec
from prospect_core.trainingset.wording import window_words

_WINDOW_ORDER = {"event": 0, "short": 1, "long": 2, "period": 3, "lifetime": 4}


@dataclass(frozen=True)
class Feature:
    attribute: Attribute
    window: Window

    @property
    def name(self) -> str:
        return self.attribute.name

    @property
    def kind(self) -> Kind:
        return self.attribute.kind  # type: ignore[return-value]

    @property
    def dtype(self) -> Dtype:
        return self.attribute.dtype  # type: ignore[return-value]

    @property
    def default(self) -> Any:
        return self.attribute.default

    @property
    def value_property(self) -> Property | None:
        """The property whose values the column holds (first/last), with the values it may take."""
        if self.attribute.aggregation in ("first", "last"):
            return PROPERTIES[self.attribute.property]
        return None

    @property
    def description(self) -> str:
        return self.attribute.label or self.attribute.name.replace("_", " ")

    @property
    def key(self) -> str:
        """Stable name the SQL templates use, independent of window lengths: `num_sessions_short`."""
        return self.name if self.window == "event" else f"{self.name}_{self.window}"

    @property
    def period_days(self) -> int | None:
        """The attribute's own period, for the `period` window."""
        return self.attribute.period_days if self.window == "period" else None

    def days(self, spec: TrainingSpec) -> int | None:
        """Days of history the column reads; None for the event itself and for lifetime."""
        return spec.window_days(self.window, self.attribute.period_days)

    def span(self, spec: TrainingSpec) -> str | None:
        """The history the SQL computes the column over, shared by every column of the same length:
        `d7` (7 days), `lifetime`; None for the event itself."""
        if self.window == "event":
            return None
        days = self.days(spec)
        return "lifetime" if days is None else f"d{days}"

    def column(self, spec: TrainingSpec) -> str:
        """The column name under `spec`: `num_sessions_l7d` for `num_sessions` in a 7-day window."""
        return spec.window_column(self.name, self.window, self.attribute.period_days)

    def window_text(self, spec: TrainingSpec) -> str:
        words = window_words(spec, self.window, self.attribute.period_days)
        if self.window == "event":
            return words
        seen = "events up to and including the event" if spec.feature_timing == "signals" else "earlier events"
        return f"{seen} in the {words}"


def expand(attributes: tuple[Attribute, ...]) -> tuple[Feature, ...]:
    """One feature per attribute and window, window by window (event, short, long), in attribute order."""
    pairs = [(attribute, window) for attribute in attributes for window in attribute.windows]
    ordered = sorted(enumerate(pairs), key=lambda item: (_WINDOW_ORDER[item[1][1]], item[0]))
    return tuple(Feature(attribute, window) for _, (attribute, window) in ordered)


def spec_attributes(spec: TrainingSpec) -> tuple[Attribute, ...]:
    """The preset's attributes, then the spec's own."""
    return spec.all_attributes


def spec_features(spec: TrainingSpec) -> tuple[Feature, ...]:
    """Every model input of `spec`, in column order."""
    if not spec.attributes and spec.preset_attributes is BUILT_IN_ATTRIBUTES:
        return FEATURES
    return expand(spec_attributes(spec))


# The default spec's features: the tutorial's 20.
FEATURES: tuple[Feature, ...] = expand(BUILT_IN_ATTRIBUTES)
FEATURES_BY_KEY = {feature.key: feature for feature in FEATURES}


def feature_columns(spec: TrainingSpec, kind: Kind | None = None) -> list[str]:
    """Column names in registry order, optionally only one kind."""
    return [f.column(spec) for f in spec_features(spec) if kind is None or f.kind == kind]


def column_aliases(spec: TrainingSpec) -> dict[str, str]:
    """`{'num_sessions_short': 'num_sessions_l7d', ...}`: what the SQL templates alias their columns to."""
    return {feature.key: feature.column(spec) for feature in spec_features(spec)}


def training_columns(spec: TrainingSpec) -> list[str]:
    """Every column of the training set, in order: identifiers, the event's name, features, target."""
    return [*IDENTIFIER_COLUMNS, EVENT_NAME_COLUMN, *feature_columns(spec), spec.target_column]
