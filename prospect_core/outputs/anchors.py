"""Snowplow's dataset builder as a second route: the studio's prediction points as a Signals custom-anchors table.

A Signals customer can rebuild the training set's rows with Snowplow's own dataset builder
(`Signals.build_dataset_with_custom_anchors`, "user-supplied anchors" in Snowplow's docs). Its anchors
table has the attribute key column (`domain_userid`, the key of the studio's attribute group), the
anchor's timestamp `anchor_ts` and the `label` (1 positive, 0 negative); any other column is carried
into the dataset unchanged, so `event_id` ties each row back to the studio's training set.

- `anchors_frame` / `anchors_parquet`: the table, from the one built training set (`events.build`).
- `anchors_sql`: the Snowflake SQL that creates the table and loads the Parquet file into it.
- `build_dataset_bundle`: calls the real SDK's builder for the attribute group of `signals.py` and
  returns the bundle's files (its SQL, `manifest.json` and `README.md`) to save beside the anchors.

Timing: the builder computes each attribute from the events strictly before `anchor_ts`, as the
studio's `tutorial` feature timing does; Signals serving right after an event has counted that event.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd

from prospect_core.infra.errors import SpecError
from prospect_core.trainingset.spec import TrainingSpec

ATTRIBUTE_KEY = "domain_userid"  # the studio's attribute group is keyed on it (signals.py)
ANCHOR_COLUMNS = (ATTRIBUTE_KEY, "anchor_ts", "label", "event_id")
ANCHORS_FILE = "anchors.parquet"
ANCHORS_SQL_FILE = "create_anchors.sql"
DEFAULT_TABLE = "PROSPECT_SCORING_ANCHORS"


def anchors_frame(frame: pd.DataFrame, spec: TrainingSpec) -> pd.DataFrame:
    """One row per prediction point of the training set: key, anchor time (UTC, microseconds), 0/1 label."""
    return pd.DataFrame({
        ATTRIBUTE_KEY: frame["domain_userid"].astype(str).to_numpy(),
        "anchor_ts": pd.to_datetime(frame["derived_tstamp"]).astype("datetime64[us]").to_numpy(),
        "label": frame[spec.target_column].astype(bool).astype("int64").to_numpy(),
        "event_id": frame["event_id"].astype(str).to_numpy(),
    })


def anchors_parquet(frame: pd.DataFrame, spec: TrainingSpec) -> bytes:
    buffer = io.BytesIO()
    anchors_frame(frame, spec).to_parquet(buffer, index=False)
    return buffer.getvalue()


def warehouse_table(text: str) -> Any:
    """`TABLE`, `SCHEMA.TABLE` or `DATABASE.SCHEMA.TABLE` as the SDK's `WarehouseTable`, validated by its
    own model (letters, digits and _, and - in a database name), so no other character reaches SQL."""
    import pydantic
    from snowplow_signals import WarehouseTable

    parts = text.strip().split(".") if isinstance(text, str) else []
    if not 1 <= len(parts) <= 3:
        raise SpecError(f"the anchors table must be TABLE, SCHEMA.TABLE or DATABASE.SCHEMA.TABLE, got {text!r:.80}")
    names = dict(zip(("table", "schema", "database"), reversed(parts)))
    try:
        return WarehouseTable(**names)
    except pydantic.ValidationError as error:
        problem = error.errors()[0]
        field = str(problem["loc"][0]).rstrip("_")
        raise SpecError(f"the anchors table's {field} name is not accepted by Snowplow Signals: "
                        f"{problem['msg'][:1].lower()}{problem['msg'][1:]}; got {text!r:.80}") from None


def _identifier(name: str) -> str:
    """A quoted Snowflake identifier that resolves as the unquoted name would (Snowflake upper-cases those)."""
    return '"' + name.upper().replace('"', '""') + '"'


def _qualified(table: Any, suffix: str = "") -> str:
    return ".".join(_identifier(name) for name in (table.database, table.schema_, table.table + suffix) if name)


def anchors_sql(table: Any) -> str:
    """Snowflake SQL that creates `table` (a `warehouse_table`) and loads `anchors.parquet` into it.

    `put` needs a client that reads local files (SnowSQL, the Snowflake CLI or a connector); the
    temporary stage is dropped with the session."""
    target, stage = _qualified(table), _qualified(table, "_STAGE")
    return f"""\
-- The studio's prediction points as a Snowplow Signals custom-anchors table: one row per training row,
-- keyed on {ATTRIBUTE_KEY}, at anchor_ts, with its label (1 positive, 0 negative) and the studio's event_id.
-- Run from the folder holding {ANCHORS_FILE}, in SnowSQL or the Snowflake CLI (put reads a local file).
create or replace table {target} (
    {ATTRIBUTE_KEY} varchar not null,
    anchor_ts timestamp_ntz not null,
    label integer not null,
    event_id varchar not null
);
create or replace temporary stage {stage} file_format = (type = parquet);
put file://{ANCHORS_FILE} @{stage} auto_compress = false overwrite = true;
copy into {target}
    from @{stage}
    file_format = (type = parquet)
    match_by_column_name = case_insensitive;
"""


def build_dataset_bundle(client: Any, spec: TrainingSpec, table: Any, **signals_options: Any) -> dict[str, bytes]:
    """Snowplow's dataset builder for `spec`'s attribute group over the anchors in `table`: the bundle's
    files by name (its SQL files, `manifest.json`, `README.md`), as the SDK's own `save_to` writes them."""
    # Imported here: the SDK takes seconds to import, and the anchors alone need none of it.
    from prospect_core.outputs.signals import SignalsError, signals_definitions, signals_failure

    group, _, _ = signals_definitions(spec, **signals_options)
    try:
        bundle = client.build_dataset_with_custom_anchors(attribute_groups=[group], anchors_table=table)
    except Exception as error:  # the SDK raises httpx errors, SignalsAPIError and pydantic errors alike
        raise SignalsError(f"{signals_failure(error)}; the dataset builder's SQL was not made") from None
    with tempfile.TemporaryDirectory(prefix="signals_dataset_") as folder:
        bundle.save_to(folder)  # the SDK's layout; the caller writes the files through safe_io
        return {path.name: path.read_bytes() for path in sorted(Path(folder).iterdir()) if path.is_file()}


def bundle_zip(files: dict[str, bytes]) -> bytes:
    """The anchors and the dataset bundle as one zip (the app's download)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(f"signals_dataset/{name}", data)
    return buffer.getvalue()
