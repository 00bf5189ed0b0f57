"""A local Apache Spark for the tests: the `databricks` dialect and the Spark training route run on it.

It needs pyspark (requirements-dev.txt) and a Java runtime (Debian's OpenJDK, which `.ci/run` and the
README's test command install). Without Java the Spark tests skip and say so; `-m "not spark"` skips
them on purpose for a quick local run (a session takes ~15 s to start).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from typing import Any, Iterable, Mapping

import pytest

from prospect_core.trainingset import atomic

NO_JAVA = shutil.which("java") is None
needs_spark = [
    pytest.mark.spark,
    pytest.mark.skipif(NO_JAVA, reason="no Java runtime for a local Spark (apt-get install openjdk-17-jre-headless)"),
]

# Snowplow's Databricks loader writes contexts as arrays of structs with snake_case fields; the rest of
# the layout is the atomic one the other readers share.
SPARK_TYPES = {"varchar": "string", "timestamp": "timestamp"}
CONTEXT_TYPES = {
    "contexts_nl_basjes_yauaa_context_1": "array<struct<device_class:string>>",
    "contexts_com_snowplowanalytics_snowplow_media_player_2": "array<struct<current_time:bigint>>",
}


def start_local_spark() -> Any:
    from pyspark.sql import SparkSession

    # Spark's Python workers run this interpreter (the venv's scikit-learn and xgboost), not `python3`
    os.environ["PYSPARK_PYTHON"] = sys.executable
    return (
        SparkSession.builder.master("local[1]")
        .appName("prospect-studio-tests")
        .config("spark.sql.warehouse.dir", tempfile.mkdtemp(prefix="spark-warehouse-"))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.ansi.enabled", "true")  # Databricks SQL's default
        .getOrCreate()
    )


def _context(column: str, text: str | None) -> list[dict] | None:
    """An atomic export's JSON context text as the loader's array of snake_case structs."""
    if text is None:
        return None
    snake = {"deviceClass": "device_class", "currentTime": "current_time"}
    return [{snake.get(key, key): value for key, value in item.items()} for item in json.loads(text)]


def write_spark_events(session: Any, rows: Iterable[Mapping[str, Any]], table: str = "atomic.events") -> str:
    """A Spark table in the Databricks layout holding `rows` (the tests' atomic rows); returns its name."""
    columns = []
    for column in atomic.EVENTS_COLUMNS:
        kind = CONTEXT_TYPES.get(column.name) or SPARK_TYPES[column.sql_type]
        columns.append(f"{column.name} {kind}")
    schema = ", ".join(columns)
    data = [
        tuple(_context(name, row.get(name)) if name in CONTEXT_TYPES else row.get(name) for name in atomic.COLUMN_NAMES)
        for row in rows
    ]
    database = table.rpartition(".")[0]
    if database:
        session.sql(f"create database if not exists {database}")
    session.createDataFrame(data, schema=schema).createOrReplaceTempView("_loading")
    session.sql(f"drop table if exists {table}")
    session.sql(f"create table {table} using parquet as select * from _loading")
    return table
