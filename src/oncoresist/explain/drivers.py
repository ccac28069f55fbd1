"""Readable drivers: one feature's (or one source group's) SHAP value in words.

Feature values are read by the :class:`~oncoresist.features.builder.FeatureBuilder` ("MET
amplification", "EML4-ALK variant 3", "line 2"); features from one source (``mut:TP53``,
``alt:TP53 p.R273H``, ``expr:TP53``) can be grouped and their SHAP values summed (exact, since
SHAP is additive). Sentences speak the model's own scale: log-odds of the uncalibrated
mechanism booster, or the percentage change of expected time to resistance (AFT log-time).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from oncoresist.features.names import describe as describe_spec

SURVIVAL_MODEL = "time_to_resistance"


@dataclass(frozen=True)
class Driver:
    """One feature's (or one feature group's) contribution to one prediction, in words.

    ``contribution`` is on the model's scale: log-odds of the class (mechanism) or log-time
    (AFT survival). For a group, ``feature`` is the group name, ``value`` the value of its
    largest member and ``contribution`` the sum over its members.
    """

    model: str  # "mechanism:<class>" or "time_to_resistance"
    rank: int
    feature: str
    label: str
    value: float
    contribution: float
    sentence: str

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (one tidy row)."""
        return asdict(self)


class Reader:
    """Reads feature values for people, with the builder's feature specs looked up once.

    ``FeatureBuilder.describe_value`` rebuilds its name → spec map on every call; over
    thousands of rows that dominated the cost of explaining, so the map is built here once.
    """

    def __init__(self, builder: Any) -> None:
        self.builder = builder
        specs = getattr(builder, "feature_specs_", None)
        self._specs = {s.name: s for s in specs} if specs is not None else {}
        self._mode = "raw" if getattr(builder, "expression", "zscore") == "raw" else "zscore"

    def __call__(self, feature: str, value: float) -> str:
        """Human reading of one feature value ("MET amplification", "line 2")."""
        spec = self._specs.get(feature)
        if spec is not None:
            return describe_spec(spec, float(value), expression=self._mode)
        return describe(self.builder, feature, value)


def describe(builder: Any, feature: str, value: float) -> str:
    """Human reading of a feature value (the builder knows its features best)."""
    describe_value = getattr(builder, "describe_value", None)
    if describe_value is not None:
        try:
            return str(describe_value(feature, value))
        except (KeyError, ValueError):
            pass
    if value != value:
        return f"{feature} missing"
    return f"{feature} = {value:g}"


def sentence_for(label: str, contribution: float, model: str, scale: str = "log-time") -> str:
    """The driver's effect in the model's own scale, as a sentence.

    Mechanism: "MET amplification raises the log-odds of bypass by 0.91" (log-odds of the
    uncalibrated booster). AFT survival: "TP53 mutated shortens expected time to resistance
    by 22%" (``exp(c) - 1`` of the log-time contribution). Cox: change of the hazard.
    """
    if model.startswith("mechanism:"):
        mechanism = model.split(":", 1)[1]
        verb = "raises" if contribution >= 0 else "lowers"
        return f"{label} {verb} the log-odds of {mechanism} by {abs(contribution):.2f}"
    if scale == "log-hazard":
        verb = "raises" if contribution >= 0 else "lowers"
        change = abs(np.expm1(contribution)) * 100
        return f"{label} {verb} the hazard of resistance by {change:.0f}%"
    factor = np.expm1(contribution) * 100
    if contribution < 0:
        return f"{label} shortens expected time to resistance by {abs(factor):.0f}%"
    return f"{label} lengthens expected time to resistance by {factor:.0f}%"


