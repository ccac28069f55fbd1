"""XGBoost boosting on a Dask cluster: the trainer :func:`dask_boosting` installs.

Inside :func:`dask_boosting` every :func:`oncoresist.models.boosting.train` call (CV folds,
calibration folds, final models) sends the same parameters and data to ``xgboost.dask.train``
on the client's workers, over a ``DaskDMatrix`` whose row blocks are spread across them. The
result is a plain ``xgboost.Booster``, so bundles, SHAP and scoring do not change.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from oncoresist.models.boosting import use_trainer

#: Engine name logged with runs trained inside :func:`dask_boosting`.
ENGINE = "dask"


@contextmanager
def dask_boosting(client: Any) -> Iterator[Any]:
    """Route every boosting call in this context to ``xgboost.dask`` on ``client``."""
    with use_trainer(functools.partial(dask_train, client), ENGINE):
        yield client


def dask_train(
    client: Any,
    params: dict[str, Any],
    dtrain: Any,
    num_boost_round: int,
    evals: Sequence[tuple[Any, str]] = (),
    early_stopping_rounds: int | None = None,
    verbose_eval: bool = False,
) -> Any:
    """``xgboost.train`` on the workers of ``client`` (``xgboost.dask.train``).

    Parameters and return value are those of ``xgboost.train`` after ``client``; the rows of
    ``dtrain`` and of each ``evals`` matrix are split across the workers
    (:func:`to_dask_matrix`).
    """
    from xgboost import dask as dxgb  # noqa: PLC0415

    # Each worker boosts with its own thread count: an ``nthread`` here (the model's n_jobs,
    # meant for one machine) would override it on every worker and oversubscribe its cores.
    threads = {k: params[k] for k in ("nthread", "n_jobs") if k in params}
    output = dxgb.train(
        client,
        {k: v for k, v in params.items() if k not in threads},
        to_dask_matrix(client, dtrain),
        num_boost_round=num_boost_round,
        evals=[(to_dask_matrix(client, d), name) for d, name in evals] or None,
        early_stopping_rounds=early_stopping_rounds,
        verbose_eval=verbose_eval,
    )
    booster = output["booster"]
    if threads:  # the fitted model predicts on one machine as a locally trained one would
        booster.set_param(threads)
    return booster


def to_dask_matrix(client: Any, dmatrix: Any) -> Any:
    """The rows of an in-memory ``DMatrix`` as a ``DaskDMatrix`` split across the workers.

    Missing cells stay missing (the CSR of a DMatrix omits exactly its missing values);
    labels and survival bounds travel with their rows.
    """
    import dask.array as da  # noqa: PLC0415
    from xgboost import dask as dxgb  # noqa: PLC0415

    n_rows, n_cols = dmatrix.num_row(), dmatrix.num_col()
    csr = dmatrix.get_data()
    dense = np.full((n_rows, n_cols), np.nan, dtype=np.float32)
    rows = np.repeat(np.arange(n_rows), np.diff(csr.indptr))
    dense[rows, csr.indices] = csr.data
    n_workers = max(1, len(client.scheduler_info(n_workers=-1)["workers"]))
    step = max(1, math.ceil(n_rows / n_workers))

    def split(values: np.ndarray) -> Any:
        return None if values.size == 0 else da.from_array(values, chunks=step)

    return dxgb.DaskDMatrix(
        client,
        da.from_array(dense, chunks=(step, n_cols)),
        label=split(dmatrix.get_label()),
        label_lower_bound=split(dmatrix.get_float_info("label_lower_bound")),
        label_upper_bound=split(dmatrix.get_float_info("label_upper_bound")),
        feature_names=dmatrix.feature_names,
    )
