"""A Spark session as a source of events: the training-set SQL in the `databricks` dialect, run where
the events are (a Databricks cluster's session, or a local Spark in tests and on a laptop).

pyspark is imported only by the caller who builds a session; this module only talks to the session it
is given, so importing it costs nothing.
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from prospect_core.events.warehouse import Preflight, run_preflight
from prospect_core.infra.errors import SourceError, first_line
from prospect_core.trainingset.spec import TrainingSpec
from prospect_core.trainingset.training_sql import DialectName


class SparkWarehouse:
    """Runs rendered `databricks` SQL through `session.sql(text, args=params)` (named `:markers`)."""

    dialect: DialectName = "databricks"
    notices: tuple[str, ...] = ()

    def __init__(self, session: Any, *, events_table: str | None = None) -> None:
        self.session = session
        self.events_table = events_table

    @property
    def label(self) -> str:
        return "Spark session" + (f" ({self.events_table})" if self.events_table else "")

    def frame(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        """The query as a Spark DataFrame, left on the cluster (for training where the data is)."""
        try:
            return self.session.sql(sql, args=dict(params or {}) or None)
        except Exception as error:  # pyspark's AnalysisException/ParseException: name the first line only
            raise SourceError(f"Spark refused the query: {first_line(error)}") from None

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        frame = self.frame(sql, params)
        try:
            result = frame.toPandas()
        except Exception as error:
            raise SourceError(f"the Spark query failed while running: {first_line(error)}") from None
        result.columns = [str(name).lower() for name in result.columns]
        # Spark hands timestamps over as nanoseconds; they hold microseconds, as in every other source
        for name in result.columns:
            if result[name].dtype.kind == "M":
                result[name] = result[name].astype("datetime64[us]")
        return result

    def preflight(self, spec: TrainingSpec) -> Preflight:
        return run_preflight(self, spec)

    def cancel(self) -> bool:
        self.session.sparkContext.cancelAllJobs()
        return True
