"""Benchmarks on real public data (survival data sets, GDSC) and the validation page."""
