#!/usr/bin/env bash
# Set up .venv with every extra and the test tools, then run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh all,test
bash scripts/system-deps.sh
export HF_HUB_OFFLINE=1
.venv/bin/python -m pytest "$@"
