"""Plain words for a marketer: the target as a sentence, day names, what each metric means, counts.

The exact names (columns, metric keys, event names) stay one hover away in the app; these helpers
give the words in front of them. Pure functions of the spec and of numbers, no Streamlit.

`plain` makes text from users, files and links read as itself where it is rendered as Markdown: the
app (Streamlit renders Markdown in markdown, captions, subheaders, info/warning/error boxes, `st.write`,
expander, status and widget labels, help tooltips) and the model card's Markdown. An event name, an
attribute label, a file name, or an error echoing one, shown as is could plant a link, an image (which
the reader's browser fetches), colours or icons.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from prospect_core.trainingset.attributes import Window
    from prospect_core.trainingset.spec import TrainingSpec

# (past, base form, object) for one event and for `n` events: "submitted a form", "did not submit
# a form", "reached 3 page views". Events not listed read "triggered 'event_name'".
_EVENT_WORDS: dict[str, tuple[tuple[str, str, str], tuple[str, str, str]]] = {
    "submit_form": (("submitted", "submit", "a form"), ("submitted", "submit", "{n} forms")),
    "page_view": (("viewed", "view", "a page"), ("reached", "reach", "{n} page views")),
    "page_ping": (("kept reading", "keep reading", "a page"), ("sent", "send", "{n} page pings")),
    "focus_form": (("started", "start", "a form"), ("focused", "focus", "{n} form fields")),
    "change_form": (("filled in", "fill in", "a form field"), ("filled in", "fill in", "{n} form fields")),
    "link_click": (("clicked", "click", "a link"), ("clicked", "click", "{n} links")),
    "transaction": (("made", "make", "a purchase"), ("made", "make", "{n} purchases")),
}
_OTHER_EVENT = (("triggered", "trigger", "'{event}'"), ("triggered", "trigger", "'{event}' {n} times"))

DAY_NAMES: dict[int, str] = {
    1: "Monday", 2: "Tuesday", 3: "Wednesday", 4: "Thursday", 5: "Friday", 6: "Saturday", 7: "Sunday",
}

# One line a marketer can read, keyed by the names `Evaluation.metrics()` and the pages use.
METRIC_MEANINGS: dict[str, str] = {
    "roc_auc": "How often a moment that led to the target scores above one that did not; 0.5 is a coin toss, 1 is perfect.",
    "pr_auc": "Average precision over all thresholds; compare it with the base rate, which is what guessing gets.",
    "log_loss": "How far the scores are from what happened, punishing confident mistakes; lower is better.",
    "brier": "Mean squared gap between score and outcome; lower is better, 0 is perfect.",
    "accuracy": "Share of moments called right; misleading when the target is rare (calling none gets it high).",
    "precision": "Of the moments flagged, the share that reached the target.",
    "recall": "Of the moments that reached the target, the share flagged.",
    "f1": "One number balancing precision and recall at a threshold; higher is better.",
    "base_rate": "Share of moments that reached the target: what a random pick gets.",
    "lift": "How many times more often the flagged reach the target than average.",
    "false_positive_rate": "Of the moments that did not reach the target, the share flagged anyway.",
    "flagged_share": "Share of moments scoring at or above the threshold.",
    "calibration": "Whether a score of 0.2 means a 20% chance: points on the diagonal are honest scores.",
    "prospect_roc_auc": "The same ranking measure for people: each prospect's best score against whether they ever reached the target.",
    "prospects_caught": "Of the prospects who reached the target, the share among the top-scoring prospects.",
    "expected_profit": "Value of the conversions caught minus the cost of acting on every flag, per day.",
}

_SHORT_UNITS = {"hour": "h", "minute": "min"}
MISSING = "\u2014"  # an em dash: the value is undefined (precision when nothing is flagged)


def _window_unit(minutes: int) -> tuple[int, str]:
    """(number, unit) of a target window: whole days from 2 days up, else whole hours, else minutes."""
    if minutes % (24 * 60) == 0 and minutes >= 2 * 24 * 60:
        return minutes // (24 * 60), "day"
    if minutes % 60 == 0:
        return minutes // 60, "hour"
    return minutes, "minute"


def window_text(minutes: int) -> str:
    """`15 minutes`, `90 minutes`, `1 hour`, `6 hours`, `24 hours`, `7 days`."""
    return _plural(*_window_unit(minutes))


def window_label(minutes: int) -> str:
    """The short form for an axis or a column: `15 min`, `1 h`, `24 h`, `7 days`."""
    number, unit = _window_unit(minutes)
    return _plural(number, unit) if unit == "day" else f"{number} {_SHORT_UNITS[unit]}"


def window_words(spec: TrainingSpec, window: Window, period_days: int | None = None) -> str:
    """What a feature window reads, within a sentence: `the event itself`, `last 7 days`, `whole history`."""
    if window == "lifetime":
        return "whole history"
    if window == "period" and period_days is None:
        return "attribute's own period"
    days = spec.window_days(window, period_days)
    return "the event itself" if days is None else f"last {_plural(days, 'day')}"


def window_title(spec: TrainingSpec, window: Window, period_days: int | None = None) -> str:
    """A feature window's title on the screen: `The event itself`, `Last 7 days`."""
    words = window_words(spec, window, period_days)
    return words[0].upper() + words[1:]


