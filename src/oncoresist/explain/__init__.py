"""Explanations: SHAP attributions, readable drivers, global plots, fidelity to planted causes."""
