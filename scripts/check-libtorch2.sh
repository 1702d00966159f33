#!/usr/bin/env bash
# Checks that sparse-soups builds and passes its tests against libtorch 2.x:
# Debian trixie packages libtorch 2.6 (libtorch-dev 2.6.0+dfsg), so this
# bootstraps a trixie chroot, installs the project's packages there, clones
# this repository into it and runs scripts/setup.sh (npm ci + addon build +
# tsc), a timed `npm run build` and `npm test`, all against trixie's libtorch
# 2.6, Node 20 and GCC 14. It proves the CPU build and behaviour only; CUDA=1
# (below) also checks the CUDA build, but running CUDA kernels needs a GPU.
#
#   sudo bash scripts/check-libtorch2.sh [DIR]    # DIR: the chroot (default /work/chroot-trixie)
#   sudo CUDA=1 bash scripts/check-libtorch2.sh [DIR]   # default /work/chroot-trixie-cuda
#
# CUDA=1 builds and tests against trixie's CUDA build of libtorch instead
# (libtorch-cuda-dev from contrib, with NVIDIA's CUDA 12.4 libraries from
# non-free), in its own chroot since it replaces libtorch-dev. No GPU is
# needed or used: it checks that the CUDA libraries are detected and linked,
# that the addon loads, and that the suite passes with cudaAvailable() false.
# cuDNN is not on Debian's mirror (nvidia-cudnn's install script downloads it
# from NVIDIA after a license question): this declines that question and puts
# a stub libcudnn.so.9 in /usr/local/lib/cudnn-stub, whose functions abort,
# so that the loader can resolve libtorch_cuda.so; a real cuDNN (answer "I
# Agree", or remove the stub) is needed before running anything on a GPU.
#
# Environment:
#   REF=<rev>      commit to test (default HEAD); REF=WORKTREE tests HEAD plus the
#                  uncommitted changes to tracked files (through `git stash create`,
#                  which leaves the working tree alone)
#   TESTS="test/tensor/*.test.ts ..."   run only these test files (default: npm test)
#   SUITE=trixie   MIRROR=http://deb.debian.org/debian   what debootstrap fetches
#   LOG_DIR=...    where build.log and test.log go (default DIR/root/check-libtorch2-logs)
#   CUDA=1         the CUDA variant above
#   FROM=<dir>     when DIR holds no chroot yet, start from a copy of this one
#                  (cp -a; e.g. FROM=/work/chroot-trixie for CUDA=1) instead of debootstrap
#
# Needs root (debootstrap, chroot, mount) and Debian's mirror plus the npm
# registry. Runs again cheaply: the chroot, its packages and node_modules are
# reused; the clone is moved to the commit under test. On exit it stops what
# it started inside the chroot and unmounts /proc, /sys and /dev there; the
# chroot itself stays (rm -rf DIR after `mount | grep DIR` shows nothing).
# Results of a run are in docs/libtorch2.md.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
CUDA="${CUDA:-0}"
if [ "$CUDA" = 1 ]; then DIR_DEFAULT=/work/chroot-trixie-cuda; else DIR_DEFAULT=/work/chroot-trixie; fi
DIR="$(realpath -m "${1:-$DIR_DEFAULT}")"
SUITE="${SUITE:-trixie}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
LOG_DIR="${LOG_DIR:-$DIR/root/check-libtorch2-logs}"
CLONE=/root/sparse-soups # inside the chroot
# Beyond what scripts/setup.sh installs: Node with its headers (node-gyp builds
# against /usr/include/node), npm, git, and the reference safetensors library
# (packaged from trixie on) so the interop test that bookworm skips runs too.
PACKAGES=(nodejs libnode-dev npm git ca-certificates python3 python3-safetensors)
# CUDA=1: the CUDA libtorch (conflicts with libtorch-dev, which apt removes;
# scripts/setup.sh then keeps it), and g++/binutils for the cuDNN stub.
CUDA_PACKAGES=(libtorch-cuda-dev g++ binutils)

