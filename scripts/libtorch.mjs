#!/usr/bin/env node
// Locates libtorch for the native build and prints what node-gyp needs.
//
//   node scripts/libtorch.mjs --check      # human-readable summary, exit 1 if none found
//   node scripts/libtorch.mjs --include    # include directories (one per line)
//   node scripts/libtorch.mjs --libdir     # library directory
//   node scripts/libtorch.mjs --libs       # linker flags
//   node scripts/libtorch.mjs --defines    # preprocessor defines (C++ ABI)
//
// Order: $LIBTORCH (a libtorch directory, or a PyTorch install's torch/ folder),
// then the system paths of Debian's libtorch-dev.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const HOW_TO_GET =
  'No libtorch found. On Debian: `sudo apt-get install libtorch-dev libopenblas0-pthread` ' +
  '(or run `bash scripts/setup.sh`, which does it). For CUDA: `libtorch-cuda-dev` on Debian trixie (contrib, ' +
  'with non-free enabled), or set LIBTORCH to a libtorch 2.x directory ' +
  '(unzipped from pytorch.org) or to the torch/ folder of a CUDA PyTorch install ' +
  '(python3 -c "import torch, os; print(os.path.dirname(torch.__file__))").';

function systemLibtorch() {
  const include = '/usr/include/torch/csrc/api/include';
  if (!existsSync(join(include, 'torch/torch.h'))) return null;
  const candidates = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'];
  const libdir = candidates.find((d) => existsSync(join(d, 'libtorch_cpu.so')) || existsSync(join(d, 'libtorch.so')));
  if (!libdir) return null;
  // libtorch-cuda-dev (trixie's contrib, the CUDA build) replaces libtorch-dev in the same paths.
  const pkg = existsSync(join(libdir, 'libtorch_cuda.so')) ? 'libtorch-cuda-dev' : 'libtorch-dev';
  return { root: '/usr', includes: ['/usr/include', include], libdir, source: `system (${pkg})` };
}

function envLibtorch(root) {
  const include = join(root, 'include');
  const libdir = join(root, 'lib');
  const apiInclude = join(include, 'torch/csrc/api/include');
  if (!existsSync(join(apiInclude, 'torch/torch.h')) || !existsSync(libdir)) {
    throw new Error(
      `LIBTORCH=${root} is not a libtorch directory: expected ${apiInclude}/torch/torch.h and ${libdir}/. ` + HOW_TO_GET,
    );
  }
  return { root, includes: [include, apiInclude], libdir, source: `LIBTORCH=${root}` };
}

function cxx11Abi(found) {
  // Debian builds with the new ABI; pip wheels before 2.7 used the old one. TorchConfig.cmake records it.
  const cfg = join(found.root, 'share/cmake/Torch/TorchConfig.cmake');
  if (existsSync(cfg)) {
    const m = /_GLIBCXX_USE_CXX11_ABI=([01])/.exec(readFileSync(cfg, 'utf8'));
    if (m) return m[1];
  }
  return '1';
}

export function locateLibtorch() {
  const env = process.env.LIBTORCH;
  const found = env ? envLibtorch(env) : systemLibtorch();
  if (!found) return null;
  const libs = readdirSync(found.libdir);
  const cuda = libs.includes('libtorch_cuda.so');
  const linkLibs = ['-ltorch', '-ltorch_cpu', '-lc10'];
  // The addon calls no libtorch_cuda symbol itself, but loading it is what registers the CUDA kernels and
  // hooks (without it cudaAvailable() stays false even with a GPU): keep it whatever the linker's
  // --as-needed default is, and restore that default afterwards (push/pop-state, binutils >= 2.26).
  if (cuda) linkLibs.push('-Wl,--push-state,--no-as-needed', '-ltorch_cuda', '-lc10_cuda', '-Wl,--pop-state');
  return { ...found, cuda, abi: cxx11Abi(found), linkLibs };
}

/**
 * What identifies the libtorch an addon is built against: recorded beside the
 * addon by build-native.mjs (build/Release/sparse_soups.libtorch.json) and
 * compared by install-native.mjs, which rebuilds when it differs.
 */
export function libtorchStamp(found) {
  return { source: found.source, libdir: found.libdir, cuda: found.cuda, abi: found.abi };
}

function main() {
  let found;
  try {
    found = locateLibtorch();
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
  if (!found) {
    console.error(HOW_TO_GET);
    process.exit(1);
  }
  const arg = process.argv[2] ?? '--check';
  if (arg === '--include') console.log(found.includes.join('\n'));
  else if (arg === '--libdir') console.log(found.libdir);
  else if (arg === '--libs') console.log([`-L${found.libdir}`, `-Wl,-rpath,${found.libdir}`, ...found.linkLibs].join('\n'));
  else if (arg === '--defines') console.log(`_GLIBCXX_USE_CXX11_ABI=${found.abi}`);
  else console.log(`libtorch: ${found.source}; lib ${found.libdir}; CUDA ${found.cuda ? 'yes' : 'no'}; C++11 ABI ${found.abi}`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
