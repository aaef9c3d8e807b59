"""Test-wide settings: notebooks executed under pytest run in smoke mode."""

import os

import matplotlib

# Set before any notebook kernel starts, so nbval's kernels inherit it.
os.environ["KIT_SMOKE"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")
matplotlib.use("Agg")