# The repository may belong to another user than root (sudo).
git() { command git -c safe.directory='*' "$@"; }
say() { echo "check-libtorch2: $*"; }
die() {
  echo "check-libtorch2: $*" >&2
  exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot, mount); run it with sudo"
case "$DIR" in "$REPO" | "$REPO"/*) die "DIR must be outside the repository ($REPO)" ;; esac

in_chroot() {
  chroot "$DIR" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive "$@"
}

# shellcheck disable=SC2016 # dpkg's own ${...} fields
chroot_has() { in_chroot dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# Stops processes whose root is the chroot (a redis-server a test left behind,
# say), then unmounts what this script mounted.
# shellcheck disable=SC2317 # called through the EXIT trap
cleanup() {
  local p pid m
  for p in /proc/[0-9]*; do
    pid="${p#/proc/}"
    [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$DIR" ] || continue
    say "stopping process $pid left in the chroot ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-80))"
    kill "$pid" 2>/dev/null || true
  done
  sleep 1
  for m in dev sys proc; do
    if mountpoint -q "$DIR/$m"; then umount -R "$DIR/$m" 2>/dev/null || umount -R -l "$DIR/$m"; fi
  done
}

# 1. The chroot (debootstrap removes DIR/debootstrap when it finished).
if [ -n "${FROM:-}" ] && [ ! -e "$DIR" ]; then
  FROM="$(realpath -e "$FROM")"
  [ -f "$FROM/etc/debian_version" ] || die "FROM=$FROM is not a chroot"
  if mount | grep -q " $FROM/"; then die "FROM=$FROM has mounts; run this again when they are gone"; fi
  say "copying $FROM to $DIR"
  cp -a "$FROM" "$DIR"
fi
if [ ! -f "$DIR/etc/debian_version" ] || [ -d "$DIR/debootstrap" ]; then
  command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap; }
  say "debootstrap $SUITE into $DIR"
  mkdir -p "$DIR"
  debootstrap --variant=minbase "$SUITE" "$DIR" "$MIRROR"
fi

trap cleanup EXIT
mountpoint -q "$DIR/proc" || mount -t proc proc "$DIR/proc"
mountpoint -q "$DIR/sys" || mount -t sysfs sysfs "$DIR/sys"
if ! mountpoint -q "$DIR/dev"; then
  mount --rbind /dev "$DIR/dev"
  mount --make-rslave "$DIR/dev"
fi
cp /etc/resolv.conf "$DIR/etc/resolv.conf"
# Local CAs of this machine (a TLS-inspecting proxy's, say) so npm can reach the registry.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  mkdir -p "$DIR/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$DIR/usr/local/share/ca-certificates/"
  [ -x "$DIR/usr/sbin/update-ca-certificates" ] && in_chroot update-ca-certificates >/dev/null
fi
# Packages must not start services (redis-server) in the chroot.
printf '#!/bin/sh\nexit 101\n' >"$DIR/usr/sbin/policy-rc.d"
chmod +x "$DIR/usr/sbin/policy-rc.d"

# 2. Packages: Node, npm and git here; scripts/setup.sh installs the rest.
missing=()
for p in "${PACKAGES[@]}"; do
  # shellcheck disable=SC2016 # dpkg's own ${...} fields
  in_chroot dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]}"
  in_chroot apt-get update -qq
  in_chroot apt-get install -y -q --no-install-recommends "${missing[@]}"
  [ -x "$DIR/usr/sbin/update-ca-certificates" ] && in_chroot update-ca-certificates >/dev/null
fi

# 2b. CUDA=1: contrib and non-free, the CUDA libtorch, and the cuDNN stub.
if [ "$CUDA" = 1 ]; then
  sections="$DIR/etc/apt/sources.list.d/check-libtorch2-cuda.list"
  [ -f "$sections" ] || echo "deb $MIRROR $SUITE contrib non-free non-free-firmware" >"$sections"
  # No download from NVIDIA (see the top); debconf would otherwise answer "I Agree".
  echo 'nvidia-cudnn nvidia-cudnn/question select I Decline' | in_chroot debconf-set-selections
  missing=()
  for p in "${CUDA_PACKAGES[@]}"; do chroot_has "$p" || missing+=("$p"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    in_chroot apt-get update -qq
    in_chroot nice -n 10 apt-get install -y -q --no-install-recommends "${missing[@]}"
    in_chroot apt-get clean # the 2.3 GB of .deb files
  fi
  if ! in_chroot ldconfig -p | grep -q 'libcudnn\.so\.9 '; then
    say "no libcudnn.so.9: building a stub in /usr/local/lib/cudnn-stub"
    # shellcheck disable=SC2016 # expanded inside the chroot
    in_chroot bash -c '
      set -euo pipefail
      d=/usr/local/lib/cudnn-stub
      mkdir -p "$d"
      # The cuDNN functions libtorch_cuda.so imports (version node libcudnn.so.9; it is linked -z now).
      readelf -W --dyn-syms "$(ldconfig -p | sed -n "s/.*libtorch_cuda\.so\.[0-9.]* .*=> //p" | head -1)" |
        awk "\$7 == \"UND\" && \$8 ~ /^cudnn[A-Za-z0-9_]*@libcudnn[.]so[.]9\$/ { sub(/@.*/, \"\", \$8); print \$8 }" |
        sort -u >"$d/symbols.txt"
      [ -s "$d/symbols.txt" ] || { echo "no cuDNN symbols found in libtorch_cuda.so" >&2; exit 1; }
      {
        echo "#include <stdio.h>"
        echo "#include <stdlib.h>"
        echo "static void stub(const char* f) { fprintf(stderr, \"cuDNN stub: %s called; install the real cuDNN\\n\", f); abort(); }"
        while read -r s; do echo "void $s(void) { stub(\"$s\"); }"; done <"$d/symbols.txt"
      } >"$d/cudnn-stub.c"
      echo "libcudnn.so.9 { global: cudnn*; local: *; };" >"$d/cudnn-stub.map"
      gcc -shared -fPIC -O1 -Wl,-soname,libcudnn.so.9 -Wl,--version-script="$d/cudnn-stub.map" \
        -o "$d/libcudnn.so.9" "$d/cudnn-stub.c"
      echo "$d" >/etc/ld.so.conf.d/zz-cudnn-stub.conf
      ldconfig
      echo "check-libtorch2: cuDNN stub with $(wc -l <"$d/symbols.txt") functions"'
  fi
