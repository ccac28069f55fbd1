"""`oncoresist train --engine dask`: the single-machine training run, boosting on Dask.

Everything but boosting is the ordinary :func:`~oncoresist.pipelines.train.train`: the same
split plan, the same :class:`~oncoresist.features.builder.FeatureBuilder` fitted on the training
split on the client (so the features are identical), the same CV, calibration, test-split
evaluation, explanations and MLflow logging. Inside :func:`~oncoresist.scale.boosting.dask_boosting`
every XGBoost fit (CV folds, calibration folds, final models) becomes ``xgboost.dask.train``
over a ``DaskDMatrix`` whose row blocks are spread over the workers; the result is a plain
``xgboost.Booster``, so the bundle, SHAP and scoring are unchanged. The run is logged with
``engine=dask`` as a parameter and a tag.

What does not move to the workers: reading the cohort and building features (one pass,
seconds for 100k treatments), and the test-split evaluation. The workers do the boosting,
which is what grows with rows × trees.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from oncoresist.models.config import TrainingConfig
from oncoresist.pipelines.train import train
from oncoresist.scale.boosting import dask_boosting
from oncoresist.scale.cluster import dask_client


def train_dask(
    config: TrainingConfig,
    data_path: str | Path,
    experiment: str | None = None,
    tracking_uri: str | None = None,
    report: Any = None,
    *,
    scheduler: str | None = None,
    n_workers: int | None = None,
    client: Any = None,
) -> Any:
    """:func:`~oncoresist.pipelines.train.train` with every XGBoost fit on a Dask cluster.

    Parameters
    ----------
    config, data_path, experiment, tracking_uri, report
        As for :func:`~oncoresist.pipelines.train.train`.
    scheduler : str, optional
        ``tcp://HOST:8786`` of a running cluster; default: a local cluster sized to the
        machine (one single-threaded worker process per core, or ``n_workers``).
    client : distributed.Client, optional
        Use this client (left open).

    Returns
    -------
    TrainingResult
        As the single-machine run; the MLflow run carries ``engine=dask``.
    """
    kwargs = {} if report is None else {"report": report}
    with dask_client(scheduler, n_workers, client) as dask, dask_boosting(dask):
        return train(config, data_path, experiment=experiment, tracking_uri=tracking_uri, **kwargs)
