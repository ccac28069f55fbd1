"""Global SHAP figures and tables, and their logging to the training run."""

from __future__ import annotations

import numpy as np
import pytest

from oncoresist.contract import MECHANISMS
from oncoresist.explain.drivers import SURVIVAL_MODEL

#: Each test renders figures or a report from a trained model (tens of seconds on 2 cores).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def held_out_features(explain_trained):
    from oncoresist.pipelines.train import load_training_data

    profiles = load_training_data(explain_trained.data_dir).profiles.iloc[:80]
    return explain_trained.bundle.features(profiles.reset_index(drop=True))


def test_global_explanations_figures_and_tables(explain_trained, held_out_features):
    from matplotlib.figure import Figure

    from oncoresist.explain.plots import global_explanations

    out = global_explanations(explain_trained.bundle, held_out_features, top_dependence=2)
    expected = {f"explain/beeswarm_{m}.png" for m in (*MECHANISMS, SURVIVAL_MODEL)}
    expected |= {"explain/mean_abs_shap.png"}
    expected |= {
        f"explain/dependence_{m}_{n}.png" for m in ("mechanism", SURVIVAL_MODEL) for n in (1, 2)
    }
    assert set(out.figures) == expected
    assert all(isinstance(f, Figure) and f.axes for f in out.figures.values())
    table = out.tables["explain/global_importance.csv"]
    assert len(table) == held_out_features.shape[1]
    assert np.isfinite(table[SURVIVAL_MODEL]).all()
    groups = out.tables["explain/global_importance_groups.csv"]
    assert len(groups) < len(table)
    # the dependence plot of the survival model shows its top feature
    top = table.nlargest(1, SURVIVAL_MODEL)["feature"].iloc[0]
    title = out.figures[f"explain/dependence_{SURVIVAL_MODEL}_1.png"]._suptitle.get_text()
    assert title.startswith(top)
    out.close()


def test_log_global_explanations_logs_to_the_active_run(
    explain_trained, held_out_features, tmp_path
):
    from mlflow import MlflowClient

    from oncoresist.pipelines.train import log_global_explanations
    from oncoresist.tracking import store as tracking
    from oncoresist.tracking.provenance import StageTimer

    timer = StageTimer()
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    with tracking.start_run("explain-plots", uri=uri) as run:
        log_global_explanations(explain_trained.bundle, held_out_features.iloc[:40], timer=timer)
    assert timer.seconds["shap"] > 0
    logged = {
        a.path for a in MlflowClient(tracking_uri=uri).list_artifacts(run.info.run_id, "explain")
    }
    assert "explain/beeswarm_time_to_resistance.png" in logged
    assert "explain/global_importance.csv" in logged
    assert "explain/mean_abs_shap.png" in logged
