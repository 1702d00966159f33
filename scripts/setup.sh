#!/usr/bin/env bash
# Sets up sparse-soups on a Debian machine: system packages (only those
# missing), npm dependencies, the libtorch addon, the TypeScript build, and
# the `sparse-soups` command on PATH.
#
#   bash scripts/setup.sh            # everything needed to run and test
#   LIBTORCH=/path/to/libtorch bash scripts/setup.sh   # build against another libtorch (e.g. CUDA)
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
need_pkg() { installed "$1" || missing+=("$1"); }

# libtorch: from LIBTORCH if set, else Debian's (CPU) package, unless Debian's CUDA
# build is installed (libtorch-cuda-dev, trixie's contrib): it conflicts with libtorch-dev.
if [ -z "${LIBTORCH:-}" ] && ! installed libtorch-cuda-dev; then need_pkg libtorch-dev; fi
# Without OpenBLAS Debian's libtorch uses the reference BLAS (~25x slower matmul).
need_pkg libopenblas0-pthread
need_pkg dataset-fashion-mnist   # the real dataset for the demo and tests
need_pkg redis-server            # the queue executor's tests start a local Redis
need_pkg chromium                # the report test renders the HTML report headless
need_pkg python3-numpy           # interop tests read our safetensors files with an independent reader
need_pkg g++
need_pkg make

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm ci also runs this package's install step (scripts/install-native.mjs),
# which builds the addon when it is missing: without a nodedir, node-gyp would
# download Node's headers from nodejs.org. Use the local ones, as
# scripts/build-native.mjs does.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node_api.h ]; then export npm_config_nodedir=/usr; fi
# onnxruntime-node (devDependency: the ONNX export tests) ships its CPU binaries in the npm
# package; its postinstall would also download CUDA libraries from NuGet, which fails offline.
# .npmrc says `onnxruntime-node-install=skip`; the variable says it too, for npm versions that
# stop passing unknown .npmrc keys to install scripts.
export ONNXRUNTIME_NODE_INSTALL="${ONNXRUNTIME_NODE_INSTALL:-skip}"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
# The addon is rebuilt only when it is missing, does not load, is older than
# native/ or binding.gyp, or was built against another libtorch (say LIBTORCH
# changed); `npm run build:native` rebuilds it unconditionally.
node scripts/install-native.mjs
npm run build:ts
# `sparse-soups` on PATH: a symlink to dist/src/cli/main.js (/usr/local/bin as root, else ~/.local/bin).
bash scripts/link-cli.sh
echo "setup: done ($(node scripts/libtorch.mjs --check))"
