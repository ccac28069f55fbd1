"""Simulator parameters: ``data/params/settings.yaml`` validated into pydantic models.

Every number in the file carries its evidence tag and reference as a YAML comment; here the
values become typed, checked objects. Small text forms name genomic events and features
(``mut:TP53``, ``fusion:EML4-ALK:v3``, ``program:met_hgf``); they are parsed once on load so a
typo fails with the setting and field that hold it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from oncoresist.contract import MECHANISMS
from oncoresist.exceptions import ConfigError
from oncoresist.io.files import YamlSyntaxError, read_yaml
from oncoresist.knowledge.programs import load_signatures
from oncoresist.paths import params_dir

Mechanism = Literal["on_target", "bypass", "epigenetic", "lineage", "microenvironment"]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0.0)]

_GENE = r"[A-Z0-9][A-Z0-9.]*(?:-[0-9A-Z]+)?"
EVENT_KINDS = ("mut", "cn", "loss", "fusion", "program")
FEATURE_KINDS = ("mut", "gain", "amp", "del", "loss", "fusion", "program", "expr_high", "expr_low")


@dataclass(frozen=True)
class Event:
    """A genomic or expression event written to a sample.

    ``kind`` is one of :data:`EVENT_KINDS`; ``gene`` is a gene (for fusions ``GENE5-GENE3``) or
    a program name; ``value`` is the protein change, copy-number state, fusion variant or
    program shift (None when drawn, e.g. a hotspot for ``mut:TP53``).
    """

    kind: str
    gene: str
    value: str | None = None

    @property
    def text(self) -> str:
        return ":".join(p for p in (self.kind, self.gene, self.value) if p is not None)


@dataclass(frozen=True)
class Atom:
    """One observable baseline feature (see :func:`parse_feature`)."""

    kind: str
    name: str
    detail: str | None = None


def parse_event(text: str) -> Event:
    """Parse ``mut:GENE[:p.X]``, ``cn:GENE:STATE``, ``loss:GENE``, ``fusion:A-B[:VAR]``,
    ``program:NAME:SHIFT``."""
    parts = str(text).split(":")
    kind = parts[0]
    if kind not in EVENT_KINDS or len(parts) < 2 or len(parts) > 3:
        raise ValueError(f"'{text}' is not an event; use one of {', '.join(EVENT_KINDS)}")
    gene, value = parts[1], (parts[2] if len(parts) == 3 else None)
    if kind == "cn":
        if value is None or value not in {"-2", "-1", "1", "2"}:
            raise ValueError(f"'{text}': copy-number state must be -2, -1, 1 or 2")
    elif kind == "program":
        try:
            float(value if value is not None else "x")
        except ValueError:
            raise ValueError(f"'{text}': a program event needs a numeric shift") from None
    elif kind == "loss" and value is not None:
        raise ValueError(f"'{text}': loss takes a gene only")
    elif kind == "mut" and value is not None and not value.startswith("p."):
        raise ValueError(f"'{text}': protein change must start with 'p.'")
    if kind == "fusion":
        _split_fusion(gene, text)
    elif kind != "program" and not re.fullmatch(_GENE, gene):
        raise ValueError(f"'{text}': '{gene}' is not an HGNC-style gene symbol")
    return Event(kind, gene, value)


def _split_fusion(pair: str, text: str) -> tuple[str, str]:
    genes = pair.split("-")
    if len(genes) != 2 or not all(re.fullmatch(r"[A-Z0-9]+", g) for g in genes):
        raise ValueError(f"'{text}': a fusion is written GENE5-GENE3, e.g. EML4-ALK")
    return genes[0], genes[1]


def parse_feature(text: str) -> tuple[Atom, ...]:
    """Parse a feature: atoms joined by ``&`` (all must hold).

    Atoms: ``mut:GENE[:p.X]``, ``gain:GENE``, ``amp:GENE``, ``del:GENE``, ``loss:GENE``,
    ``fusion:A-B[:VAR]``, ``program:NAME``, ``expr_high:GENE``, ``expr_low:GENE``.
    """
    atoms = []
    for part in str(text).split("&"):
        bits = part.strip().split(":")
        kind = bits[0]
        if kind not in FEATURE_KINDS or len(bits) < 2 or len(bits) > 3:
            raise ValueError(f"'{text}' is not a feature; atoms are {', '.join(FEATURE_KINDS)}")
        detail = bits[2] if len(bits) == 3 else None
        if detail is not None and kind not in {"mut", "fusion"}:
            raise ValueError(f"'{text}': '{kind}' takes a name only")
        if kind == "fusion":
            _split_fusion(bits[1], text)
        atoms.append(Atom(kind, bits[1], detail))
    continuous = [a for a in atoms if a.kind == "program"]
    if continuous and len(atoms) > 1:
        raise ValueError(f"'{text}': a program feature cannot be combined with '&'")
    return tuple(atoms)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExpressionParams(_Strict):
    program_sd: Positive = 1.0
    gene_noise_sd: Positive = 0.6
    program_loading: Positive = 0.9
    cn_effect: float = 0.8
    max_log2_tpm: Positive = 15.0


class ProgramEffect(_Strict):
    feature: str
    program: str
    shift: float

    _check = field_validator("feature")(lambda v: (parse_feature(v), v)[1])


class MechanismShift(_Strict):
    feature: str
    mechanism: Mechanism
    log_odds: float

    _check = field_validator("feature")(lambda v: (parse_feature(v), v)[1])


class GlobalParams(_Strict):
    unexplained_to_epigenetic: Fraction | None = None
    rebiopsy_rate: Fraction = 0.6
    censoring_target: Annotated[float, Field(ge=0.0, lt=0.95)] = 0.3
    accrual_months: Positive = 48.0
    min_follow_up_months: Positive = 24.0
    progression_tissue_share: Fraction = 0.7
    passengers_per_sample: Annotated[float, Field(ge=0.0)] = 4.0
    expression: ExpressionParams = ExpressionParams()
    program_effects: list[ProgramEffect] = []
    common_mechanism_shifts: list[MechanismShift] = []
    hotspots: dict[str, list[str]] = {}
    alterations: dict[str, list[str]]
    passenger_genes: list[str]
    background_genes: list[str]

    @field_validator("alterations")
    @classmethod
    def _events(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for events in value.values():
            for event in events:
                parse_event(event)
        return value


class CancerType(_Strict):
    female_share: Fraction = 0.5
    age_mean: Annotated[float, Field(gt=0, lt=120)] = 62.0
    program_means: dict[str, float] = {}


class Survival(_Strict):
    model: Literal["weibull", "cure_weibull"]
    shape: Positive
    pfs_median_months: Positive | None = None
    landmarks: dict[float, Annotated[float, Field(gt=0.0, lt=1.0)]] = {}

    @model_validator(mode="after")
    def _targets(self) -> Survival:
        if self.model == "weibull" and self.pfs_median_months is None:
            raise ValueError("a weibull model needs pfs_median_months")
        if self.model == "cure_weibull":
            if len(self.landmarks) != 2:
                raise ValueError("a cure_weibull model needs exactly two landmarks {month: PFS}")
            (_, s1), (_, s2) = sorted(self.landmarks.items())
            if not s2 < s1:
                raise ValueError("landmark PFS must fall with time")
        return self

    @property
    def targets(self) -> dict[float, float]:
        """Published survival points matched by the simulator: {month: PFS}."""
        if self.model == "weibull":
            return {float(self.pfs_median_months): 0.5}
        return dict(sorted(self.landmarks.items()))


class Driver(_Strict):
    event: str
    frequency: Fraction

    _check = field_validator("event")(lambda v: (parse_event(v), v)[1])


class CoAlteration(_Strict):
    event: str
    prevalence: Fraction

    _check = field_validator("event")(lambda v: (parse_event(v), v)[1])


class RiskFactor(_Strict):
    feature: str
    hr: Positive

    _check = field_validator("feature")(lambda v: (parse_feature(v), v)[1])


class HiddenRiskFactor(_Strict):
    name: str
    hr: Positive
    prevalence: Fraction


class NamedAlterationShift(_Strict):
    feature: str
    mechanism: Mechanism
    alteration: str
    share: Annotated[float, Field(gt=0.0, le=1.0)]

    _check = field_validator("feature")(lambda v: (parse_feature(v), v)[1])


class ProgressionLoss(_Strict):
    """A baseline mutation no longer detected at progression (e.g. T790M loss, AURA3)."""

    event: str
    mechanisms: list[Mechanism]
    probability: Fraction

    @field_validator("event")
    @classmethod
    def _mutation(cls, value: str) -> str:
        event = parse_event(value)
        if event.kind != "mut" or event.value is None:
            raise ValueError(f"'{value}': a progression loss is a mutation mut:GENE:p.CHANGE")
        return value


class Setting(_Strict):
    """One clinical setting: population, genomics, survival and resistance mechanisms."""

    cancer_type: str
    line_number: Annotated[int, Field(ge=1)]
    drugs: dict[str, Positive]
    cohort_weight: Annotated[float, Field(ge=0.0)]
    survival: Survival
    drivers: list[Driver] = []
    co_alterations: list[CoAlteration] = []
    risk_factors: list[RiskFactor] = []
    hidden_risk_factors: list[HiddenRiskFactor] = []
    mechanism_shares: dict[Mechanism, Fraction]
    named_alterations: dict[Mechanism, dict[str, Positive]]
    mechanism_time_modifiers: dict[Mechanism, Positive] = {}
    mechanism_shifts: list[MechanismShift] = []
    named_alteration_shifts: list[NamedAlterationShift] = []
    progression_losses: list[ProgressionLoss] = []

    @model_validator(mode="after")
    def _consistent(self) -> Setting:
        missing = set(MECHANISMS) - set(self.mechanism_shares)
        if missing:
            raise ValueError(f"mechanism_shares lacks {sorted(missing)}")
        total = sum(self.mechanism_shares.values())
        if not math.isclose(total, 1.0, abs_tol=0.011):
            raise ValueError(f"mechanism_shares sum to {total:.3f}, not 1")
        if self.drivers:
            total = sum(d.frequency for d in self.drivers)
            if not math.isclose(total, 1.0, abs_tol=0.011):
                raise ValueError(f"driver frequencies sum to {total:.3f}, not 1")
        missing = set(MECHANISMS) - set(self.named_alterations)
        if missing:
            raise ValueError(f"named_alterations lacks {sorted(missing)}")
        for shift in self.named_alteration_shifts:
            if shift.alteration not in self.named_alterations[shift.mechanism]:
                raise ValueError(
                    f"named_alteration_shifts: '{shift.alteration}' is not a named alteration "
                    f"of {shift.mechanism}"
                )
        return self

    def target_shares(self, unexplained_to_epigenetic: float | None) -> dict[str, float]:
        """Mechanism shares after the "no mechanism found" knob, normalised, in MECHANISMS order.

        The epigenetic + microenvironment pool is the allocation of unexplained progressions
        (domain file, [D]); ``unexplained_to_epigenetic`` splits it, None keeps the file's split.
        """
        shares = {m: float(self.mechanism_shares[m]) for m in MECHANISMS}
        if unexplained_to_epigenetic is not None:
            pool = shares["epigenetic"] + shares["microenvironment"]
            shares["epigenetic"] = unexplained_to_epigenetic * pool
            shares["microenvironment"] = (1.0 - unexplained_to_epigenetic) * pool
        total = sum(shares.values())
        return {m: v / total for m, v in shares.items()}


class SimulationParams(_Strict):
    """The whole parameter file."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    version: int = 1
    global_: GlobalParams = Field(alias="global")
    cancer_types: dict[str, CancerType]
    settings: dict[str, Setting]