fi

# 3. The commit under test, cloned into the chroot (pushed, so any local commit works).
if [ "${REF:-HEAD}" = WORKTREE ]; then
  SHA="$(git -C "$REPO" stash create)"
  SHA="${SHA:-$(git -C "$REPO" rev-parse HEAD)}"
else
  SHA="$(git -C "$REPO" rev-parse --verify "${REF:-HEAD}^{commit}")"
fi
if [ ! -d "$DIR$CLONE/.git" ]; then
  git init -q "$DIR$CLONE"
fi
git -C "$REPO" push -q --force "$DIR$CLONE" "$SHA:refs/heads/under-test"
git -C "$DIR$CLONE" -c advice.detachedHead=false checkout -q --force --detach "$SHA"
git -C "$DIR$CLONE" clean -q -fdx -e node_modules -e build
say "testing $(git -C "$REPO" log -1 --format='%h %s' "$SHA" | cut -c1-100)"

mkdir -p "$LOG_DIR"
versions() {
  if [ "$CUDA" = 1 ]; then
    # shellcheck disable=SC2016 # dpkg's own ${...} fields
    in_chroot dpkg-query -W -f='${Package} ${Version}\n' libtorch-cuda-dev libopenblas0-pthread nodejs npm g++ \
      libcudart12 libcublas12 libnccl2 libcuda1 nvidia-cudnn 2>/dev/null || true
    return
  fi
  # shellcheck disable=SC2016 # dpkg's own ${...} fields
  in_chroot dpkg-query -W -f='${Package} ${Version}\n' libtorch-dev libopenblas0-pthread nodejs npm g++ 2>/dev/null
}

