"""Test-wide settings: notebooks executed under pytest run in smoke mode."""

import os

import matplotlib

# Set before any notebook kernel starts, so nbval's kernels inherit it.
os.environ["KIT_SMOKE"] = "1"
# Idle OpenMP threads sleep instead of spinning: on a shared 2-core machine spinning
# threads made small torch ops in the notebooks up to 20x slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MPLBACKEND", "Agg")
matplotlib.use("Agg")
