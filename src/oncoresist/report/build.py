"""The reviewer report: one self-contained HTML file per scoring input.

``oncoresist report --model REF --input PROFILES --out report.html`` reads and scores the input
(:func:`oncoresist.pipelines.report.report_file`) and hands the scores to :func:`build_report`
— the numbers are the scoring engine's, never recomputed here — which renders, with the
jinja2 template ``templates/report.html.j2``:

* a model card (name@version, run id, training-data fingerprint, test metrics with 95% CIs,
  the uncertainty components with what training measured (:mod:`oncoresist.report.uncertainty`),
  intended use, "research use only, not a medical device"), and a banner at the top when the
  model was trained on simulated data;
* a cohort overview, with the number of out-of-distribution rows;
* one section per patient-treatment: mechanism probabilities with the conformal mechanism set
  beside them (sentence, table, outlined bars), the predicted survival curve with its median
  and the time interval shaded (open-ended to the axis end when there is no upper limit), an
  out-of-distribution notice with its reasons on flagged rows (the section carries
  ``data-ood``), waterfalls of the SHAP drivers of the predicted mechanism (log-odds) and of
  time to resistance (log-time), and the known resistance alterations found, with their source.

Images are embedded as base64 PNG data URIs: the file opens offline and loads nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from oncoresist import RESEARCH_USE_NOTICE, __version__
from oncoresist.contract import MECHANISMS, Cohort
from oncoresist.exceptions import InputDataError, Problem
from oncoresist.explain.attributions import explain_features
from oncoresist.explain.drivers import SURVIVAL_MODEL, Reader, top_drivers
from oncoresist.features.profiles import cohort_to_profiles
from oncoresist.knowledge.annotate import annotate_treatments
from oncoresist.report.charts import (
    overview_chart,
    probabilities_chart,
    survival_chart,
    waterfall_chart,
)
from oncoresist.report.uncertainty import (
    interval_text,
    level_text,
    mechanism_rows,
    set_members,
    uncertainty_rows,
)

TEMPLATE = "report.html.j2"
#: Patient sections drawn when ``--patients`` is not given (a 5,000-row input stays usable).
DEFAULT_MAX_PATIENTS = 20
INTENDED_USE = (
    "Research and method review: how a tumour may escape a targeted therapy (mechanism class "
    "and time to resistance) and why the model thinks so. Not for diagnosis or treatment "
    "decisions."
)
_METRIC_LABELS = {
    "test_cindex_harrell": "C-index (Harrell), time to resistance",
    "test_cindex_uno": "C-index (Uno), time to resistance",
    "test_ibs": "integrated Brier score",
    "test_mechanism_macro_f1": "mechanism macro-F1",
    "test_mechanism_balanced_accuracy": "mechanism balanced accuracy",
    "test_mechanism_auroc": "mechanism AUROC (one-vs-rest)",
    "test_mechanism_log_loss": "mechanism log-loss",
    "test_mechanism_ece": "mechanism calibration error (ECE)",
}


@dataclass
class ReportData:
    """Everything the template renders (plain values; no model objects)."""

    card: dict[str, Any]
    metrics: list[dict[str, str]]
    overview: dict[str, Any]
    patients: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    simulated: bool = False


def model_card(bundle: Any, reference: str = "") -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Model identity and test metrics (with 95% CIs) from the bundle's metadata."""
    meta = bundle.metadata
    name = meta.get("model_name", "oncoresist")
    version = meta.get("model_version")
    card = {
        "name": f"{name}@{version}" if version not in (None, "") else name,
        "reference": reference,
        "run_id": meta.get("run_id", ""),
        "trained_on": meta.get("trained_on", ""),
        "fingerprint": meta.get("data_fingerprint", ""),
        "trained_at": meta.get("trained_at", ""),
        "git_commit": meta.get("git_commit", ""),
        "oncoresist_version": meta.get("oncoresist_version", __version__),
        "intended_use": INTENDED_USE,
        "notice": RESEARCH_USE_NOTICE,
        "uncertainty": uncertainty_rows(meta.get("uncertainty") or {}),
    }
    metrics = []
    values = meta.get("metrics", {}) or {}
    for key, value in values.items():
        if key.endswith(("_ci_low", "_ci_high")) or not key.startswith(("test_", "oracle_")):
            continue
        low, high = values.get(f"{key}_ci_low"), values.get(f"{key}_ci_high")
        ci = f"{low:.3f} – {high:.3f}" if low is not None and high is not None else ""
        metrics.append(
            {
                "metric": _METRIC_LABELS.get(key, key.replace("_", " ")),
                "value": "" if value != value else f"{value:.3f}",
                "ci": ci,
            }
        )
    return card, metrics


