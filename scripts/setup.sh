#!/usr/bin/env bash
# Create .venv and install plait with the extras named in $1 (comma-separated, e.g. "all,test").
# torch: a CPU machine gets torch 2.13.0 first (CPU wheel, no CUDA packages); a machine that already
# has torch in .venv keeps it. Either way the installed torch is pinned as a constraint for the rest.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip -q --disable-pip-version-check)
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1; then
    "${pip[@]}" install torch
  else
    "${pip[@]}" install torch==2.13.0
  fi
fi
torch_version=$(.venv/bin/python -c "import torch; print(torch.__version__.split('+')[0])")
echo "torch==${torch_version}" > .venv/constraints.txt
spec="."
[ -n "$extras" ] && spec=".[${extras}]"
"${pip[@]}" install -c .venv/constraints.txt -e "$spec"
