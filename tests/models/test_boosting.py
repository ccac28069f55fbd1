"""Boosting: ``xgboost.train`` by default, or the trainer installed for a context."""

from __future__ import annotations

import numpy as np
import xgboost as xgb

from oncoresist.models import boosting


def _matrix() -> xgb.DMatrix:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    return xgb.DMatrix(x, label=(x[:, 0] > 0).astype(float))


def test_default_is_xgboost_train():
    params = {"objective": "binary:logistic", "max_depth": 2, "nthread": 1, "seed": 0}
    dtrain = _matrix()
    assert boosting.engine_name() == "local"
    ours = boosting.train(params, dtrain, num_boost_round=3)
    theirs = xgb.train(params, dtrain, num_boost_round=3, verbose_eval=False)
    np.testing.assert_array_equal(ours.predict(dtrain), theirs.predict(dtrain))


def test_installed_trainer_gets_every_call_and_is_reset():
    calls = []

    def trainer(params, dtrain, **kwargs):
        calls.append((params, dtrain, kwargs))
        return "booster"

    dtrain = _matrix()
    with boosting.use_trainer(trainer, "fake"):
        assert boosting.engine_name() == "fake"
        result = boosting.train({"max_depth": 2}, dtrain, 5, evals=((dtrain, "train"),))
    assert result == "booster"
    assert calls == [
        (
            {"max_depth": 2},
            dtrain,
            {
                "num_boost_round": 5,
                "evals": [(dtrain, "train")],
                "early_stopping_rounds": None,
                "verbose_eval": False,
            },
        )
    ]
    assert boosting.engine_name() == "local"