Tense = Literal["reached", "not reached", "never", "will"]
_VERBS: dict[str, str] = {"reached": "{past}", "not reached": "did not {base}", "never": "never {past}",
                          "will": "will {base}"}


def target_phrase(event: str, min_count: int, window_minutes: int, *, reached: bool = True,
                  tense: Tense | None = None) -> str:
    """`submitted a form within 1 hour`, `reached 3 page views within 90 minutes`; with `reached=False`
    `did not submit a form within 1 hour`; `tense` "never" (`never started a form ...`) or "will"
    (`will submit a form ...`)."""
    singular, plural = _EVENT_WORDS.get(event, _OTHER_EVENT)
    past, base, thing = singular if min_count == 1 else plural
    thing = thing.format(n=f"{min_count:,}", event=event)
    verb = _VERBS[tense or ("reached" if reached else "not reached")].format(past=past, base=base)
    return f"{verb} {thing} within {window_text(window_minutes)}"


def target_wording(spec: TrainingSpec, *, reached: bool = True, tense: Tense | None = None) -> str:
    """The spec's target in words: what a positive row's prospect did next (or `tense`, see target_phrase)."""
    return target_phrase(spec.target_event, spec.target_min_count, spec.target_window_minutes, reached=reached,
                         tense=tense)


def day_name(iso_day: int) -> str:
    """ISO day of week (1 = Monday, as the SQL's day_of_week) to its name."""
    if iso_day not in DAY_NAMES:
        raise ValueError(f"day of week must be a whole number from 1 (Monday) to 7 (Sunday), got {iso_day!r}")
    return DAY_NAMES[iso_day]


def counted(number: int, noun: str) -> str:
    """`1 prospect`, `4,640 prospects`."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def moments_from_prospects(moments: int, prospects: int, *, kind: str = "positive") -> str:
    """`4,640 positive moments from 23 prospects`."""
    return f"{moments:,} {kind} moment{'' if moments == 1 else 's'} from {counted(prospects, 'prospect')}"


def format_metric(value: float | None, digits: int = 3) -> str:
    """`0.412`, or an em dash for an undefined value (None or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return f"{value:.{digits}f}"


def share_text(share: float) -> str:
    """A share for a sentence: `45%`, `6%`, `0.4%` (one decimal under 10%, none above)."""
    percent = 100 * share
    if 0 < percent < 10 and round(percent) != percent:
        return f"{percent:.1f}%"
    return f"{percent:.0f}%"


def _plural(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


# Markdown's own syntax: a backslash makes any ASCII punctuation literal (CommonMark). An `_` between
# two letters or digits can start no emphasis, so names like num_sessions_l7d stay as they are.
_SYNTAX = re.compile(r"[\\`*~$\[\]<>#|&]|(?<![^\W_])_|_(?![^\W_])")
# List, heading-underline and rule markers count only at the start of a line.
_LINE_START = re.compile(r"^([ \t]*)([-+=]|\d+[.)])", re.MULTILINE)
# Autolinks (https://…, www.…, a@b.c), Material icons (:material/…:), emoji (:smile:) and colour
# directives are found in the parsed text, where backslashes are gone: an invisible word joiner
# (U+2060) after the `:`, the `www` or the `@` keeps them from matching.
_PARSED_TEXT_PATTERNS = re.compile(r"(?<=:)(?=\S)|(?<=www)(?=\.)|(?<=@)")
WORD_JOINER = "\u2060"


def plain(value: object) -> str:
    """`value` as text for Markdown: it reads as typed, with no link, image, HTML, emphasis, heading,
    table, math, colour or icon."""
    text = _SYNTAX.sub(lambda match: "\\" + match[0], str(value))
    text = _LINE_START.sub(lambda match: f"{match[1]}{match[2][:-1]}\\{match[2][-1]}", text)
    return _PARSED_TEXT_PATTERNS.sub(WORD_JOINER, text)
