"""Training where the data is: a training set past one machine's row cap, fitted on Spark by XGBoost's
own `xgboost.spark.SparkXGBClassifier`, comes back as the same scikit-learn pipeline a local fit makes.

How the pipeline stays one:
- its preprocessor (counts scaled, flags as 0/1, categories one-hot: `model.build_pipeline`) is fitted
  on a seeded sample of training rows brought to the driver (at most `sample_rows`), then applied to
  every partition with `mapInPandas`, so the booster learns exactly the numbers the pipeline feeds it.
  A scaler fitted on a sample rather than every row moves no tree split (it is monotone) and the
  pipeline stays consistent with itself; the one-hot categories are every value in the sample
  (an unseen one scores as unknown, as in a local fit);
- the booster Spark fitted is loaded into the pipeline's `XGBClassifier`, so the joblib, the signed
  card, the Signals definitions and the scoring service are the local ones, unchanged.
The split is by prospect, by a hash of the prospect id (the same prospect on one side, every run).

pyspark and xgboost.spark are imported here only, when a Spark fit is asked for.
"""

from __future__ import annotations

import time
from typing import Any, Iterator

import numpy as np
import pandas as pd

from prospect_core.modelling.evaluation import evaluate
from prospect_core.infra.errors import DatasetError
from prospect_core.modelling.model import MIN_ROWS_PER_CLASS, CompactFrame, ModelParams, TrainingRun, build_pipeline
from prospect_core.trainingset import features
from prospect_core.trainingset.spec import TrainingSpec

SAMPLE_ROWS = 200_000  # rows the preprocessor is fitted on, at most
TEST_BUCKETS = 5  # one prospect in five is on the test side


def _by_prospect(rows: Any, seed: int) -> tuple[Any, Any]:
    from pyspark.sql import functions as F

    bucket = F.pmod(F.xxhash64(F.col("domain_userid"), F.lit(seed)), F.lit(TEST_BUCKETS))
    return rows.where(bucket != 0), rows.where(bucket == 0)


def _transformed(rows: Any, preprocessor: Any, inputs: list[str], width: int, target: str) -> Any:
    """`rows` as f0..f{width-1} (the preprocessor's output) and label, computed on the partitions."""
    from pyspark.sql.types import DoubleType, IntegerType, StructField, StructType

    names = [f"f{index}" for index in range(width)]
    schema = StructType([*(StructField(name, DoubleType()) for name in names), StructField("label", IntegerType())])

    def transform(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            matrix = np.asarray(preprocessor.transform(batch[inputs]), dtype=np.float64)
            out = pd.DataFrame(matrix, columns=names)
            out["label"] = batch[target].fillna(False).astype(bool).astype(np.int32).to_numpy()
            yield out

    return rows.select(*inputs, target).mapInPandas(transform, schema=schema)


def fit_on_spark(train: Any, spec: TrainingSpec, params: ModelParams, *, num_workers: int = 1,
                 sample_rows: int = SAMPLE_ROWS) -> tuple[Any, Any]:
    """(the fitted scikit-learn pipeline, Spark's fitted model) from the training rows `train`."""
    from xgboost import XGBClassifier
    from xgboost.spark import SparkXGBClassifier

    inputs, target = features.feature_columns(spec), spec.target_column
    pipeline = build_pipeline(spec, params)
    fraction = min(1.0, 2.0 * sample_rows / max(train.count(), 1))  # about twice as many, then a cap
    sample = train.select(*inputs).sample(fraction=fraction, seed=params.seed).limit(sample_rows).toPandas()
    preprocessor = pipeline.named_steps["preprocessor"].fit(sample)
    width = len(preprocessor.get_feature_names_out())
    local = pipeline.named_steps["classifier"]
    shared = ("n_estimators", "max_depth", "learning_rate", "subsample", "scale_pos_weight", "eval_metric")
    estimator = SparkXGBClassifier(
        features_col=[f"f{index}" for index in range(width)], label_col="label", num_workers=num_workers,
        random_state=params.seed, **{key: value for key, value in local.get_params().items() if key in shared},
    )
    spark_model = estimator.fit(_transformed(train, preprocessor, inputs, width, target))
    classifier = XGBClassifier(**local.get_params())
    classifier.load_model(bytearray(spark_model.get_booster().save_raw("ubj")))
    pipeline.steps[-1] = ("classifier", classifier)
    return pipeline, spark_model


def train_on_spark(rows: Any, spec: TrainingSpec, params: ModelParams | None = None, *,
                   num_workers: int = 1, sample_rows: int = SAMPLE_ROWS) -> TrainingRun:
    """Split `rows` (a Spark DataFrame of the training set) by prospect, fit on the training side on
    Spark, and score the test side with the returned pipeline: a run like a local one, `split="by_user"`."""
    params = params or ModelParams()
    timings: dict[str, float] = {}
    inputs, target = features.feature_columns(spec), spec.target_column
    train, test = _by_prospect(rows, params.seed)
    started = time.perf_counter()
    pipeline, _ = fit_on_spark(train, spec, params, num_workers=num_workers, sample_rows=sample_rows)
    timings["fit"] = time.perf_counter() - started
    started = time.perf_counter()
    keys = list(features.IDENTIFIER_COLUMNS)
    scored = test.select(*keys, *inputs, target).toPandas()
    y_test = scored[target].fillna(False).astype(bool).to_numpy().astype(np.int64)
    if min(int(y_test.sum()), len(y_test) - int(y_test.sum())) < MIN_ROWS_PER_CLASS:
        raise DatasetError(
            f"too few rows for a by-prospect test side on Spark: {len(y_test)} rows, {int(y_test.sum())} positive; "
            f"it needs at least {MIN_ROWS_PER_CLASS} rows of each class. Build a larger training set (more "
            "prospects, a longer cohort window) or choose a target that happens more often."
        )
    X_test = scored[inputs].reset_index(drop=True)
    y_score = pipeline.predict_proba(X_test)[:, 1]
    timings["score"] = time.perf_counter() - started
    from pyspark.sql import functions as F

    counts = train.select(F.count(F.lit(1)), F.sum(F.col(target).cast("int"))).collect()[0]  # rows, positives
    return TrainingRun(
        pipeline=pipeline, spec=spec, params=params, split="by_user",
        test_rows=CompactFrame.of(X_test), y_test=y_test, y_score=y_score,
        test_keys=CompactFrame.of(scored[keys].reset_index(drop=True)),
        n_train=int(counts[0]), n_test=len(scored), positives_train=int(counts[1] or 0),
        positives_test=int(y_test.sum()), evaluation=evaluate(y_true=y_test, y_score=y_score), timings=timings,
    )
