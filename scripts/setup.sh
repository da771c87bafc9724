#!/usr/bin/env bash
# Create .venv (Python 3.11) and `pip install` the project into it: the same single install a user does by hand
# (`pip install '.[runtimes]'`), editable here so a checkout's edits take effect; "test" adds the test tools (and the
# runtimes). Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(command -v python3.11 || command -v python3)
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Python 3.11 needed, found {sys.version.split()[0]}"'
[ -x .venv/bin/python ] || "$PY" -m venv .venv
target=".[runtimes]"; [ "${1:-app}" = test ] && target=".[test]"
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)-${1:-app}
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/pip install -q -e "$target"
  touch "$stamp"
fi
