#!/usr/bin/env bash
# Set up (first run only) and start the dashboard on the bundled offline pair: http://localhost:8501
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh app
# Keep freed memory in glibc's heap: large activations are not page-faulted in again on every call
# (the benchmark harness runs its workers the same way; see benchmarks/harness/worker.py HEAP_ENV).
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-4294967296}" MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-4294967296}"
exec .venv/bin/streamlit run dashboard/app.py --server.port "${PORT:-8501}" --server.headless true --browser.gatherUsageStats false "$@"