def _flagged(value: Any) -> bool:
    """An ``ood_flag`` cell that is True (missing or absent = not flagged)."""
    return isinstance(value, bool | np.bool_) and bool(value)


def _known(text: Any) -> list[dict[str, str]]:
    """``"EGFR p.C797S [Thress 2015]; ..."`` → [{"label": ..., "source": ...}]."""
    found = []
    for part in str(text or "").split("; "):
        match = re.fullmatch(r"(.*) \[(.*)\]", part.strip())
        if match:
            found.append({"label": match.group(1), "source": match.group(2)})
        elif part.strip():
            found.append({"label": part.strip(), "source": ""})
    return found


def _select(
    scores: pd.DataFrame, patients: list[str] | None, limit: int
) -> tuple[pd.DataFrame, list[str]]:
    notes = []
    if patients:
        wanted = [p.strip() for p in patients if p.strip()]
        missing = [p for p in wanted if p not in set(scores["patient_id"].astype(str))]
        if missing:
            raise InputDataError(
                f"{len(missing)} requested patient(s) not among the scored rows",
                [
                    Problem(
                        "--patients",
                        None,
                        "patient_id",
                        p,
                        "not scored (absent or rejected)",
                        "check the id against the input's patient_id column",
                    )
                    for p in missing
                ],
            )
        return scores[scores["patient_id"].astype(str).isin(wanted)], notes
    if len(scores) > limit:
        notes.append(
            f"Showing the first {limit} of {len(scores)} scored rows; choose patients with "
            "--patients ID,..."
        )
    return scores.head(limit), notes


def _patient_sections(bundle: Any, cohort: Any, chosen: pd.DataFrame, k: int) -> list[dict]:
    """Charts and drivers of each chosen row (features rebuilt by the bundle's builder)."""
    treatments = cohort.treatments[cohort.treatments["treatment_id"].isin(chosen["treatment_id"])]
    annotated, _ = annotate_treatments(treatments, cohort.patients, errors="collect")
    profiles = cohort_to_profiles(cohort.with_tables(treatments=annotated.reset_index(drop=True)))
    profiles = profiles.set_index("treatment_id", drop=False).loc[chosen["treatment_id"]]
    features = bundle.features(profiles.reset_index(drop=True))
    explanation = explain_features(bundle, features)
    values = features.to_numpy(dtype=float)
    names = explanation.feature_names
    reader = Reader(bundle.feature_builder)
    horizon = max(24.0, float(np.nanmax(chosen["median_months_to_resistance"])) * 2.5)
    if "months_hi" in chosen.columns:  # the whole interval fits on the curve
        finite = chosen["months_hi"].to_numpy(dtype=float)
        finite = finite[np.isfinite(finite)]
        horizon = max(horizon, 1.1 * float(finite.max())) if finite.size else horizon
    card = bundle.metadata.get("uncertainty") or {}
    interval_level = level_text(card.get("time_intervals"))
    set_level = level_text(card.get("mechanism_sets"))
    months = np.linspace(0.0, horizon, 120)
    curves = bundle.survival_model.predict_survival_function(features, months)
    sections = []
    for i, row in enumerate(chosen.to_dict("records")):
        mechanism = row["predicted_mechanism"]
        klass = MECHANISMS.index(mechanism)
        labels = [reader(n, v) for n, v in zip(names, values[i], strict=True)]
        mech = explanation.mechanism[i, klass]
        surv = explanation.survival[i]
        drivers = top_drivers(
            mech[:-1],
            values[i],
            names,
            bundle.feature_builder,
            f"mechanism:{mechanism}",
            k,
            reader=reader,
        )
        drivers += top_drivers(
            surv[:-1],
            values[i],
            names,
            bundle.feature_builder,
            SURVIVAL_MODEL,
            k,
            scale=explanation.survival_scale,
            reader=reader,
        )
        low, high = row.get("months_lo"), row.get("months_hi")
        sections.append(
            {
                "patient_id": str(row["patient_id"]),
                "treatment_id": str(row["treatment_id"]),
                "drug": str(row.get("drug", "")),
                "setting": str(row.get("setting", "")),
                "predicted": mechanism,
                "probability": f"{row[f'p_{mechanism}']:.2f}",
                "median": f"{row['median_months_to_resistance']:.1f}",
                "interval": interval_text(low, high, interval_level),
                "mechanism_set": str(row.get("mechanism_set", "") or ""),
                "set_level": set_level,
                "mechanisms": mechanism_rows(row),
                "ood_flag": _flagged(row.get("ood_flag")),
                "ood_reasons": str(row.get("ood_reasons", "") or ""),
                "warnings": str(row.get("row_warnings", "") or ""),
                "drivers": [d.sentence for d in drivers],
                "known": _known(row.get("known_resistance_alterations")),
                "charts": {
                    "probabilities": probabilities_chart(
                        pd.Series(row), set_members(row.get("mechanism_set"))
                    ),
                    "survival": survival_chart(
                        months,
                        curves[i],
                        float(row["median_months_to_resistance"]),
                        None if low is None or low != low else float(low),
                        None if high is None or high != high else float(high),
                    ),
                    "mechanism_waterfall": waterfall_chart(
                        labels,
                        mech[:-1],
                        mech[-1],
                        f"drivers of {mechanism} (log-odds, uncalibrated)",
                    ),
                    "time_waterfall": waterfall_chart(
                        labels,
                        surv[:-1],
                        surv[-1],
                        f"drivers of time to resistance ({explanation.survival_scale})",
                    ),
                },
            }
        )
    return sections


