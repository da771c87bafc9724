#!/usr/bin/env bash
# Create .venv (Python 3.11) and install the project; safe to re-run (skips what is already there).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(command -v python3.11 || command -v python3)
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Python 3.11 needed, found {sys.version.split()[0]}"'
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.installed-$(cat pyproject.toml requirements-nodeps.txt | sha1sum | cut -c1-12)-${1:-app}
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # torch first, pinned, so nothing later pulls a multi-GB CUDA build on a CPU machine.
  .venv/bin/pip install -q torch==2.13.0
  if [ "${1:-app}" = test ]; then .venv/bin/pip install -q -e ".[test]"; else .venv/bin/pip install -q -e .; fi
  .venv/bin/pip install -q --no-deps -r requirements-nodeps.txt
  touch "$stamp"
fi
