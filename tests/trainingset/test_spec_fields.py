"""The spec form's field table: every TrainingSpec field is in it (or said not to be), the widgets'
values round-trip a spec, bounds are the spec's own, and every CLI spec flag comes from it.

Adding a spec field is a change to spec.py, spec_fields.SPEC_FIELDS and a test: these tests fail
until the new field is in the table.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt

import pytest

from prospect_core.cli import build_parser, spec_from_args
from prospect_core.infra.errors import SpecError
from prospect_core.trainingset.spec import FIELD_BOUNDS, TrainingSpec
from prospect_core.trainingset.spec_fields import (FIELDS, NOT_FORM_FIELDS, SPEC_FIELDS, spec_values, widget_values,
                                                   window_amount, window_minutes, window_unit)

# Every field drawn by the form differs from its default here (the events table and the switch are not
# drawn from a spec: the data source keeps its table, and the switch has no widget yet).
CHANGED = TrainingSpec(
    as_of=dt.date(2024, 3, 1), cohort_first_seen_from_days=90, cohort_first_seen_to_days=10, short_window_days=3,
    long_window_days=45, target_event="page_view", target_min_count=3, target_window_minutes=90,
    app_ids=("shop",), excluded_events=("ping",), events_table="db.atomic.events", user_sample_percent=50,
    max_negatives_per_positive=4, exclude_after_first_target=True, preset="notebook", feature_timing="signals",
    collector_tstamp_margin_days=3,
    included_events=("page_view", "view_item"), count_only_cohort_apps=True,
)


def test_every_spec_field_is_in_the_table_or_said_not_to_be():
    spec_fields = {field.name for field in dataclasses.fields(TrainingSpec)}
    table = [field.name for field in SPEC_FIELDS]
    assert len(table) == len(set(table))
    assert set(table) | set(NOT_FORM_FIELDS) == spec_fields and not set(table) & set(NOT_FORM_FIELDS)


def test_every_whole_number_field_has_the_spec_s_bounds_and_a_widget():
    assert {name for name, field in FIELDS.items() if field.kind in ("number", "window")} == set(FIELD_BOUNDS)
    for name, bounds in FIELD_BOUNDS.items():
        with pytest.raises(SpecError, match=f"{name} must be a whole number of {bounds.unit} from {bounds.low} to"):
            TrainingSpec().replace(**{name: bounds.high + 1})
    keys = [field.key for field in SPEC_FIELDS if field.key]
    assert len(keys) == len(set(keys))


def test_every_field_differs_from_its_default_in_the_changed_spec():
    default = TrainingSpec()
    assert [field.name for field in SPEC_FIELDS if getattr(CHANGED, field.name) == getattr(default, field.name)] == []


@pytest.mark.parametrize("spec", [TrainingSpec(), CHANGED], ids=["default", "every field changed"])
def test_widgets_round_trip_a_spec(spec):
    shown = widget_values(spec)
    assert (shown["window_amount"], shown["window_unit"]) == ((1, "hours") if spec == TrainingSpec() else (90, "minutes"))
    not_drawn = {field.name: getattr(spec, field.name) for field in SPEC_FIELDS if not (field.key and field.from_spec)}
    assert TrainingSpec().replace(**spec_values(shown), **not_drawn) == spec
    assert spec_values(shown) == {field.name: getattr(spec, field.name) for field in SPEC_FIELDS
                                  if field.key and field.from_spec}


def test_zero_negatives_is_none_and_a_typed_target_is_read_from_its_box():
    shown = widget_values(TrainingSpec()) | {"max_negatives": 0, "target_pick": "Other event…", "target_other": "x"}
    values = spec_values(shown)
    assert values["max_negatives_per_positive"] is None and values["target_event"] == "x"


@pytest.mark.parametrize("minutes, unit, amount", [(60, "hours", 1), (120, "minutes", 120), (90, "hours", 2),
                                                   (30, "hours", 1), (150, "hours", 3), (89, "hours", 1)])
def test_a_window_in_another_unit_keeps_its_duration_rounded_to_a_whole_one(minutes, unit, amount):
    assert window_amount(minutes, unit) == amount
    assert window_unit(minutes) == ("hours" if minutes % 60 == 0 else "minutes")
    assert window_minutes(window_amount(minutes, window_unit(minutes)), window_unit(minutes)) == minutes


def spec_flags(parser: argparse.ArgumentParser) -> set[str]:
    command = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    group = next(g for g in command.choices["sql"]._action_groups if g.title.startswith("training spec"))
    return {flag for action in group._group_actions for flag in action.option_strings}


def test_every_cli_spec_flag_comes_from_the_table():
    assert spec_flags(build_parser()) == {"--spec"} | {field.flag for field in SPEC_FIELDS}


def test_the_cli_s_flags_build_the_changed_spec():
    flags = ["--as-of", "2024-03-01", "--cohort-first-seen-from-days", "90", "--cohort-first-seen-to-days", "10",
             "--short-window-days", "3", "--long-window-days", "45", "--target-event", "page_view",
             "--target-min-count", "3", "--target-window-minutes", "90", "--app-ids", "shop", "--excluded-events",
             "ping", "--events-table", "db.atomic.events", "--user-sample-percent", "50",
             "--max-negatives-per-positive", "4", "--exclude-after-first-target", "--preset", "notebook",
             "--feature-timing", "signals", "--collector-tstamp-margin-days", "3", "--included-events",
             "page_view,view_item", "--count-only-cohort-apps"]
    assert spec_from_args(build_parser().parse_args(["sql", *flags])) == CHANGED


def test_the_cli_help_states_the_spec_s_bounds():
    help_text = " ".join(build_parser()._subparsers._group_actions[0].choices["sql"].format_help().split())
    assert "Within the next. Default 60 minutes; from 1 to 129,600 minutes" in help_text
    assert "Sample prospects (%). " in help_text and "Default 0; from 0 to 1,000" in help_text
