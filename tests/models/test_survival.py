"""Time-to-resistance target, XGBoost survival model and scikit-survival baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sksurv.linear_model import CoxPHSurvivalAnalysis
from sksurv.metrics import concordance_index_censored

from oncoresist.exceptions import ConfigError, InputDataError, TrainingDataError
from oncoresist.models.baselines import CoxPHBaseline, RSFBaseline
from oncoresist.models.survival import (
    EVENT_FIELD,
    TIME_FIELD,
    TimeToResistanceModel,
    make_survival_target,
    unpack_survival_target,
)

WEIBULL_SHAPE = 1.5
SMALL = {"n_estimators": 40, "learning_rate": 0.1}


def weibull_cohort(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Weibull times whose scale falls with ``risk_marker``; uniform censoring; some NaN."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"risk_marker": rng.normal(size=n), "noise": rng.normal(size=n)})
    X.loc[rng.random(n) < 0.1, "noise"] = np.nan
    scale = np.exp(2.5 - 0.8 * X["risk_marker"].to_numpy())
    event_time = scale * (-np.log(rng.random(n))) ** (1 / WEIBULL_SHAPE)
    censor_time = rng.uniform(5, 60, n)
    y = make_survival_target(np.minimum(event_time, censor_time), event_time <= censor_time)
    true_median = scale * np.log(2) ** (1 / WEIBULL_SHAPE)
    return X, y, true_median


@pytest.fixture(scope="module")
def cohort():
    X, y, true_median = weibull_cohort(500, seed=0)
    return X.iloc[:350], y[:350], X.iloc[350:], y[350:], true_median[350:]


def harrell(y: np.ndarray, risk: np.ndarray) -> float:
    return concordance_index_censored(y[EVENT_FIELD], y[TIME_FIELD], risk)[0]


# ----------------------------------------------------------------------------- target
def test_make_survival_target_layout_and_int_events():
    y = make_survival_target([3.0, 5.5, 8.0], [1, 0, 1])
    assert y.dtype.names == (EVENT_FIELD, TIME_FIELD)
    assert y[EVENT_FIELD].tolist() == [True, False, True]
    assert y[TIME_FIELD].tolist() == [3.0, 5.5, 8.0]


@pytest.mark.parametrize(
    ("time", "event", "error", "match"),
    [
        ([3.0, 4.0], [False, False], TrainingDataError, "all samples are censored"),
        ([3.0, 0.0], [True, False], InputDataError, "finite and > 0"),
        ([3.0, -1.0], [True, False], InputDataError, "finite and > 0"),
        ([3.0, np.nan], [True, False], InputDataError, "finite and > 0"),
        ([3.0, np.inf], [True, False], InputDataError, "finite and > 0"),
        ([3.0, "soon"], [True, False], InputDataError, "finite and > 0"),
        ([3.0, 4.0], ["yes", "no"], InputDataError, "must be boolean"),
        ([3.0, 4.0], [True, None], InputDataError, "missing values"),
        ([3.0, 4.0], [True], InputDataError, "time has 2 values but event has 1"),
        ([], [], TrainingDataError, "empty"),
    ],
)
def test_make_survival_target_rejects_bad_input(time, event, error, match):
    with pytest.raises(error, match=match):
        make_survival_target(time, event)


def test_unpack_rejects_plain_arrays():
    with pytest.raises(InputDataError, match="structured array"):
        unpack_survival_target(np.array([1.0, 2.0]))


def test_fit_on_all_censored_target_is_a_clear_error():
    y = np.array([(False, 3.0), (False, 4.0)], dtype=[("e", bool), ("t", float)])
    with pytest.raises(TrainingDataError, match="all samples are censored"):
        TimeToResistanceModel(**SMALL).fit(pd.DataFrame({"a": [1.0, 2.0]}), y)


# ----------------------------------------------------------------------------- AFT
def test_aft_recovers_ranking_and_median_times(cohort):
    X_train, y_train, X_test, y_test, true_median = cohort
    model = TimeToResistanceModel(
        aft_distribution="extreme", aft_scale=1 / WEIBULL_SHAPE, **SMALL
    ).fit(X_train, y_train)
    assert harrell(y_test, model.predict(X_test)) > 0.7
    assert model.score(X_test, y_test) == pytest.approx(harrell(y_test, model.predict(X_test)))
    ratio = model.predict_median(X_test) / true_median
    assert 0.7 < np.median(ratio) < 1.4
    assert np.corrcoef(np.log(model.predict_median(X_test)), np.log(true_median))[0, 1] > 0.8


@pytest.mark.parametrize("distribution", ["normal", "logistic", "extreme"])
def test_aft_survival_function_is_a_survival_function(cohort, distribution):
    X_train, y_train, X_test, _, _ = cohort
    model = TimeToResistanceModel(aft_distribution=distribution, **SMALL).fit(X_train, y_train)
    times = np.array([0.0, 1.0, 3.0, 6.0, 12.0, 24.0, 60.0, 240.0])
    surv = model.predict_survival_function(X_test, times)
    assert surv.shape == (len(X_test), times.size)
    assert np.all((surv >= 0) & (surv <= 1))
    assert np.all(np.diff(surv, axis=1) <= 1e-12)
    assert np.allclose(surv[:, 0], 1.0)
    # the quantile and the survival curve describe the same distribution
    for q in (0.25, 0.5, 0.8):
        t_q = model.predict_quantile(X_test.iloc[:5], q)
        at_q = np.diag(model.predict_survival_function(X_test.iloc[:5], t_q))
        assert np.allclose(at_q, 1 - q, atol=1e-6)
    assert np.allclose(model.predict_median(X_test), model.predict_quantile(X_test, 0.5))


def test_aft_risk_is_negative_log_time(cohort):
    X_train, y_train, X_test, _, _ = cohort
    model = TimeToResistanceModel(**SMALL).fit(X_train, y_train)
    margin = model.predict_margin(X_test)
    assert np.allclose(model.predict(X_test), -margin)
    assert np.allclose(model.predict_median(X_test), np.exp(margin))  # normal: median = e^mu
    raw = model.booster_.predict(model._dmatrix(X_test.to_numpy()), output_margin=True)
    assert np.allclose(margin, raw)


def test_shap_values_add_up_to_the_margin(cohort):
    shap = pytest.importorskip("shap")
    X_train, y_train, X_test, _, _ = cohort
    for objective in ("survival:aft", "survival:cox"):
        model = TimeToResistanceModel(objective=objective, **SMALL).fit(X_train, y_train)
        explainer = shap.TreeExplainer(model.booster_)
        values = explainer.shap_values(X_test.to_numpy())
        total = values.sum(axis=1) + explainer.expected_value
        assert np.allclose(total, model.predict_margin(X_test), atol=1e-4)


# ----------------------------------------------------------------------------- Cox
def test_cox_breslow_survival_matches_sksurv_coxph():
    rng = np.random.default_rng(1)
    n = 300
    group = (rng.random(n) < 0.5).astype(float)
    X = pd.DataFrame({"group": group})
    event_time = rng.exponential(scale=np.exp(2.5 - 1.0 * group))
    censor_time = rng.uniform(2, 40, n)
    y = make_survival_target(np.minimum(event_time, censor_time), event_time <= censor_time)
    # One binary feature, stumps, no shrinkage penalties: boosting reaches the Cox MLE.
    model = TimeToResistanceModel(
        objective="survival:cox",
        n_estimators=50,
        learning_rate=0.3,
        max_depth=1,
        subsample=1.0,
        colsample_bytree=1.0,
        reg_lambda=0.0,
        min_child_weight=0.0,
    ).fit(X, y)
    reference = CoxPHSurvivalAnalysis().fit(X, y)
    grid = np.linspace(1, 25, 30)
    expected = np.vstack([fn(grid) for fn in reference.predict_survival_function(X.iloc[:6])])
    assert np.abs(model.predict_survival_function(X.iloc[:6], grid) - expected).max() < 1e-3
    margin = model.predict_margin(X)
    log_hr = margin[group == 1].mean() - margin[group == 0].mean()
    assert log_hr == pytest.approx(reference.coef_[0], abs=0.01)
    assert np.allclose(model.predict(X), margin)


def test_cox_curves_and_quantiles(cohort):
    X_train, y_train, X_test, y_test, _ = cohort
    model = TimeToResistanceModel(objective="survival:cox", **SMALL).fit(X_train, y_train)
    assert harrell(y_test, model.predict(X_test)) > 0.7
    times = np.array([0.0, 2.0, 6.0, 12.0, 24.0, 500.0])
    surv = model.predict_survival_function(X_test, times)
    assert np.all((surv >= 0) & (surv <= 1)) and np.all(np.diff(surv, axis=1) <= 1e-12)
    assert np.allclose(surv[:, 0], 1.0)
    median = model.predict_median(X_test)
    finite = np.isfinite(median)
    assert finite.any()
    at_median = model.predict_survival_function(X_test[finite], median[finite])
    assert np.all(np.diag(at_median) <= 0.5)
    assert np.all(model.predict_quantile(X_test, 0.2) <= median)


@pytest.mark.parametrize("objective", ["survival:aft", "survival:cox"])
def test_quantiles_from_one_margin_equal_quantiles_of_row_subsets(cohort, objective):
    X_train, y_train, X_test, _, _ = cohort
    model = TimeToResistanceModel(objective=objective, **SMALL).fit(X_train, y_train)
    margin = model.predict_margin(X_test)
    rows = np.arange(0, len(X_test), 3)
    for q in (0.1, 0.5, 0.9):
        np.testing.assert_array_equal(
            model.quantile_from_margin(margin[rows], q),
            model.predict_quantile(X_test.iloc[rows], q),
        )
    with pytest.raises(ConfigError, match="quantile q"):
        model.quantile_from_margin(margin, 1.0)


# ----------------------------------------------------------------------------- options
def test_early_stopping_keeps_best_iteration(cohort):
    X_train, y_train, X_test, _, _ = cohort
    model = TimeToResistanceModel(n_estimators=400, learning_rate=0.3, early_stopping_rounds=5).fit(
        X_train, y_train
    )
    assert 1 <= model.best_iteration_ < 400
    assert model.booster_.num_boosted_rounds() == model.best_iteration_
    assert model.predict(X_test).shape == (len(X_test),)


def test_monotone_constraint_on_margin(cohort):
    X_train, y_train, _, _, _ = cohort
    model = TimeToResistanceModel(monotone_constraints={"noise": 1}, **SMALL).fit(X_train, y_train)
    sweep = pd.DataFrame({"risk_marker": 0.3, "noise": np.linspace(-3, 3, 50)})
    assert np.all(np.diff(model.predict_margin(sweep)) >= -1e-9)
    with pytest.raises(ConfigError, match="unknown features"):
        TimeToResistanceModel(monotone_constraints={"nope": 1}, **SMALL).fit(X_train, y_train)


def test_feature_names_xgboost_rejects_still_work(cohort):
    X_train, y_train, _, _, _ = cohort
    X = X_train.set_axis(["age<65", "ALK p.G1202R [flag]"], axis=1)
    model = TimeToResistanceModel(**SMALL).fit(X, y_train)
    assert list(model.feature_names_in_) == ["age<65", "ALK p.G1202R [flag]"]
    assert np.allclose(model.predict(X.iloc[:, ::-1]), model.predict(X))  # column order
    with pytest.raises(InputDataError, match="missing"):
        model.predict(X[["age<65"]])


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"objective": "survival:weibull"}, "objective"),
        ({"aft_distribution": "gamma"}, "aft_distribution"),
        ({"aft_scale": 0.0}, "aft_scale"),
    ],
)
def test_invalid_params_are_config_errors(cohort, params, match):
    X_train, y_train, _, _, _ = cohort
    with pytest.raises(ConfigError, match=match):
        TimeToResistanceModel(**params).fit(X_train, y_train)


def test_rejects_non_numeric_and_infinite_features(cohort):
    X_train, y_train, _, _, _ = cohort
    with pytest.raises(InputDataError, match="not numeric"):
        TimeToResistanceModel(**SMALL).fit(X_train.assign(drug="osimertinib"), y_train)
    with pytest.raises(InputDataError, match="infinite"):
        TimeToResistanceModel(**SMALL).fit(X_train.assign(noise=np.inf), y_train)


# ----------------------------------------------------------------------------- baselines
@pytest.mark.parametrize(
    "model",
    [CoxPHBaseline(alpha=0.01), RSFBaseline(n_estimators=30, min_samples_leaf=10)],
    ids=["coxph", "rsf"],
)
def test_baselines_rank_and_give_survival_curves(cohort, model):
    X_train, y_train, X_test, y_test, _ = cohort
    # an all-NaN and a constant column must be dropped, not crash or warn
    extra = {"never_measured": np.nan, "constant": 1.0}
    model.fit(X_train.assign(**extra), y_train)
    X_eval = X_test.assign(**extra)
    assert harrell(y_test, model.predict(X_eval)) > 0.7
    assert model.n_features_used_ == 2
    surv = model.predict_survival_function(X_eval, [0.0, 3.0, 12.0, 24.0, 1000.0])
    assert np.all((surv >= 0) & (surv <= 1)) and np.all(np.diff(surv, axis=1) <= 1e-12)
    assert np.allclose(surv[:, 0], 1.0)


def test_rsf_fits_on_the_half_month_grid(cohort):
    X_train, y_train, _, _, _ = cohort
    model = RSFBaseline(n_estimators=10, time_grid_months=0.5).fit(X_train, y_train)
    grid_times = model.pipeline_[-1].unique_times_
    assert np.allclose(grid_times * 2, np.round(grid_times * 2))
    assert grid_times.min() > 0


def test_coxph_baseline_rejects_bad_penalty(cohort):
    X_train, y_train, _, _, _ = cohort
    with pytest.raises(ConfigError, match="alpha"):
        CoxPHBaseline(alpha=0.0).fit(X_train, y_train)
