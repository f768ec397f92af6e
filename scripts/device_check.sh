#!/usr/bin/env bash
# GPU against CPU, side by side in one run: Cycles renders/s at 64² and 256², and the optimiser's time
# per iteration at n = 196,608 on CUDA and on the CPU (benchmarks/bench_device.py). Made for a machine
# with an NVIDIA GPU; anywhere else it says that no GPU was found and measures the CPU only.
#   scripts/device_check.sh [--repeats N] [--iterations N]      PYTHON=... to pick the interpreter
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -n): $("$PYTHON" -c 'import bpy, torch; print("bpy", bpy.app.version_string, "torch", torch.__version__)')"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "# nvidia-smi: not found"
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" exec "$PYTHON" -m benchmarks.bench_device "$@"