def _format_validation(err: ValidationError, source: str) -> str:
    lines = []
    for problem in err.errors():
        loc = [str(p) for p in problem["loc"]]
        if len(loc) >= 2 and loc[0] == "settings":
            where = f"setting '{loc[1]}', field '{'.'.join(loc[2:]) or '<block>'}'"
        else:
            where = f"field '{'.'.join(loc) or '<file>'}'"
        lines.append(f"  {where}: {problem['msg']}")
    return f"{source} is not a valid simulator parameter file:\n" + "\n".join(lines)


def _check_references(params: SimulationParams, programs: set[str], source: str) -> None:
    problems = []
    catalogue = params.global_.alterations
    for name, setting in params.settings.items():
        if setting.cancer_type not in params.cancer_types:
            problems.append(
                f"setting '{name}', field 'cancer_type': unknown cancer type "
                f"'{setting.cancer_type}' (add it under cancer_types)"
            )
        for mechanism, alterations in setting.named_alterations.items():
            for alteration in alterations:
                if alteration not in catalogue:
                    problems.append(
                        f"setting '{name}', field 'named_alterations.{mechanism}': "
                        f"'{alteration}' is not in global.alterations"
                    )
        features = [
            f.feature
            for f in (
                *setting.risk_factors,
                *setting.mechanism_shifts,
                *setting.named_alteration_shifts,
                *params.global_.common_mechanism_shifts,
            )
        ]
        for feature in features:
            for atom in parse_feature(feature):
                if atom.kind == "program" and atom.name not in programs:
                    problems.append(
                        f"setting '{name}': feature '{feature}' names an unknown "
                        f"program (known: {', '.join(sorted(programs))})"
                    )
    for effect in params.global_.program_effects:
        if effect.program not in programs:
            problems.append(f"global.program_effects: unknown program '{effect.program}'")
    for ctype, spec in params.cancer_types.items():
        for program in spec.program_means:
            if program not in programs:
                problems.append(f"cancer_types.{ctype}.program_means: unknown program '{program}'")
    for alteration, events in catalogue.items():
        for event in map(parse_event, events):
            if event.kind == "program" and event.gene not in programs:
                problems.append(f"global.alterations.{alteration}: unknown program '{event.gene}'")
    if problems:
        raise ConfigError(f"{source} refers to unknown names:\n  " + "\n  ".join(problems))


def load_params(path: str | Path | None = None) -> SimulationParams:
    """Load and validate the simulator parameter file.

    Parameters
    ----------
    path : str or Path, optional
        Defaults to ``data/params/settings.yaml``.

    Returns
    -------
    SimulationParams

    Raises
    ------
    ConfigError
        Naming the setting and field of every problem found.
    """
    path = Path(path) if path is not None else params_dir() / "settings.yaml"
    try:
        raw = read_yaml(path)
    except OSError as err:
        raise ConfigError(f"cannot read simulator parameters {path}: {err}") from err
    except YamlSyntaxError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from err
    return params_from_mapping(raw, source=str(path), programs=set(load_signatures()))


def params_from_mapping(
    raw: object, source: str = "parameters", programs: set[str] | None = None
) -> SimulationParams:
    """Validate an already-parsed parameter mapping (see :func:`load_params`)."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: expected a mapping with 'global', 'cancer_types', 'settings'")
    try:
        params = SimulationParams.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_format_validation(err, source)) from None
    if programs is None:
        programs = set(load_signatures())
    _check_references(params, programs, source)
    return params
