"""Jobs: one per CLI command (and the training run); they return results, never print."""
