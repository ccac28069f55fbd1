"""Cohort simulator: published figures in, patients with hidden ground truth out."""
