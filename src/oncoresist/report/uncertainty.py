"""Uncertainty in the reviewer report: model-card rows, mechanism-set rows, interval text.

Everything here reads plain values (the bundle's ``metadata["uncertainty"]`` card and the
scoring engine's output columns); nothing is recomputed.
"""

from __future__ import annotations

from typing import Any

from oncoresist.contract import MECHANISMS

_SHIFT_LABELS = {
    "expression_programs": "expression programs out of range",
    "unseen_cancer_type": "cancer type never seen (seen drug)",
    "unnormalised_counts": "unnormalised counts instead of log2(TPM+1)",
}


def _number(measured: dict[str, Any], key: str, fmt: str = "{:.3f}") -> str | None:
    value = measured.get(key)
    if value is None or value != value:
        return None
    return fmt.format(float(value))


def _with_ci(measured: dict[str, Any], key: str) -> str | None:
    value = _number(measured, key)
    low, high = _number(measured, f"{key}_ci_low"), _number(measured, f"{key}_ci_high")
    if value is None:
        return None
    return f"{value} (95% CI {low} – {high})" if low and high else value


def level_text(component: dict[str, Any] | None) -> str:
    """A component's nominal coverage as ``"80%"`` (empty when the card does not give it)."""
    coverage = (component or {}).get("coverage")
    return f"{100 * float(coverage):.0f}%" if isinstance(coverage, int | float) else ""


def uncertainty_rows(card: dict[str, Any]) -> list[dict[str, str]]:
    """Model-card rows ``{component, method, measured}`` from ``metadata["uncertainty"]``.

    ``measured`` gives the test-split figures the training run logged to MLflow, under their
    own meaning: coverage of the true times only when the simulator's truth was there, the
    censoring-aware estimates always. An old bundle without the card gives no rows.
    """
    measured = card.get("measured") or {}
    rows = []
    sets = card.get("mechanism_sets")
    if sets:
        parts = [
            f"coverage {c}" if (c := _with_ci(measured, "mechanism_set_coverage")) else None,
            f"on {n} biopsied progressions"
            if (n := _number(measured, "mechanism_set_n", "{:.0f}"))
            else None,
            f"mean set size {s}"
            if (s := _number(measured, "mechanism_set_mean_size", "{:.2f}"))
            else None,
        ]
        rows.append(
            {
                "component": f"mechanism sets ({level_text(sets)})",
                "method": str(sets.get("method", "")),
                "measured": "; ".join(p for p in parts if p),
            }
        )
    intervals = card.get("time_intervals")
    if intervals:
        parts = [
            f"coverage of the true (uncensored) times {c}"
            if (c := _with_ci(measured, "time_interval_coverage"))
            else None,
            f"censoring-aware estimate {km} (Kaplan-Meier)"
            if (km := _number(measured, "time_interval_coverage_km"))
            else None,
            f"{ipcw} (IPCW, a lower bound)"
            if (ipcw := _number(measured, "time_interval_coverage_ipcw"))
            else None,
            f"D-calibration p = {p} (observed)"
            if (p := _number(measured, "d_calibration_p_value"))
            else None,
            f"D-calibration p = {p} (true times)"
            if (p := _number(measured, "d_calibration_true_p_value"))
            else None,
        ]
        rows.append(
            {
                "component": f"time intervals ({level_text(intervals)})",
                "method": str(intervals.get("method", "")),
                "measured": "; ".join(p for p in parts if p),
            }
        )
    ood = card.get("ood")
    if ood:
        shifts = [
            f"{label} {value}"
            for name, label in _SHIFT_LABELS.items()
            if (value := _number(measured, f"ood_auroc_{name}"))
        ]
        parts = [
            f"flagged {r} of test rows"
            if (r := _number(measured, "ood_flag_rate", "{:.1%}"))
            else None,
            "ood_score AUROC, shifted against unshifted test rows: " + ", ".join(shifts)
            if shifts
            else None,
        ]
        rows.append(
            {
                "component": "out-of-distribution flag",
                "method": f"{ood.get('method', '')}; flagged when ood_score >= "
                f"{ood.get('quantile', '')} or a rule-based reason",
                "measured": "; ".join(p for p in parts if p),
            }
        )
    missing = card.get("not_fitted") or []
    if missing:
        rows.append(
            {
                "component": "not fitted",
                "method": ", ".join(map(str, missing)),
                "measured": "too few calibration rows with a label or an observed progression",
            }
        )
    return rows


def set_members(text: Any) -> list[str]:
    """``"{on_target, bypass}"`` → ``["on_target", "bypass"]`` (empty for no set)."""
    inner = str(text or "").strip().strip("{}")
    return [part.strip() for part in inner.split(",") if part.strip()]


def mechanism_rows(row: dict[str, Any]) -> list[dict[str, Any]]:
    """Probability of each mechanism and whether it is in the row's conformal set."""
    members = set(set_members(row.get("mechanism_set")))
    return [
        {
            "mechanism": m,
            "probability": f"{float(row[f'p_{m}']):.2f}",
            "in_set": m in members,
        }
        for m in MECHANISMS
    ]


def interval_text(low: Any, high: Any, level: str = "") -> str:
    """``80% interval lo – hi months``; an open upper bound reads ``at least lo months``."""
    if low is None or low != low:
        return ""
    prefix = f"{level} interval" if level else "interval"
    if high is None or high != high or high == float("inf"):
        return f"{prefix}: at least {low:.1f} months (no upper limit within follow-up)"
    return f"{prefix} {low:.1f} – {high:.1f} months"