# 4. scripts/setup.sh (installs its packages, npm ci, builds), then a timed clean build.
in_chroot bash -c "cd $CLONE && nice -n 10 bash scripts/setup.sh"
if [ "$CUDA" = 1 ] && ! chroot_has libtorch-cuda-dev; then
  die "scripts/setup.sh of this commit replaced libtorch-cuda-dev with libtorch-dev (it predates keeping the CUDA package)"
fi
start=$(date +%s)
in_chroot bash -c "cd $CLONE && nice -n 10 npm run build" >"$LOG_DIR/build.log" 2>&1 || {
  tail -40 "$LOG_DIR/build.log"
  die "build failed (log: $LOG_DIR/build.log)"
}
build_s=$(($(date +%s) - start))
addon="torch $(in_chroot bash -c "cd $CLONE && node -p \"require('./build/Release/sparse_soups.node').version().torch\"")"
addon="$addon; $(in_chroot bash -c "cd $CLONE && node scripts/libtorch.mjs --check")"
say "built in ${build_s}s; addon reports $addon"
if [ "$CUDA" = 1 ]; then
  # What the addon links and loads, and what it says about CUDA without a GPU.
  linked="$(in_chroot bash -c "cd $CLONE && node scripts/libtorch.mjs --libs | tr '\n' ' '")"
  loaded="$(in_chroot bash -c "cd $CLONE && ldd build/Release/sparse_soups.node" | grep -E 'torch|c10|cud' | awk '{print $1, $2, $3}')"
  needed="$(in_chroot bash -c "cd $CLONE && readelf -d build/Release/sparse_soups.node" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | grep -E 'torch|c10' | tr '\n' ' ')"
  cat >"$DIR/tmp/check-libtorch2-cuda.mjs" <<'EOF'
import { cudaAvailable, cudaDeviceCount, libtorchVersion, zeros } from '/root/sparse-soups/dist/src/tensor/index.js';
let err = 'no error';
try {
  zeros([1], { device: 'cuda' });
} catch (e) {
  err = `${e.constructor.name}: ${e.message}`;
}
console.log(`torch ${libtorchVersion()}, cudaAvailable() ${cudaAvailable()}, cudaDeviceCount() ${cudaDeviceCount()}; zeros([1], {device: 'cuda'}) -> ${err}`);
EOF
  cuda_state="$(in_chroot bash -c "cd $CLONE && node /tmp/check-libtorch2-cuda.mjs" 2>&1 | tr '\n' ' ')"
  say "CUDA: $cuda_state"
fi

# 5. Tests.
if [ -n "${TESTS:-}" ]; then
  test_cmd="node --import tsx --test --test-concurrency=1 $TESTS"
else
  test_cmd="npm test"
fi
start=$(date +%s)
set +e
in_chroot bash -c "cd $CLONE && nice -n 10 $test_cmd" >"$LOG_DIR/test.log" 2>&1
rc=$?
set -e
test_s=$(($(date +%s) - start))

{
  echo "commit: $(git -C "$REPO" log -1 --format='%H' "$SHA")"
  echo "chroot: $DIR ($SUITE, debian_version $(cat "$DIR/etc/debian_version"))"
  versions
  echo "addon: $addon"
  if [ "$CUDA" = 1 ]; then
    echo "link flags: $linked"
    echo "NEEDED (torch, c10): $needed"
    echo "ldd (torch, c10, cuda):"
    while read -r l; do echo "  $l"; done <<<"$loaded"
    echo "without a GPU: $cuda_state"
  fi
  echo "build: ${build_s}s (npm run build)"
  echo "tests: $test_cmd -> exit $rc in ${test_s}s"
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the CPU may be shared; times are wall clock)"
  grep -E '^# (tests|pass|fail|cancelled|skipped|todo) ' "$LOG_DIR/test.log" || true
  grep -E '^not ok|# SKIP' "$LOG_DIR/test.log" || true
} | tee "$LOG_DIR/summary.txt"
say "logs in $LOG_DIR"
exit "$rc"
