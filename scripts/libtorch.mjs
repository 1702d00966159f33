#!/usr/bin/env node
// Locates libtorch for the native build and prints what node-gyp needs.
//
//   node scripts/libtorch.mjs --check      # human-readable summary, exit 1 if none found
//   node scripts/libtorch.mjs --include    # include directories (one per line)
//   node scripts/libtorch.mjs --libdir     # library directory
//   node scripts/libtorch.mjs --libs       # linker flags
//   node scripts/libtorch.mjs --defines    # preprocessor defines (C++ ABI)
//   node scripts/libtorch.mjs --std        # the C++ standard flag (-std=c++17; c++20 for libtorch >= 2.12)
//   node scripts/libtorch.mjs --json       # everything above, as one JSON object
//
// Order: $LIBTORCH (a libtorch directory, or a PyTorch install's torch/ folder),
// then the system paths of Debian's libtorch-dev (or libtorch-cuda-dev).
//
// LIBTORCH=<dir> uses <dir>/include and <dir>/include/torch/csrc/api/include,
// links <dir>/lib (with an rpath to it): torch, torch_cpu, c10, and torch_cuda
// and c10_cuda where that folder has them (a CUDA build). The C++11 ABI define
// is the install's own: torch._C._GLIBCXX_USE_CXX11_ABI from a Python that
// imports that torch/ folder (LIBTORCH_PYTHON, python3, /usr/bin/python3),
// else its TorchConfig.cmake, else whether libc10.so's symbols name
// std::__cxx11. For Debian's packages every flag is as before LIBTORCH existed.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

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

/** The C++11 ABI recorded in `root`'s TorchConfig.cmake, or null. */
function abiFromCmake(root) {
  // Debian builds with the new ABI; pip wheels before 2.7 used the old one. TorchConfig.cmake records it.
  const cfg = join(root, 'share/cmake/Torch/TorchConfig.cmake');
  if (!existsSync(cfg)) return null;
  const m = /_GLIBCXX_USE_CXX11_ABI=([01])/.exec(readFileSync(cfg, 'utf8'));
  return m ? { abi: m[1], from: 'TorchConfig.cmake' } : null;
}

/**
 * The C++11 ABI setting of a PyTorch install's torch/ folder, as that install
 * reports it: torch._C._GLIBCXX_USE_CXX11_ABI, from the first Python that
 * imports *this* torch/ folder (LIBTORCH_PYTHON, then python3, then
 * /usr/bin/python3). Null when none does (not a Python package, or no Python
 * of its version here).
 */
function abiFromPython(root, env) {
  if (!existsSync(join(root, '__init__.py'))) return null;
  const pythons = [...new Set([env.LIBTORCH_PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean))];
  const script =
    'import os, sys; sys.path.insert(0, sys.argv[1]); import torch; ' +
    'print(os.path.realpath(os.path.dirname(torch.__file__))); print(int(torch._C._GLIBCXX_USE_CXX11_ABI))';
  const want = realpathSync(root);
  for (const python of pythons) {
    const r = spawnSync(python, ['-c', script, dirname(want)], { encoding: 'utf8', timeout: 120_000, cwd: tmpdir(), env });
    if (r.status !== 0) continue;
    const [where, abi] = r.stdout.trim().split('\n').slice(-2);
    if (where === want && (abi === '0' || abi === '1')) return { abi, from: `${python}: torch._C._GLIBCXX_USE_CXX11_ABI` };
  }
  return null;
}

/**
 * The C++11 ABI setting read off libc10.so itself: a library built with the
 * new ABI names std::__cxx11 types (std::string is std::__cxx11::basic_string)
 * in its symbols, one built with the old ABI never does.
 */
export function abiFromSymbols(libdir) {
  const lib = join(libdir, 'libc10.so');
  if (!existsSync(lib)) return null;
  return { abi: readFileSync(lib).includes('__cxx11') ? '1' : '0', from: 'libc10.so symbols' };
}

