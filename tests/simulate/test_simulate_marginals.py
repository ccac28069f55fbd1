"""Statistical checks at n = 50,000, computed from the WRITTEN files (never the parameters).

Each check compares a simulated quantity with its published value within 3 standard errors
(fixed seed), or a planted conditional effect with its expected direction and size.

Families of many 3-SE comparisons (45 mechanism shares, ~60 prevalences) would fail by
chance alone about one run in four even for a perfect simulator (0.27% per comparison), so a
family passes when every comparison is within 3 SE except at most one, and none is beyond
4 SE. A biased simulator fails this (bias moves many comparisons at once); over four seeds
the share z-scores averaged -0.7..0.9 per comparison, i.e. no bias.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sksurv.linear_model import CoxPHSurvivalAnalysis
from sksurv.nonparametric import kaplan_meier_estimator
from sksurv.util import Surv

from oncoresist.contract import MECHANISMS
from oncoresist.evaluation.oracle import oracle_table
from oncoresist.simulate.cohort import simulate_cohort
from oncoresist.simulate.output import GROUND_TRUTH_FILE, write_simulation
from oncoresist.simulate.params import load_params, parse_event

N = 50_000
SEED = 2026
TABLES = ("patients", "samples", "treatments", "mutations", "copy_number", "fusions", "outcomes")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Simulate once, write canonical Parquet tables, read the files back as plain frames."""
    folder = tmp_path_factory.mktemp("sim50k")
    write_simulation(simulate_cohort(n=N, seed=SEED), folder, table_format="parquet")
    tables = {t: pd.read_parquet(folder / f"{t}.parquet") for t in TABLES}
    tables["ground_truth"] = pd.read_parquet(folder / GROUND_TRUTH_FILE)
    treatments = tables["treatments"].merge(tables["outcomes"], on="treatment_id")
    base = tables["samples"].query("timepoint == 'baseline'")[["sample_id", "treatment_id"]]
    tables["data"] = treatments.merge(base, on="treatment_id")
    return tables


@pytest.fixture(scope="module")
def params():
    return load_params()


def _baseline(tables, table):
    frame = tables[table]
    return frame[frame["sample_id"].str.endswith("-B")]


def _carriers(tables, event_text: str) -> set[str]:
    """Baseline samples carrying an event, read from the written genomic tables."""
    event = parse_event(event_text)
    mut, cn = _baseline(tables, "mutations"), _baseline(tables, "copy_number")
    if event.kind == "mut":
        rows = mut["gene"] == event.gene
        if event.value is not None:
            rows &= mut["protein_change"] == event.value
        return set(mut.loc[rows, "sample_id"])
    if event.kind == "cn":
        rows = (cn["gene"] == event.gene) & (cn["cn_state"] == int(event.value))
        return set(cn.loc[rows, "sample_id"])
    if event.kind == "loss":
        return set(mut.loc[mut["gene"] == event.gene, "sample_id"]) | set(
            cn.loc[(cn["gene"] == event.gene) & (cn["cn_state"] == -2), "sample_id"]
        )
    fus = _baseline(tables, "fusions")
    g5, g3 = event.gene.split("-")
    rows = (fus["gene_5p"] == g5) & (fus["gene_3p"] == g3) & (fus["variant"] == event.value)
    return set(fus.loc[rows, "sample_id"])


def _within(observed: float, expected: float, n: int, k: float = 3.0) -> bool:
    se = np.sqrt(expected * (1.0 - expected) / n)
    return abs(observed - expected) <= k * se + 1e-12


def _assert_family(checks: list[tuple[str, float, float, int]]) -> None:
    """Every (label, observed, expected, n) within 3 SE but at most one; none beyond 4 SE."""
    outside3 = [c for c in checks if not _within(c[1], c[2], c[3], 3.0)]
    outside4 = [c for c in checks if not _within(c[1], c[2], c[3], 4.0)]
    assert not outside4, f"beyond 4 SE: {outside4}"
    assert len(outside3) <= 1, f"beyond 3 SE: {outside3} of {len(checks)} comparisons"


def test_pfs_median_or_landmarks_match_the_published_figures(written, params):
    data = written["data"]
    for name, setting in params.settings.items():
        part = data[data["setting"] == name]
        event = part["resistance_observed"].astype(bool).to_numpy()
        time = part["time_to_resistance_months"].to_numpy(float)
        # 99.73% pointwise interval = +/- 3 standard errors (log-log scale)
        t, s, (low, high) = kaplan_meier_estimator(
            event, time, conf_level=0.9973, conf_type="log-log"
        )
        for month, published in setting.survival.targets.items():
            i = np.searchsorted(t, month, side="right") - 1
            assert low[i] <= published <= high[i], (
                f"{name}: KM S({month}) = {s[i]:.3f} [{low[i]:.3f}, {high[i]:.3f}], "
                f"published {published}"
            )


def test_censored_fraction_matches_the_target(written):
    censored = 1.0 - written["data"]["resistance_observed"].astype(bool).mean()
    assert _within(censored, 0.3, N), censored


def test_mechanism_shares_among_labelled_match_the_published_shares(written, params):
    data = written["data"]
    checks = []
    for name, setting in params.settings.items():
        labels = data.loc[(data["setting"] == name) & data["mechanism"].notna(), "mechanism"]
        assert len(labels) > 300
        for mechanism, published in setting.target_shares(None).items():
            share = float((labels == mechanism).mean())
            checks.append((f"{name} {mechanism}", share, published, len(labels)))
    assert len(checks) == 5 * len(params.settings)
    _assert_family(checks)


