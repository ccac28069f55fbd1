"""ResistanceBundle: everything needed to score a profile, as one object.

The bundle holds the fitted :class:`~oncoresist.features.builder.FeatureBuilder`, the mechanism and
time-to-resistance models, the label set, the input schema and provenance metadata. It is pure
Python (no MLflow): ``tracking`` wraps it as an MLflow pyfunc model and ``scoring`` calls it
directly, so the CLI, notebooks, ``mlflow models serve`` and Dask workers share one code path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from oncoresist import __version__
from oncoresist.contract import MECHANISMS
from oncoresist.exceptions import ModelLoadError

#: Bumped when a saved bundle can no longer be read by older code.
BUNDLE_FORMAT = 1
BUNDLE_FILE = "bundle.joblib"
METADATA_FILE = "bundle.json"


@dataclass
class ResistanceBundle:
    """Fitted feature builder + mechanism model + time-to-resistance model + provenance.

    Attributes
    ----------
    feature_builder : FeatureBuilder
        Turns a profile frame into the named feature matrix.
    mechanism_model : MechanismClassifier
        P(mechanism | resistance occurs), classes in :data:`~oncoresist.contract.MECHANISMS`.
    survival_model : TimeToResistanceModel
        Time to resistance (median, survival curve).
    metadata : dict
        Provenance: model name/version, run id, ``trained_on`` (``simulated`` or the data
        fingerprint), training config, git commit, metrics, package versions.
    extras : dict
        Optional fitted components added by later stages (e.g. conformal calibrators,
        out-of-distribution detector), keyed by name.
    """

    feature_builder: Any
    mechanism_model: Any
    survival_model: Any
    metadata: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def mechanisms(self) -> tuple[str, ...]:
        """Class order of the mechanism probabilities."""
        return MECHANISMS

    @property
    def feature_names(self) -> list[str]:
        """Names of the features the models were trained on."""
        return list(self.feature_builder.get_feature_names_out())

    def features(self, profiles: pd.DataFrame) -> pd.DataFrame:
        """Build the feature matrix for a profile frame (float64, training column order)."""
        return self.feature_builder.transform(profiles)

    def predict_features(self, features: pd.DataFrame) -> pd.DataFrame:
        """Predict from an already-built feature matrix.

        Returns a frame with ``p_<mechanism>`` columns, ``predicted_mechanism`` and
        ``median_months_to_resistance``, indexed like ``features``.
        """
        proba = self.mechanism_model.predict_proba(features)
        out = pd.DataFrame(proba, columns=[f"p_{m}" for m in MECHANISMS], index=features.index)
        out["predicted_mechanism"] = np.asarray(MECHANISMS)[np.argmax(proba, axis=1)]
        out["median_months_to_resistance"] = self.survival_model.predict_median(features)
        return out

    def predict(self, profiles: pd.DataFrame) -> pd.DataFrame:
        """Build features and predict both outputs for a profile frame."""
        return self.predict_features(self.features(profiles))

    # ----------------------------------------------------------------------------------
    # Persistence
    # ----------------------------------------------------------------------------------

    def save(self, folder: str | Path) -> Path:
        """Write the bundle to ``folder`` (``bundle.joblib`` + readable ``bundle.json``)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            **self.metadata,
            "bundle_format": BUNDLE_FORMAT,
            "oncoresist_version": self.metadata.get("oncoresist_version", __version__),
        }
        self.metadata = meta
        tmp = folder / (BUNDLE_FILE + ".tmp")
        joblib.dump(self, tmp)
        tmp.replace(folder / BUNDLE_FILE)
        tmp_meta = folder / (METADATA_FILE + ".tmp")
        tmp_meta.write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
        tmp_meta.replace(folder / METADATA_FILE)
        return folder

    @classmethod
    def load(cls, path: str | Path) -> ResistanceBundle:
        """Read a bundle written by :meth:`save` (a folder or the ``bundle.joblib`` file).

        Raises
        ------
        ModelLoadError
            When the file is missing, unreadable, or was written by a newer, incompatible
            oncoresist (its ``bundle_format`` is greater than this code's).
        """
        path = Path(path)
        folder = path if path.is_dir() else path.parent
        meta_path = folder / METADATA_FILE
        if meta_path.exists():
            meta = json.loads(meta_path.read_text())
            _check_format(meta, folder)
        file = path if path.is_file() else folder / BUNDLE_FILE
        if not file.exists():
            raise ModelLoadError(
                f"no oncoresist bundle at {path}: expected {BUNDLE_FILE} (export one with "
                "`oncoresist models export` or train with `oncoresist train`)"
            )
        try:
            bundle = joblib.load(file)
        except Exception as err:
            raise ModelLoadError(f"cannot read the bundle {file}: {err}") from err
        if not isinstance(bundle, cls):
            raise ModelLoadError(f"{file} does not hold an oncoresist ResistanceBundle")
        _check_format(bundle.metadata, folder)
        return bundle


def _check_format(meta: dict[str, Any], where: Path) -> None:
    found = int(meta.get("bundle_format", 0))
    if found > BUNDLE_FORMAT:
        raise ModelLoadError(
            f"the model at {where} was saved by oncoresist {meta.get('oncoresist_version', '?')} "
            f"(bundle format {found}); this oncoresist {__version__} reads format "
            f"{BUNDLE_FORMAT} or older. Upgrade oncoresist (pip install -U oncoresist) or "
            "score with the version that trained the model."
        )
