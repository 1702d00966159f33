#!/usr/bin/env bash
# Installs what the benchmarks' peer needs: Debian's python3-torch (PyTorch on
# the same libtorch the addon links), unless /usr/bin/python3 can import it.
# Called by `npm run bench:train` and `npm run bench:sms`; the project itself must already be set up
# (scripts/setup.sh).
set -euo pipefail
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  exit 0
fi
echo "setup-bench: installing python3-torch (the PyTorch peer) ..." >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-torch >&2
/usr/bin/python3 -c 'import torch; print("setup-bench: PyTorch", torch.__version__)' >&2
