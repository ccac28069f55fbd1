"""Scoring engine: a bundle and a cohort in, score rows and rejected problems out."""
