#!/usr/bin/env bash
# The GPU check: on a bare GPU machine that has a PyTorch install (with CUDA)
# and no Node and no network, brings Node along, builds the addon against that
# PyTorch's libtorch, runs the GPU tests (test/gpu/), trains ResNet-20 beside
# PyTorch on the same GPU (samples/s each and their ratio; target >= 0.95x),
# and runs configs/fashion-mnist-quick.yaml with `device: cuda`. Each step has
# its own time limit inside one budget (560 s by default, to end within a
# 10-minute device call), a failed step is recorded and the others go on, and
# the last line printed is one JSON object of results and wall times (also in
# <out>/result.json beside each step's log; <out> is $OUT when set).
#
#   bash scripts/gpu-check.sh --pack      # here, where Node and npm are: fill .gpu-check/ (Node, the
#                                         # node_modules it needs, a Fashion-MNIST subset; ~36 MiB)
#   bash scripts/gpu-check.sh             # there: the check (python3 must import a CUDA torch)
#   bash scripts/gpu-check.sh --cpu       # the same flow on the CPU with tiny sizes, in place
#   bash scripts/gpu-check.sh --dry-run   # --pack, then --cpu in a temporary copy of the checkout with
#   GPU_CHECK_DRY_RUN=1 bash scripts/gpu-check.sh   # the packed Node alone: what the GPU machine gets
#
# Other options: --steps env,node,build,tests,resnet20,sms (a subset), --addon PATH (skip the build),
# --budget SECONDS, --out DIR, --work DIR; `--help` says more. Environment: GPU_CHECK_PYTHON (the Python
# whose torch to build against and compare with; default: the first of python3, /usr/bin/python3 that
# imports torch), CXX (default g++). On the device machine, from the checkout the session started in:
#
#   run(command="bash scripts/gpu-check.sh", carry=[".gpu-check"], timeout_s=600)
#
# See docs/benchmarks.md ("GPU") and docs/libtorch2.md.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--pack" ]; then
  shift
  exec node scripts/gpu-check-pack.mjs "$@"
fi
PY="${GPU_CHECK_PYTHON:-}"
if [ -z "$PY" ]; then
  for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null 2>&1; then
      PY="$candidate"
      break
    fi
  done
fi
[ -n "$PY" ] || {
  echo "gpu-check: no python3" >&2
  exit 1
}
exec "$PY" scripts/gpu_check.py "$@"
