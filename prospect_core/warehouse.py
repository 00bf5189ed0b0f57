"""Where the events live: one small interface, one implementation per engine.

`Warehouse.query(sql, params)` runs a query rendered for `Warehouse.dialect` and returns a pandas
DataFrame with lower-case column names. Caching belongs to the app layer, not here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Protocol

import duckdb
import pandas as pd

from prospect_core.errors import SourceError
from prospect_core.training_sql import DialectName


class Warehouse(Protocol):
    dialect: DialectName

    @property
    def label(self) -> str:
        """What to show a user about this source; never credentials."""

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run one query and return its rows."""


class DuckDBWarehouse:
    """A DuckDB database file, opened read-only for each query so several sessions can share it."""

    dialect: DialectName = "duckdb"

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None) -> None:
        self.path = Path(path)
        self.threads = threads
        if not self.path.is_file():
            raise SourceError(f"DuckDB file not found: {self.path} (expected an existing .duckdb file)")

    @property
    def label(self) -> str:
        return f"DuckDB file {self.path.name}"

    def connect(self) -> duckdb.DuckDBPyConnection:
        config = {"threads": self.threads} if self.threads else {}
        try:
            return duckdb.connect(str(self.path), read_only=True, config=config)
        except duckdb.IOException as error:
            raise SourceError(
                f"cannot open DuckDB file {self.path.name}: {error}. Close other programs that hold it "
                "open for writing, or check that it is a DuckDB database file."
            ) from None

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        with self.connect() as connection:
            try:
                table = connection.sql(sql, params=dict(params or {})).to_arrow_table()
            except duckdb.CatalogException as error:
                raise SourceError(f"the query refers to something missing in {self.path.name}: {_first_line(error)}") from None
            except duckdb.BinderException as error:
                raise SourceError(f"the events table in {self.path.name} lacks a column the query needs: {_first_line(error)}") from None
        frame = table.to_pandas()
        frame.columns = [str(column).lower() for column in frame.columns]
        return frame


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]
