"""Published survival baselines reproduced on public data sets."""