/**
 * The C++11 ABI of a LIBTORCH folder: what its PyTorch reports, else its
 * TorchConfig.cmake, else libc10.so's symbols, else 1 (every build since 2.7).
 */
function envAbi(found, env) {
  return abiFromPython(found.root, env) ?? abiFromCmake(found.root) ?? abiFromSymbols(found.libdir) ?? { abi: '1', from: 'default' };
}

/** libtorch's version from its headers (torch/version.h), e.g. [2, 6]; null if unreadable. */
function torchVersion(found) {
  const header = join(found.includes[found.includes.length - 1], 'torch/version.h');
  if (!existsSync(header)) return null;
  const text = readFileSync(header, 'utf8');
  const major = /#define TORCH_VERSION_MAJOR (\d+)/.exec(text);
  const minor = /#define TORCH_VERSION_MINOR (\d+)/.exec(text);
  return major && minor ? [Number(major[1]), Number(minor[1])] : null;
}

/**
 * Finds libtorch and what building against it takes: `$LIBTORCH` (a libtorch
 * folder, or a PyTorch install's torch/ folder) from `env`, else Debian's
 * packages. Null when there is none; throws when LIBTORCH is set but wrong.
 * `abi: false` skips the ABI probe (which may start Python) for callers that
 * only need the paths.
 */
export function locateLibtorch(env = process.env, { abi = true } = {}) {
  const found = env.LIBTORCH ? envLibtorch(env.LIBTORCH) : systemLibtorch();
  if (!found) return null;
  const libs = readdirSync(found.libdir);
  const cuda = libs.includes('libtorch_cuda.so');
  const linkLibs = ['-ltorch', '-ltorch_cpu', '-lc10'];
  // The addon calls no libtorch_cuda symbol itself, but loading it is what registers the CUDA kernels and
  // hooks (without it cudaAvailable() stays false even with a GPU): keep it whatever the linker's
  // --as-needed default is, and restore that default afterwards (push/pop-state, binutils >= 2.26).
  if (cuda) {
    const cudaLibs = ['-ltorch_cuda', ...(libs.includes('libc10_cuda.so') ? ['-lc10_cuda'] : [])];
    linkLibs.push('-Wl,--push-state,--no-as-needed', ...cudaLibs, '-Wl,--pop-state');
  }
  // libtorch 2.12 and later want C++20 in code that includes their headers; earlier ones C++17.
  const version = torchVersion(found);
  const std = version && (version[0] > 2 || (version[0] === 2 && version[1] >= 12)) ? 'c++20' : 'c++17';
  const result = { ...found, cuda, linkLibs, std, version: version ? version.join('.') : null };
  if (!abi) return result;
  // Debian's packages: TorchConfig.cmake is not where this looks, and Debian builds with the new ABI.
  const probed = env.LIBTORCH ? envAbi(found, env) : (abiFromCmake(found.root) ?? { abi: '1', from: 'default' });
  return { ...result, abi: probed.abi, abiFrom: probed.from };
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
  const arg = process.argv[2] ?? '--check';
  let found;
  try {
    found = locateLibtorch(process.env, { abi: ['--defines', '--check', '--json'].includes(arg) });
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
  if (!found) {
    console.error(HOW_TO_GET);
    process.exit(1);
  }
  if (arg === '--include') console.log(found.includes.join('\n'));
  else if (arg === '--libdir') console.log(found.libdir);
  else if (arg === '--libs') console.log([`-L${found.libdir}`, `-Wl,-rpath,${found.libdir}`, ...found.linkLibs].join('\n'));
  else if (arg === '--defines') console.log(`_GLIBCXX_USE_CXX11_ABI=${found.abi}`);
  else if (arg === '--std') console.log(`-std=${found.std}`);
  else if (arg === '--json') console.log(JSON.stringify(found));
  else {
    const abiFrom = process.env.LIBTORCH ? ` (from ${found.abiFrom})` : '';
    console.log(`libtorch: ${found.source}; lib ${found.libdir}; CUDA ${found.cuda ? 'yes' : 'no'}; C++11 ABI ${found.abi}${abiFrom}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
