"""Event identity: an attribute's events given with a vendor (and version) are counted apart from
events of the same name under another vendor, in every formulation on DuckDB and in the Snowflake SQL
on fakesnow; a table without event_vendor/event_version still builds, matching by name."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from prospect_core.events import snowflake as sf
from prospect_core.events.warehouse import (DuckDBWarehouse, counts_by_name, event_identities, event_identity_counts,
                                            with_event_identities)
from prospect_core.outputs.signals import signals_document
from prospect_core.trainingset.attributes import EventRef, attribute_from_dict
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.training_sql import FORMULATIONS
from prospect_core.events.build import query_training_set
from tests.conftest import AS_OF, event, write_events_db
from tests.events.test_snowflake import clean_environment, fakesnow_config, fakesnow_server, load_events  # noqa: F401
from tests.events.test_table_shapes import copy_without

T0 = dt.datetime(2025, 4, 1, 12, 0, 0)  # first seen 43 days before AS_OF: in the default cohort
MINUTE = dt.timedelta(minutes=1)
ACME = "com.acme"
SNOWPLOW = "com.snowplowanalytics.snowplow"
# One prospect: three `signup` events from com.acme (two 1-0-0, one 2-0-0), two from Snowplow's
# vendor, then the row we read (a page_view) and the target.
ROWS = [
    event("a1", T0, name="signup", event_vendor=ACME, event_version="1-0-0"),
    event("s1", T0 + MINUTE, name="signup", event_vendor=SNOWPLOW, event_version="1-0-0"),
    event("a2", T0 + 2 * MINUTE, name="signup", event_vendor=ACME, event_version="1-0-0"),
    event("s2", T0 + 3 * MINUTE, name="signup", event_vendor=SNOWPLOW, event_version="1-0-0"),
    event("a3", T0 + 4 * MINUTE, name="signup", event_vendor=ACME, event_version="2-0-0"),
    event("pv", T0 + 5 * MINUTE, name="page_view", event_vendor=SNOWPLOW, event_version="1-0-0"),
    event("sf", T0 + 6 * MINUTE, name="submit_form", event_vendor=SNOWPLOW, event_version="1-0-0"),
]


def signups(**identity: str) -> dict:
    name = "_".join(["signups", *identity.values()]).replace(".", "_").replace("-", "_")
    return {"name": name, "aggregation": "count", "windows": ["short"],
            "events": [{"name": "signup", **identity} if identity else "signup"]}


SPEC = TrainingSpec(as_of=AS_OF, preset="none", attributes=(
    signups(), signups(vendor=ACME), signups(vendor=ACME, version="1-0-0"), signups(vendor=SNOWPLOW)))
# signups strictly before the page_view: by name 5; com.acme 3; com.acme 1-0-0 2; Snowplow's 2
EXPECTED = {"signups_l7d": 5, "signups_com_acme_l7d": 3, "signups_com_acme_1_0_0_l7d": 2,
            "signups_com_snowplowanalytics_snowplow_l7d": 2}
BY_NAME_ONLY = dict.fromkeys(EXPECTED, 5)


def page_view_row(frame: pd.DataFrame) -> dict[str, int]:
    row = frame.loc[frame["event_id"] == "pv"].iloc[0]
    return {column: int(row[column]) for column in EXPECTED}


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_duckdb_counts_same_named_events_of_other_vendors_apart(tmp_path, formulation):
    warehouse = DuckDBWarehouse(write_events_db(tmp_path / "events.duckdb", ROWS))
    assert page_view_row(query_training_set(warehouse, SPEC, formulation=formulation)) == EXPECTED


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_a_table_without_vendor_and_version_builds_matching_by_name(tmp_path, formulation):
    full = write_events_db(tmp_path / "events.duckdb", ROWS)
    thin = copy_without(full, tmp_path / "thin.duckdb", ("event_vendor", "event_version"))
    assert page_view_row(query_training_set(DuckDBWarehouse(thin), SPEC, formulation=formulation)) == BY_NAME_ONLY


def test_fakesnow_counts_same_named_events_of_other_vendors_apart(fakesnow_server):
    with sf.SnowflakeWarehouse(fakesnow_config(fakesnow_server)) as warehouse:
        load_events(warehouse, ROWS, "snowplow.atomic.identity_events")
        spec = SPEC.replace(events_table="snowplow.atomic.identity_events")
        assert page_view_row(query_training_set(warehouse, spec)) == EXPECTED
        counts = event_identity_counts(warehouse, spec)
    # most frequent first, then by name, vendor and version
    assert [tuple(row) for row in counts.itertuples(index=False)] == [
        (ACME, "signup", "1-0-0", 2), (SNOWPLOW, "signup", "1-0-0", 2), (SNOWPLOW, "page_view", "1-0-0", 1),
        (ACME, "signup", "2-0-0", 1), (SNOWPLOW, "submit_form", "1-0-0", 1)]


def test_event_counts_group_by_identity_and_sum_by_name(tmp_path):
    full = write_events_db(tmp_path / "events.duckdb", ROWS)
    counts = event_identity_counts(DuckDBWarehouse(full), SPEC)
    assert len(counts) == 5 and counts["events"].sum() == 7
    assert counts_by_name(counts).to_dict("records") == [
        {"event_name": "signup", "events": 5}, {"event_name": "page_view", "events": 1},
        {"event_name": "submit_form", "events": 1}]
    identities = event_identities(counts)
    assert identities["signup"] == (EventRef("signup", ACME, "1-0-0"), EventRef("signup", SNOWPLOW, "1-0-0"),
                                    EventRef("signup", ACME, "2-0-0"))
    # a source without the columns gives names alone: no identity to read
    thin = copy_without(full, tmp_path / "thin.duckdb", ("event_vendor", "event_version"))
    thin_counts = event_identity_counts(DuckDBWarehouse(thin), SPEC)
    assert counts_by_name(thin_counts)["events"].tolist() == [5, 1, 1]
    assert event_identities(thin_counts) == {"signup": (), "page_view": (), "submit_form": ()}


def test_definitions_use_the_identities_read_from_the_events_and_note_a_guess(tmp_path):
    counts = event_identity_counts(DuckDBWarehouse(write_events_db(tmp_path / "events.duckdb", ROWS)), SPEC)
    named = attribute_from_dict(signups())
    resolved = with_event_identities(named, event_identities(counts))
    document = signals_document(TrainingSpec(preset="none", attributes=(resolved,)))
    events = document["attribute_group"]["attributes"][0]["events"]
    assert [(e["vendor"], e["name"], e["version"]) for e in events] == [
        (ACME, "signup", "1-0-0"), (SNOWPLOW, "signup", "1-0-0"), (ACME, "signup", "2-0-0")]
    assert "guessed" not in document["model_inputs"][0]["note"]
    # named alone (no identity in the source): the guess, said in the note
    guessed = signals_document(TrainingSpec(preset="none", attributes=(named,)))
    assert guessed["attribute_group"]["attributes"][0]["events"] == [
        {"vendor": SNOWPLOW, "name": "signup", "version": "1-0-0"}]
    assert guessed["model_inputs"][0]["note"].endswith(
        "; vendor and version of signup guessed (com.snowplowanalytics.snowplow, 1-0-0): the attribute names the "
        "event alone, as when the events source has no event_vendor and event_version columns")
