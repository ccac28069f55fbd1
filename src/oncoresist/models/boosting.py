"""The one place XGBoost boosting runs: ``xgboost.train``, or a trainer installed for a context.

The model classes (:class:`~oncoresist.models.mechanism.MechanismClassifier`,
:class:`~oncoresist.models.survival.TimeToResistanceModel`) call :func:`train` instead of
``xgboost.train``. By default it *is* ``xgboost.train``. Inside :func:`use_trainer` the same
parameters and data go to the installed trainer instead (for example
:func:`oncoresist.scale.boosting.dask_boosting`, which trains on a Dask cluster's workers); a
trainer returns a plain ``xgboost.Booster``, so bundles, SHAP and scoring do not change.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import xgboost as xgb

#: A trainer: the keyword arguments and result of :func:`train` (``xgboost.train``'s).
Trainer = Callable[..., Any]


class InstalledTrainer(NamedTuple):
    """A trainer installed by :func:`use_trainer`, with the engine name logged for its runs."""

    engine: str
    train: Trainer


#: Boosting in this process: ``xgboost.train`` (the default trainer).
LOCAL = InstalledTrainer("local", xgb.train)

#: The trainer boosting uses: :data:`LOCAL` unless one is installed (:func:`use_trainer`).
_TRAINER: contextvars.ContextVar[InstalledTrainer] = contextvars.ContextVar(
    "oncoresist_trainer", default=LOCAL
)


def engine_name() -> str:
    """The engine of the installed trainer (``"dask"`` on Dask), else ``"local"`` (logged)."""
    return _TRAINER.get().engine


@contextmanager
def use_trainer(trainer: Trainer, engine: str) -> Iterator[None]:
    """Route every :func:`train` call in this context to ``trainer`` (logged as ``engine``).

    ``trainer`` is called as ``trainer(params, dtrain, num_boost_round=..., evals=[...],
    early_stopping_rounds=..., verbose_eval=...)`` and returns an ``xgboost.Booster``.
    """
    token = _TRAINER.set(InstalledTrainer(engine, trainer))
    try:
        yield
    finally:
        _TRAINER.reset(token)


def train(
    params: dict[str, Any],
    dtrain: Any,
    num_boost_round: int,
    evals: Sequence[tuple[Any, str]] = (),
    early_stopping_rounds: int | None = None,
    verbose_eval: bool = False,
) -> Any:
    """``xgboost.train`` here, or the trainer installed by :func:`use_trainer`.

    Parameters and return value are those of ``xgboost.train``.
    """
    return _TRAINER.get().train(
        params,
        dtrain,
        num_boost_round=num_boost_round,
        evals=list(evals),
        early_stopping_rounds=early_stopping_rounds,
        verbose_eval=verbose_eval,
    )