def group_matrix(
    feature_names: list[str], groups: dict[str, str] | None
) -> tuple[list[str], np.ndarray]:
    """Group names (first-seen order) and the (n_features, n_groups) 0/1 membership matrix.

    A feature absent from ``groups`` is its own group. ``contributions @ matrix`` gives the
    summed contribution of each group (exact, since SHAP values add up).
    """
    groups = groups or {}
    names = [groups.get(f, f) for f in feature_names]
    order = list(dict.fromkeys(names))
    column = {g: j for j, g in enumerate(order)}
    matrix = np.zeros((len(feature_names), len(order)))
    matrix[np.arange(len(feature_names)), [column[g] for g in names]] = 1.0
    return order, matrix


def _group_label(read: Reader, members: list[tuple[str, float, float]]) -> str:
    """Readings of a group's two largest members, e.g. "TP53 mutated + TP53 p.R273H present"."""
    ranked = sorted(members, key=lambda m: -abs(m[2]))
    shown = [read(name, value) for name, value, c in ranked[:2] if c != 0 or len(ranked) == 1]
    text = " + ".join(shown or [read(ranked[0][0], ranked[0][1])])
    return text + (" + …" if sum(1 for m in ranked if m[2] != 0) > 2 else "")


def top_drivers(
    contributions: np.ndarray,
    values: np.ndarray,
    feature_names: list[str],
    builder: Any,
    model: str,
    k: int = 3,
    scale: str = "log-time",
    allowed: np.ndarray | None = None,
    group: bool = False,
    reader: Reader | None = None,
) -> list[Driver]:
    """The ``k`` largest contributions (by absolute value) of one row, with sentences.

    Parameters
    ----------
    contributions : ndarray of shape (n_features,)
        One row's SHAP values (base value excluded), on the model's scale: log-odds of the
        uncalibrated booster (mechanism) or log-time (AFT survival).
    values : ndarray of shape (n_features,)
        The row's feature values.
    feature_names : list of str
    builder : FeatureBuilder
        Reads values for people; its ``feature_groups_`` define groups.
    model : str
        ``"mechanism:<class>"`` or :data:`SURVIVAL_MODEL`.
    k : int
    scale : {"log-time", "log-hazard"}
        Scale of the survival contributions.
    allowed : boolean ndarray, optional
        Restrict the ranking to these features (e.g. genomic and expression only).
    group : bool
        Sum the contributions of features from one source (``builder.feature_groups_``) and
        rank groups.

    Returns
    -------
    list of Driver
        At most ``k``, largest |contribution| first; zero contributions are never drivers.
    """
    reader = reader or Reader(builder)
    contributions = np.asarray(contributions, dtype=float)
    values = np.asarray(values, dtype=float)
    keep = np.ones(len(feature_names), bool) if allowed is None else np.asarray(allowed, bool)
    if group:
        names, matrix = group_matrix(feature_names, getattr(builder, "feature_groups_", None))
        matrix = matrix * keep[:, None]
        summed = contributions @ matrix
        order = np.argsort(-np.abs(summed), kind="stable")[:k]
        drivers = []
        for j in order:
            if summed[j] == 0:
                break
            members = np.flatnonzero(matrix[:, j])
            parts = [(feature_names[i], values[i], contributions[i]) for i in members]
            top = max(parts, key=lambda m: abs(m[2]))
            label = _group_label(reader, parts)
            c = float(summed[j])
            drivers.append(
                Driver(
                    model,
                    len(drivers) + 1,
                    names[j],
                    label,
                    float(top[1]),
                    c,
                    sentence_for(label, c, model, scale),
                )
            )
        return drivers
    magnitude = np.where(keep, np.abs(contributions), -1.0)
    order = np.argsort(-magnitude, kind="stable")[:k]
    drivers = []
    for j in order:
        if magnitude[j] <= 0:
            break
        label = reader(feature_names[j], float(values[j]))
        c = float(contributions[j])
        drivers.append(
            Driver(
                model,
                len(drivers) + 1,
                feature_names[j],
                label,
                float(values[j]),
                c,
                sentence_for(label, c, model, scale),
            )
        )
    return drivers
