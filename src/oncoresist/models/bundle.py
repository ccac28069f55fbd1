"""ResistanceBundle: everything needed to score a profile, as one object.

The bundle holds the fitted :class:`~oncoresist.features.builder.FeatureBuilder`, the mechanism and
time-to-resistance models, the label set, the input schema and provenance metadata. It is pure
Python (no MLflow): ``tracking`` wraps it as an MLflow pyfunc model and ``scoring`` calls it
directly, so the CLI, notebooks, ``mlflow models serve`` and Dask workers share one code path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from oncoresist.contract import MECHANISMS


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
