"""Plain words: the target follows its definition, days have names, undefined numbers show a dash."""

from __future__ import annotations

import datetime as dt

import pytest

from prospect_core.modelling import evaluation
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.wording import (
    METRIC_MEANINGS,
    counted,
    day_name,
    format_metric,
    share_text,
    target_phrase,
    target_wording,
    window_label,
    window_text,
    window_title,
    window_words,
)


@pytest.mark.parametrize(
    ("event", "count", "minutes", "reached", "not_reached"),
    [
        ("submit_form", 1, 60, "submitted a form within 1 hour", "did not submit a form within 1 hour"),
        ("page_view", 3, 90, "reached 3 page views within 90 minutes", "did not reach 3 page views within 90 minutes"),
        ("page_view", 1, 15, "viewed a page within 15 minutes", "did not view a page within 15 minutes"),
        ("submit_form", 2, 360, "submitted 2 forms within 6 hours", "did not submit 2 forms within 6 hours"),
        ("change_form", 1, 1440, "filled in a form field within 24 hours", "did not fill in a form field within 24 hours"),
        ("signup", 1, 10080, "triggered 'signup' within 7 days", "did not trigger 'signup' within 7 days"),
        ("signup", 1200, 1, "triggered 'signup' 1,200 times within 1 minute", "did not trigger 'signup' 1,200 times within 1 minute"),
    ],
)
def test_the_target_reads_as_its_definition(event, count, minutes, reached, not_reached):
    assert target_phrase(event, count, minutes) == reached
    assert target_phrase(event, count, minutes, reached=False) == not_reached
    spec = TrainingSpec(as_of=dt.date(2025, 5, 14), target_event=event, target_min_count=count, target_window_minutes=minutes)
    assert target_wording(spec) == reached and target_wording(spec, reached=False) == not_reached


@pytest.mark.parametrize(
    ("minutes", "text", "label"),
    [(1, "1 minute", "1 min"), (15, "15 minutes", "15 min"), (60, "1 hour", "1 h"), (90, "90 minutes", "90 min"),
     (360, "6 hours", "6 h"), (1440, "24 hours", "24 h"), (2880, "2 days", "2 days"), (10080, "7 days", "7 days"),
     (1500, "25 hours", "25 h")],
)
def test_windows_in_words(minutes, text, label):
    assert (window_text(minutes), window_label(minutes)) == (text, label)


def test_days_of_the_week_have_iso_numbers_and_names():
    assert [day_name(day) for day in range(1, 8)] == ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    # the SQL's day_of_week is ISO: 2025-05-12 was a Monday
    assert day_name(dt.date(2025, 5, 12).isoweekday()) == "Monday"
    for bad in (0, 8, "1"):
        with pytest.raises(ValueError, match=r"from 1 \(Monday\) to 7 \(Sunday\), got"):
            day_name(bad)


def test_every_metric_the_evaluation_reports_has_a_meaning():
    reported = set(evaluation.evaluate(y_true=[0, 1, 0, 1], y_score=[0.1, 0.8, 0.4, 0.6]).metrics())
    explained = {"roc_auc", "pr_auc", "log_loss", "brier", "accuracy", "precision", "recall", "f1", "base_rate"}
    assert explained <= reported and explained <= set(METRIC_MEANINGS)
    assert all(meaning.endswith(".") and len(meaning) < 140 for meaning in METRIC_MEANINGS.values())


@pytest.mark.parametrize(
    ("value", "shown"), [(None, "\u2014"), (float("nan"), "\u2014"), (0.0, "0.000"), (0.41234, "0.412"), (1, "1.000")]
)
def test_format_metric_shows_a_dash_for_undefined(value, shown):
    assert format_metric(value) == shown


@pytest.mark.parametrize(("share", "text"), [(0.45, "45%"), (0.06, "6%"), (0.062, "6.2%"), (0.004, "0.4%"), (0.0, "0%"), (1.0, "100%")])
def test_share_text(share, text):
    assert share_text(share) == text


def test_counted():
    assert (counted(1, "prospect"), counted(4640, "moment")) == ("1 prospect", "4,640 moments")


def test_a_feature_window_has_one_wording_for_sentences_and_titles():
    spec = TrainingSpec(as_of=dt.date(2025, 5, 14), short_window_days=1, long_window_days=1000)
    assert [window_words(spec, w) for w in ("event", "short", "long")] == [
        "the event itself", "last 1 day", "last 1,000 days"]
    assert [window_title(spec, w) for w in ("event", "short", "long")] == [
        "The event itself", "Last 1 day", "Last 1,000 days"]
    assert [spec.window_column("num_sessions", w) for w in ("event", "short", "long")] == [
        "num_sessions", "num_sessions_l1d", "num_sessions_l1000d"]
