"""Metrics on arrays: mechanism and survival metrics, held-out tables, oracle, plots."""
