#!/usr/bin/env bash
# Set up (first run only), lint (ruff, configured in pyproject.toml) and run the whole test suite, browser tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null
  else
    echo "note: chromium is not installed (sudo apt-get install chromium); browser tests will be skipped" >&2
  fi
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then  # the store tests start a throwaway PostgreSQL server (tests/servers.py)
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null
  else
    echo "note: PostgreSQL is not installed (sudo apt-get install postgresql); its store tests will be skipped" >&2
  fi
fi
.venv/bin/ruff check .
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest "$@"
