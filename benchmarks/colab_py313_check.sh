#!/usr/bin/env bash
# Colab's setting, rebuilt: Python 3.13 with ipywidgets 7.7.1 preinstalled, then the kit installed
# the way the setup cell does (pip install -e). Checks that ipywidgets stays at 7.7.1, the quiz works
# with it, and (--all) every notebook runs. Usage, from the repository root:
#   PY=/root/.pyenv/versions/3.13.0/bin/python VENV=/tmp/py313 benchmarks/colab_py313_check.sh [--all]
# The first run downloads torch for Python 3.13 from PyPI (several GB with its CUDA libraries).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3.13}
VENV=${VENV:-/tmp/py313}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q ipywidgets==7.7.1 ipykernel
"$VENV/bin/pip" install -q -e .
"$VENV/bin/pip" install -q -e ".[site]"
"$VENV/bin/python" -m pip list 2>/dev/null | grep -E "^(ipywidgets|torch|nbclient) "
"$VENV/bin/python" benchmarks/colab_widgets_check.py "$@"
