"""Training on Spark (XGBoost's SparkXGBClassifier on a real local Spark) gives the studio's own pipeline:
its scores are Spark's model's scores, and it exports, signs and loads like a local fit."""

from __future__ import annotations

import numpy as np
import pytest

from prospect_core.events.build import query_training_set
from prospect_core.events.demo_data import write_demo_db
from prospect_core.events.warehouse import DuckDBWarehouse
from prospect_core.modelling.model import ModelParams, train_model
from prospect_core.trainingset import features
from prospect_core.trainingset.spec import TrainingSpec
from tests.conftest import AS_OF
from tests.spark_session import needs_spark, start_local_spark

pytestmark = needs_spark

SPEC = TrainingSpec(as_of=AS_OF)
PARAMS = ModelParams(n_estimators=40, max_depth=4, seed=3)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    write_demo_db(path, n_users=1500, seed=11, anchor=AS_OF)
    return query_training_set(DuckDBWarehouse(path), SPEC)


@pytest.fixture(scope="module")
def spark_rows(built):
    session = start_local_spark()
    yield session.createDataFrame(built)
    session.stop()


def test_the_pipeline_scores_as_sparks_model_does(spark_rows, built):
    from prospect_core.modelling.spark_fit import _transformed, fit_on_spark

    pipeline, spark_model = fit_on_spark(spark_rows, SPEC, PARAMS)
    inputs = features.feature_columns(SPEC)
    preprocessor = pipeline.named_steps["preprocessor"]
    width = len(preprocessor.get_feature_names_out())
    on_spark = spark_model.transform(_transformed(spark_rows, preprocessor, inputs, width, SPEC.target_column))
    spark_scores = np.array([row.probability[1] for row in on_spark.select("probability").collect()])
    local_scores = pipeline.predict_proba(built[inputs])[:, 1]
    assert len(spark_scores) == len(built) > 1_000
    np.testing.assert_allclose(local_scores, spark_scores, rtol=1e-5, atol=1e-6)
    assert 0.0 < local_scores.min() < local_scores.max() < 1.0


def test_a_spark_run_exports_and_loads_like_a_local_one(spark_rows, built, tmp_path):
    from prospect_core.modelling.spark_fit import train_on_spark
    from prospect_core.outputs.artifact import load_artifact, save_artifact

    run = train_on_spark(spark_rows, SPEC, PARAMS)
    local = train_model(built, SPEC, PARAMS, split="by_user")
    assert run.n_train + run.n_test == len(built) and run.positives_test > 0
    # the same kind of model on the same data: about as good (different prospects on the test side)
    assert abs(run.evaluation.roc_auc - local.evaluation.roc_auc) < 0.1 and run.evaluation.roc_auc > 0.7
    path = tmp_path / "spark_model.joblib"
    save_artifact(run.pipeline, path)
    loaded = load_artifact(path)  # the restricted loader: scikit-learn and xgboost classes only
    np.testing.assert_allclose(loaded.predict_proba(run.X_test)[:, 1], run.y_score, rtol=1e-6)
