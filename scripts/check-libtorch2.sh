#!/usr/bin/env bash
# Checks that sparse-soups builds and passes its tests against libtorch 2.x:
# Debian trixie packages libtorch 2.6 (libtorch-dev 2.6.0+dfsg), so this
# bootstraps a trixie chroot, installs the project's packages there, clones
# this repository into it and runs scripts/setup.sh (npm ci + addon build +
# tsc), a timed `npm run build` and `npm test`, all against trixie's libtorch
# 2.6, Node 20 and GCC 14. It proves the CPU build and behaviour only: CUDA
# needs a GPU and a CUDA libtorch (LIBTORCH=..., see README.md).
#
#   sudo bash scripts/check-libtorch2.sh [DIR]    # DIR: the chroot (default /work/chroot-trixie)
#
# Environment:
#   REF=<rev>      commit to test (default HEAD); REF=WORKTREE tests HEAD plus the
#                  uncommitted changes to tracked files (through `git stash create`,
#                  which leaves the working tree alone)
#   TESTS="test/tensor/*.test.ts ..."   run only these test files (default: npm test)
#   SUITE=trixie   MIRROR=http://deb.debian.org/debian   what debootstrap fetches
#   LOG_DIR=...    where build.log and test.log go (default DIR/root/check-libtorch2-logs)
#
# Needs root (debootstrap, chroot, mount) and Debian's mirror plus the npm
# registry. Runs again cheaply: the chroot, its packages and node_modules are
# reused; the clone is moved to the commit under test. On exit it stops what
# it started inside the chroot and unmounts /proc, /sys and /dev there; the
# chroot itself stays (rm -rf DIR after `mount | grep DIR` shows nothing).
# Results of a run are in docs/libtorch2.md.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
DIR="$(realpath -m "${1:-/work/chroot-trixie}")"
SUITE="${SUITE:-trixie}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
LOG_DIR="${LOG_DIR:-$DIR/root/check-libtorch2-logs}"
CLONE=/root/sparse-soups # inside the chroot
# Beyond what scripts/setup.sh installs: Node with its headers (node-gyp builds
# against /usr/include/node), npm, git, and the reference safetensors library
# (packaged from trixie on) so the interop test that bookworm skips runs too.
PACKAGES=(nodejs libnode-dev npm git ca-certificates python3 python3-safetensors)

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
  # shellcheck disable=SC2016 # dpkg's own ${...} fields
  in_chroot dpkg-query -W -f='${Package} ${Version}\n' libtorch-dev libopenblas0-pthread nodejs npm g++ 2>/dev/null
}

# 4. scripts/setup.sh (installs its packages, npm ci, builds), then a timed clean build.
in_chroot bash -c "cd $CLONE && nice -n 10 bash scripts/setup.sh"
start=$(date +%s)
in_chroot bash -c "cd $CLONE && nice -n 10 npm run build" >"$LOG_DIR/build.log" 2>&1 || {
  tail -40 "$LOG_DIR/build.log"
  die "build failed (log: $LOG_DIR/build.log)"
}
build_s=$(($(date +%s) - start))
addon="torch $(in_chroot bash -c "cd $CLONE && node -p \"require('./build/Release/sparse_soups.node').version().torch\"")"
addon="$addon; $(in_chroot bash -c "cd $CLONE && node scripts/libtorch.mjs --check")"
say "built in ${build_s}s; addon reports $addon"

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
  echo "build: ${build_s}s (npm run build)"
  echo "tests: $test_cmd -> exit $rc in ${test_s}s"
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the CPU may be shared; times are wall clock)"
  grep -E '^# (tests|pass|fail|cancelled|skipped|todo) ' "$LOG_DIR/test.log" || true
  grep -E '^not ok|# SKIP' "$LOG_DIR/test.log" || true
} | tee "$LOG_DIR/summary.txt"
say "logs in $LOG_DIR"
exit "$rc"
