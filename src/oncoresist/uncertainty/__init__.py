"""Uncertainty: conformal mechanism sets, calibrated intervals, out-of-distribution flags."""
