"""Shared test fixtures."""

from __future__ import annotations

import os

# Tiny XGBoost fits slow down badly when two threads fight over two cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MPLBACKEND", "Agg")
