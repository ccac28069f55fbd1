"""Out-of-distribution p-values: ties with calibration rows survive last-bit rounding."""

from __future__ import annotations

import numpy as np
import pandas as pd

from oncoresist.uncertainty.ood import OutOfDistributionDetector


def _detector(reference: np.ndarray, shift_ulps: int) -> OutOfDistributionDetector:
    """A context-only detector whose calibration distances are ``reference``'s own, moved
    ``shift_ulps`` last bits (as a fit in another batch, or by another BLAS, may leave them).
    """
    rng = np.random.default_rng(0)
    detector = OutOfDistributionDetector()
    detector.blocks_ = {"context": ["line", "age"]}
    detector.location_ = {"context": np.array([1.5, 60.0])}
    root = rng.normal(size=(2, 2))
    detector.precision_ = {"context": root @ root.T + np.eye(2)}
    detector.fill_ = {"context": np.array([1.5, 60.0])}
    distances = detector._distance("context", reference)
    for _ in range(abs(shift_ulps)):
        distances = np.nextafter(distances, np.inf if shift_ulps > 0 else -np.inf)
    detector.reference_ = {"context": np.sort(distances)}
    return detector


def test_a_profile_tied_with_calibration_rows_counts_them_whatever_the_rounding():
    # Discrete context values: many calibration rows share one distance.
    reference = np.array([[1, 60], [1, 60], [2, 60], [1, 60], [3, 70], [2, 55]], dtype=float)
    rows = pd.DataFrame(reference[[0, 2, 4]], columns=["line", "age"])
    exact = _detector(reference, 0).block_pvalues(rows, rows)["context"].to_numpy()
    # (1 + #{calibration d >= d}) / (n + 1), ties included
    distances = _detector(reference, 0)._distance("context", reference)
    expected = [(1 + (distances >= d).sum()) / 7 for d in distances[[0, 2, 4]]]
    np.testing.assert_allclose(exact, expected)
    for ulps in (-3, -1, 1, 3):
        shifted = _detector(reference, ulps).block_pvalues(rows, rows)["context"].to_numpy()
        np.testing.assert_array_equal(shifted, exact, err_msg=f"{ulps} ulps")
    # A genuinely larger distance is still not a tie.
    far = pd.DataFrame([[9.0, 20.0]], columns=["line", "age"])
    assert _detector(reference, -1).block_pvalues(far, far)["context"].iloc[0] == 1 / 7


def test_row_medians_equal_pandas_skipna_medians():
    from oncoresist.uncertainty.ood import _row_medians

    rng = np.random.default_rng(3)
    values = rng.normal(size=(40, 9))
    values[rng.random(values.shape) < 0.3] = np.nan  # odd and even counts per row
    values[0] = np.nan  # nothing measured
    values[1, :] = [1, 2, 2, 5, np.nan, 7, 1, 1, 3]
    expected = pd.DataFrame(values).median(axis=1, skipna=True).to_numpy()
    np.testing.assert_array_equal(_row_medians(values), expected)
