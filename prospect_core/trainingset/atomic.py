"""The Snowplow atomic events table, as far as this studio reads it: one description for every reader.

The demo generator writes these columns, the events-file loader reads an export into them, the
preflight checks a warehouse's table has them, and the tests' factories build tables from them.
Types are DuckDB's; Snowflake stores the JSON columns as VARIANT.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AtomicColumn:
    name: str
    sql_type: str  # varchar, timestamp or json
    required: bool  # the cohort and the windows need it; an export may lack the others (read as NULL)


EVENTS_COLUMNS: tuple[AtomicColumn, ...] = (
    AtomicColumn("event_id", "varchar", True),
    AtomicColumn("derived_tstamp", "timestamp", True),
    AtomicColumn("domain_userid", "varchar", True),
    AtomicColumn("domain_sessionid", "varchar", True),
    AtomicColumn("event_name", "varchar", True),
    AtomicColumn("app_id", "varchar", True),
    # an event's Iglu identity beside its name: attributes that give a vendor or version match on them
    AtomicColumn("event_vendor", "varchar", False),
    AtomicColumn("event_version", "varchar", False),
    AtomicColumn("page_url", "varchar", False),
    AtomicColumn("refr_medium", "varchar", False),
    AtomicColumn("mkt_medium", "varchar", False),
    AtomicColumn("mkt_campaign", "varchar", False),
    AtomicColumn("contexts_nl_basjes_yauaa_context_1", "json", False),
    AtomicColumn("contexts_com_snowplowanalytics_snowplow_media_player_2", "json", False),
)

COLUMN_NAMES = tuple(column.name for column in EVENTS_COLUMNS)  # every column the training-set SQL reads
COLUMN_TYPES = {column.name: column.sql_type for column in EVENTS_COLUMNS}
REQUIRED_COLUMNS = tuple(column.name for column in EVENTS_COLUMNS if column.required)
OPTIONAL_COLUMNS = tuple(column.name for column in EVENTS_COLUMNS if not column.required)
JSON_COLUMNS = tuple(column.name for column in EVENTS_COLUMNS if column.sql_type == "json")
IDENTITY_COLUMNS = ("event_vendor", "event_version")  # with event_name, an event's Iglu identity

# Not a feature's column: when the table has it, the scan also filters on it, because Snowplow's table
# has no clustering key and is loaded in collector_tstamp order, so only this column prunes reliably.
PRUNING_COLUMN = "collector_tstamp"
DEFAULT_EVENTS_TABLE = "atomic.events"