def test_driver_and_co_alteration_prevalences(written, params):
    data = written["data"]
    checks = []
    for name, setting in params.settings.items():
        samples = set(data.loc[data["setting"] == name, "sample_id"])
        spec = [(d.event, d.frequency) for d in setting.drivers]
        spec += [(c.event, c.prevalence) for c in setting.co_alterations]
        for event, expected in spec:
            observed = len(_carriers(written, event) & samples) / len(samples)
            checks.append((f"{name} {event}", observed, expected, len(samples)))
    assert len(checks) >= 50
    _assert_family(checks)


def _flags(written, data: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=data.index)
    sid = data["sample_id"]
    out["tp53"] = sid.isin(_carriers(written, "mut:TP53")).astype(float)
    out["rb1"] = sid.isin(_carriers(written, "loss:RB1")).astype(float)
    out["tp53_rb1"] = out["tp53"] * out["rb1"]
    out["l858r"] = sid.isin(_carriers(written, "mut:EGFR:p.L858R")).astype(float)
    out["met_gain"] = sid.isin(_carriers(written, "cn:MET:1")).astype(float)
    out["v1"] = sid.isin(_carriers(written, "fusion:EML4-ALK:v1")).astype(float)
    out["v3"] = sid.isin(_carriers(written, "fusion:EML4-ALK:v3")).astype(float)
    return out


def _two_proportion_z(a: pd.Series, b: pd.Series) -> float:
    pooled = (a.sum() + b.sum()) / (len(a) + len(b))
    se = np.sqrt(pooled * (1 - pooled) * (1 / len(a) + 1 / len(b)))
    return float((a.mean() - b.mean()) / se)


def test_planted_mechanism_causes_show_up(written):
    data = written["data"]
    labelled = data[data["mechanism"].notna()]
    flags = _flags(written, labelled)
    lung = labelled["setting"].str.startswith(("egfr", "alk", "kras")).to_numpy()
    lineage = (labelled["mechanism"] == "lineage")[lung]
    double = flags["tp53_rb1"][lung] == 1
    assert lineage[double].mean() > 3 * lineage[~double].mean()
    assert _two_proportion_z(lineage[double], lineage[~double]) > 10
    alectinib = (labelled["setting"] == "alk_alectinib_1L").to_numpy()
    on_target = (labelled["mechanism"] == "on_target")[alectinib]
    v3, v1 = flags["v3"][alectinib] == 1, flags["v1"][alectinib] == 1
    assert _two_proportion_z(on_target[v3], on_target[v1]) > 5
    bypass = labelled["mechanism"] == "bypass"
    gain = flags["met_gain"] == 1
    assert bypass[gain].mean() > 1.8 * bypass[~gain].mean()


def test_variant3_on_target_progressions_carry_g1202r(written):
    data = written["data"]
    rows = data[(data["setting"] == "alk_alectinib_1L") & (data["mechanism"] == "on_target")]
    flags = _flags(written, rows)
    mut = written["mutations"]
    g1202r = set(
        mut.loc[(mut["gene"] == "ALK") & (mut["protein_change"] == "p.G1202R"), "sample_id"]
    )
    carries = rows["sample_id"].str.replace("-B", "-P").isin(g1202r)
    share_v3 = carries[flags["v3"] == 1].mean()
    share_v1 = carries[flags["v1"] == 1].mean()
    assert share_v3 > share_v1 + 0.08  # parameters: 0.60 vs 0.45
    assert _within(share_v3, 0.60, int((flags["v3"] == 1).sum()))


@pytest.mark.parametrize(
    ("setting", "covariates", "hr"),
    [
        ("egfr_1st2nd_gen_TKI", ["tp53", "tp53_rb1"], 1.69),
        ("egfr_osimertinib_1L", ["tp53", "tp53_rb1", "l858r", "met_gain"], 1.69),
        ("alk_alectinib_1L", ["tp53", "v3"], 2.2),
    ],
)
def test_tp53_cox_hazard_ratio_within_20_percent(written, setting, covariates, hr):
    data = written["data"]
    part = data[data["setting"] == setting]
    x = _flags(written, part)[covariates]
    y = Surv.from_arrays(
        part["resistance_observed"].astype(bool).to_numpy(),
        part["time_to_resistance_months"].to_numpy(float),
    )
    fitted = CoxPHSurvivalAnalysis().fit(x, y)
    estimate = float(np.exp(fitted.coef_[0]))
    assert 0.8 * hr <= estimate <= 1.2 * hr, estimate


def test_oracle_beats_the_published_shares_and_ranks_better_than_chance(written, params):
    truth, outcomes = written["ground_truth"], written["outcomes"]
    table = oracle_table(truth, outcomes).set_index("setting")
    assert (table["cindex_harrell"] > 0.52).all()
    from sklearn.metrics import log_loss

    data = written["data"]
    for name, setting in params.settings.items():
        labels = data.loc[(data["setting"] == name) & data["mechanism"].notna(), "mechanism"]
        prior = setting.target_shares(None)
        ordered = sorted(MECHANISMS)
        baseline = log_loss(
            labels, np.tile([prior[m] for m in ordered], (len(labels), 1)), labels=ordered
        )
        assert table.loc[name, "log_loss"] < baseline, name
