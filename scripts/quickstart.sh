#!/usr/bin/env bash
# Set up .venv and run the quickstart experiment end to end (about 2 minutes on 2 CPU cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1
.venv/bin/plait run experiments/quickstart.yaml "$@"