def _overview(scores: pd.DataFrame, n_read: int, n_rejected: int) -> dict[str, Any]:

    months = scores["median_months_to_resistance"].astype(float)
    by_setting = scores.groupby("setting").size().sort_values(ascending=False)
    return {
        "n_read": n_read,
        "n_scored": len(scores),
        "n_rejected": n_rejected,
        "median_months": f"{months.median():.1f}",
        "iqr_months": f"{months.quantile(0.25):.1f} – {months.quantile(0.75):.1f}",
        "settings": [{"setting": s, "n": int(n)} for s, n in by_setting.items()],
        "n_ood": sum(map(_flagged, scores["ood_flag"])) if "ood_flag" in scores else None,
        "chart": overview_chart(scores),
    }


def build_report(
    bundle: Any,
    cohort: Cohort,
    scores: pd.DataFrame,
    *,
    n_read: int,
    n_rejected: int,
    patients: list[str] | None = None,
    max_patients: int = DEFAULT_MAX_PATIENTS,
    top_k: int = 5,
    reference: str = "",
) -> tuple[str, ReportData]:
    """Render the report of scored rows; returns ``(html, data)``.

    ``cohort`` is the input as read and ``scores`` what the bundle gave it (at least one row);
    the chosen patients are re-explained here for their sections. Reading and scoring the
    input is :func:`oncoresist.pipelines.report.report_file`'s work.

    Raises
    ------
    InputDataError
        A requested patient is not among the scored rows.
    """
    chosen, notes = _select(scores, patients, max_patients)
    card, metrics = model_card(bundle, reference)
    data = ReportData(
        card=card,
        metrics=metrics,
        overview=_overview(scores, n_read, n_rejected),
        patients=_patient_sections(bundle, cohort, chosen.reset_index(drop=True), top_k),
        notes=notes,
        simulated=card["trained_on"] == "simulated",
    )
    return render(data), data


def render(data: ReportData) -> str:
    """Render :class:`ReportData` with the package template (autoescaped)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape  # noqa: PLC0415

    env = Environment(
        loader=PackageLoader("oncoresist.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
    )
    return env.get_template(TEMPLATE).render(
        report=data,
        generated=pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        version=__version__,
        mechanisms=MECHANISMS,
    )
