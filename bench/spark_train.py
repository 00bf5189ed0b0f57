"""Training past the row cap: a local Spark fit (SparkXGBClassifier, every row) against the capped local fit.

    .venv/bin/python bench/spark_train.py --events 10000000

Both build the same training set from the same generated events: DuckDB's fast query for the local
fit, then the studio's row cap (`max_training_rows`, sampled by prospect as the app does); the
`databricks` dialect on a local Spark (`local[*]`) for the Spark fit, which keeps every row. Prints
wall seconds of each step, rows used and ROC AUC on each fit's own by-prospect test side, with the
load average. Needs Java (Debian's OpenJDK) for Spark.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.events import generate_events, write_events_db  # noqa: E402
from prospect_core.events.build import query_training_set  # noqa: E402
from prospect_core.events.spark import SparkWarehouse  # noqa: E402
from prospect_core.events.warehouse import DuckDBWarehouse  # noqa: E402
from prospect_core.infra.limits import DEFAULT_MAX_TRAINING_ROWS  # noqa: E402
from prospect_core.modelling.model import ModelParams, train_model  # noqa: E402
from prospect_core.modelling.spark_fit import train_on_spark  # noqa: E402
from prospect_core.trainingset.spec import TrainingSpec  # noqa: E402
from prospect_core.trainingset.training_sql import render_training_sql  # noqa: E402

AS_OF = dt.date(2025, 5, 14)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--max-rows", type=int, default=DEFAULT_MAX_TRAINING_ROWS)
    args = parser.parse_args()
    spec, params = TrainingSpec(as_of=AS_OF), ModelParams()
    work = Path(tempfile.mkdtemp(prefix="bench_spark_"))
    clock = time.perf_counter()
    frame = generate_events(args.events, as_of=AS_OF, seed=1)
    db = write_events_db(work / "events.duckdb", frame)
    print(f"{len(frame):,} events generated in {time.perf_counter() - clock:.0f} s; load average {os.getloadavg()}")

    clock = time.perf_counter()
    built = query_training_set(DuckDBWarehouse(db), spec)
    built_s = time.perf_counter() - clock
    capped = built
    if len(built) > args.max_rows:  # the app's cap keeps whole prospects
        users = built["domain_userid"].drop_duplicates().sample(frac=args.max_rows / len(built), random_state=0)
        capped = built[built["domain_userid"].isin(users)]
    clock = time.perf_counter()
    local = train_model(capped, spec, params, split="by_user")
    print(f"local : build {built_s:.0f} s, fit on {local.n_train:,} of {len(built):,} rows "
          f"{time.perf_counter() - clock:.0f} s, ROC AUC {local.evaluation.roc_auc:.4f}")

    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[*]").config("spark.ui.enabled", "false")
             .config("spark.sql.session.timeZone", "UTC").config("spark.driver.memory", "8g").getOrCreate())
    parquet = work / "events.parquet"
    import duckdb

    with duckdb.connect(str(db)) as connection:
        connection.execute(f"copy atomic.events to '{parquet}' (format parquet)")
    spark.sql("create database if not exists atomic")
    (spark.read.parquet(str(parquet))
     .selectExpr("* except (contexts_nl_basjes_yauaa_context_1, contexts_com_snowplowanalytics_snowplow_media_player_2)",
                 "transform(from_json(contexts_nl_basjes_yauaa_context_1, 'array<struct<deviceClass:string>>'), "
                 "x -> named_struct('device_class', x.deviceClass)) as contexts_nl_basjes_yauaa_context_1",
                 "cast(null as array<struct<current_time:double>>) as contexts_com_snowplowanalytics_snowplow_media_player_2")
     .write.mode("overwrite").saveAsTable("atomic.events"))
    clock = time.perf_counter()
    sql = render_training_sql(spec, "databricks")
    rows = SparkWarehouse(spark).frame(sql.text, sql.params).cache()
    n_rows = rows.count()
    spark_build_s = time.perf_counter() - clock
    clock = time.perf_counter()
    run = train_on_spark(rows, spec, params, num_workers=os.cpu_count() or 1)
    print(f"spark : build {spark_build_s:.0f} s ({n_rows:,} rows), fit on {run.n_train:,} rows "
          f"{time.perf_counter() - clock:.0f} s, ROC AUC {run.evaluation.roc_auc:.4f}")
    print(f"load average {os.getloadavg()}")
    spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
