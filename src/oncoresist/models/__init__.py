"""Fitted models: mechanism classifier, time to resistance, baselines, config, splits, tuning."""
