#!/usr/bin/env bash
# Set up (first run only) and start the dashboard on the bundled offline pair: http://localhost:8501
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh app
exec .venv/bin/streamlit run dashboard/app.py --server.port "${PORT:-8501}" --server.headless true --browser.gatherUsageStats false "$@"
