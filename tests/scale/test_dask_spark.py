"""The registered model scores inside Spark with ``mlflow.pyfunc.spark_udf`` (optional).

Runs only where pyspark and a Java runtime are installed; skipped otherwise.
"""

from __future__ import annotations

import shutil

import pytest

pyspark = pytest.importorskip("pyspark")
if shutil.which("java") is None:
    pytest.skip("Spark needs a Java runtime", allow_module_level=True)

pytestmark = [
    pytest.mark.slow,
    # pyspark 4.x warns that it does not fully support pandas 3 (the subset used here works).
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]

RESULT_TYPE = (
    "treatment_id string, predicted_mechanism string, p_on_target double, "
    "median_months_to_resistance double"
)


def test_spark_udf_scores_like_the_library(scoring_model, tmp_path):
    import mlflow
    import pandas as pd
    from pyspark.sql import SparkSession
    from pyspark.sql.functions import struct

    from oncoresist.features.profiles import cohort_to_profiles
    from oncoresist.io.inputs import read_cohort
    from oncoresist.knowledge.annotate import annotate_treatments
    from oncoresist.pipelines.demo import profile_sheet
    from oncoresist.scoring.engine import score_profiles

    cohort = read_cohort(scoring_model.data)
    cohort = cohort.with_tables(treatments=annotate_treatments(cohort.treatments, cohort.patients))
    sheet = profile_sheet(cohort_to_profiles(cohort)).head(12).reset_index(drop=True)
    # All-text cells, as a sheet read by Spark from CSV would be.
    sheet = sheet.astype(str).where(sheet.notna(), None)
    expected = score_profiles(scoring_model.bundle, sheet).scores

    mlflow.set_tracking_uri(scoring_model.uri)
    spark = (
        SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    try:
        frame = spark.createDataFrame(sheet)
        udf = mlflow.pyfunc.spark_udf(
            spark, scoring_model.ref, result_type=RESULT_TYPE, env_manager="local"
        )
        got = frame.withColumn("score", udf(struct(*frame.columns))).select("score.*").toPandas()
    finally:
        spark.stop()
    pd.testing.assert_series_equal(
        got["p_on_target"], expected["p_on_target"], check_names=False, rtol=1e-6
    )
    assert got["treatment_id"].tolist() == expected["treatment_id"].tolist()
