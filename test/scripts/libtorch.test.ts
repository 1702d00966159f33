// scripts/libtorch.mjs, which tells node-gyp (binding.gyp) and build-native --direct what to build with: for
// LIBTORCH=<dir> (a libtorch folder or a PyTorch install's torch/ folder) the include and library folders, the
// CUDA libraries when that folder has them, the C++11 ABI of the install (its Python's word, else
// TorchConfig.cmake, else libc10.so's symbols) and the C++ standard; for Debian's packages the flags it always
// printed. Checked on fake libtorch folders in a temporary directory (nothing is compiled).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REPO = new URL('../..', import.meta.url).pathname;
const SCRIPT = join(REPO, 'scripts/libtorch.mjs');

interface Found {
  includes: string[];
  libdir: string;
  source: string;
  cuda: boolean;
  linkLibs: string[];
  std: string;
  version: string | null;
  abi: string;
  abiFrom: string;
}

/** Runs `node scripts/libtorch.mjs <arg>` with only LIBTORCH (and LIBTORCH_PYTHON) of ours set. */
function libtorch(arg: string, env: Record<string, string | undefined>): { status: number | null; stdout: string; stderr: string } {
  const base = { ...process.env };
  delete base.LIBTORCH;
  delete base.LIBTORCH_PYTHON;
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete base[k];
  const r = spawnSync(process.execPath, [SCRIPT, arg], { encoding: 'utf8', env: { ...base, ...env } as NodeJS.ProcessEnv });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json(env: Record<string, string | undefined>): Found {
  const r = libtorch('--json', env);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Found;
}

interface FakeOptions {
  /** Library files in lib/ (default: a CUDA build's). */
  libs?: string[];
  /** Whether libc10.so's bytes name std::__cxx11 (default true). */
  cxx11Symbols?: boolean;
  /** TORCH_VERSION_MAJOR.MINOR in torch/version.h (default 2.11). */
  version?: [number, number];
  /** A share/cmake/Torch/TorchConfig.cmake recording this ABI. */
  cmakeAbi?: 0 | 1;
  /** Make it an importable Python package whose torch._C._GLIBCXX_USE_CXX11_ABI is this. */
  pythonAbi?: boolean;
}

/** A fake libtorch (or PyTorch torch/) folder: headers, libraries and ABI records, as real ones lay them out. */
function fakeLibtorch(parent: string, opts: FakeOptions = {}): string {
  const root = join(parent, 'torch');
  const api = join(root, 'include/torch/csrc/api/include/torch');
  mkdirSync(api, { recursive: true });
  writeFileSync(join(api, 'torch.h'), '#pragma once\n');
  const [major, minor] = opts.version ?? [2, 11];
  writeFileSync(
    join(api, 'version.h'),
    `#pragma once\n#define TORCH_VERSION_MAJOR ${major}\n#define TORCH_VERSION_MINOR ${minor}\n#define TORCH_VERSION_PATCH 0\n`,
  );
  mkdirSync(join(root, 'lib'));
  for (const lib of opts.libs ?? ['libtorch.so', 'libtorch_cpu.so', 'libc10.so', 'libtorch_cuda.so', 'libc10_cuda.so']) {
    // What a new-ABI libc10.so holds among its symbol names (a std::string parameter), or an old-ABI one.
    const symbols =
      (opts.cxx11Symbols ?? true)
        ? '_ZN3c106detail14torchCheckFailEPKcS2_jRKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE'
        : '_ZN3c106detail14torchCheckFailEPKcS2_jRKSs';
    writeFileSync(join(root, 'lib', lib), `\x7fELF fake ${lib} ${lib === 'libc10.so' ? symbols : ''}`);
  }
  if (opts.cmakeAbi !== undefined) {
    mkdirSync(join(root, 'share/cmake/Torch'), { recursive: true });
    writeFileSync(join(root, 'share/cmake/Torch/TorchConfig.cmake'), `set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=${opts.cmakeAbi}")\n`);
  }
  if (opts.pythonAbi !== undefined) {
    writeFileSync(join(root, '__init__.py'), `class _C:\n    _GLIBCXX_USE_CXX11_ABI = ${opts.pythonAbi ? 'True' : 'False'}\n`);
  }
  return root;
}

function withTmp(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'sparse-soups-libtorch-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const NO_PYTHON = spawnSync('python3', ['-c', 'pass']).status === 0 ? false : 'no python3';

test('LIBTORCH: include and library folders, rpath, and the CUDA libraries kept whatever --as-needed says', () => {
  withTmp((dir) => {
    const root = fakeLibtorch(dir);
    const env = { LIBTORCH: root };
    assert.equal(libtorch('--include', env).stdout, `${root}/include\n${root}/include/torch/csrc/api/include\n`);
    assert.equal(libtorch('--libdir', env).stdout, `${root}/lib\n`);
    assert.deepEqual(libtorch('--libs', env).stdout.trim().split('\n'), [
      `-L${root}/lib`,
      `-Wl,-rpath,${root}/lib`,
      '-ltorch',
      '-ltorch_cpu',
      '-lc10',
      '-Wl,--push-state,--no-as-needed',
      '-ltorch_cuda',
      '-lc10_cuda',
      '-Wl,--pop-state',
    ]);
    const found = json(env);
    assert.equal(found.cuda, true);
    assert.equal(found.source, `LIBTORCH=${root}`);
    assert.equal(found.version, '2.11');
    assert.match(libtorch('--check', env).stdout, /CUDA yes; C\+\+11 ABI 1 \(from libc10\.so symbols\)/);
  });
});

test('LIBTORCH without CUDA libraries links torch, torch_cpu and c10 alone; c10_cuda only where it exists', () => {
  withTmp((dir) => {
    const cpu = fakeLibtorch(join(dir, 'cpu'), { libs: ['libtorch.so', 'libtorch_cpu.so', 'libc10.so'] });
    assert.deepEqual(libtorch('--libs', { LIBTORCH: cpu }).stdout.trim().split('\n').slice(2), ['-ltorch', '-ltorch_cpu', '-lc10']);
    assert.equal(json({ LIBTORCH: cpu }).cuda, false);
    const noC10Cuda = fakeLibtorch(join(dir, 'partial'), { libs: ['libtorch.so', 'libtorch_cpu.so', 'libc10.so', 'libtorch_cuda.so'] });
    assert.deepEqual(libtorch('--libs', { LIBTORCH: noC10Cuda }).stdout.trim().split('\n').slice(2), [
      '-ltorch',
      '-ltorch_cpu',
      '-lc10',
      '-Wl,--push-state,--no-as-needed',
      '-ltorch_cuda',
      '-Wl,--pop-state',
    ]);
  });
});

test('the C++11 ABI: libc10.so symbols, overridden by TorchConfig.cmake', () => {
  withTmp((dir) => {
    const oldAbi = fakeLibtorch(join(dir, 'old'), { cxx11Symbols: false });
    assert.equal(libtorch('--defines', { LIBTORCH: oldAbi }).stdout, '_GLIBCXX_USE_CXX11_ABI=0\n');
    assert.equal(json({ LIBTORCH: oldAbi }).abiFrom, 'libc10.so symbols');
    const newAbi = fakeLibtorch(join(dir, 'new'), { cxx11Symbols: true });
    assert.equal(libtorch('--defines', { LIBTORCH: newAbi }).stdout, '_GLIBCXX_USE_CXX11_ABI=1\n');
    const cmake = fakeLibtorch(join(dir, 'cmake'), { cxx11Symbols: true, cmakeAbi: 0 });
    assert.deepEqual([json({ LIBTORCH: cmake }).abi, json({ LIBTORCH: cmake }).abiFrom], ['0', 'TorchConfig.cmake']);
    const none = fakeLibtorch(join(dir, 'none'), { libs: ['libtorch.so', 'libtorch_cpu.so'] });
    assert.deepEqual([json({ LIBTORCH: none }).abi, json({ LIBTORCH: none }).abiFrom], ['1', 'default']);
  });
});

test("the C++11 ABI of a PyTorch install is what that install's Python reports, before any file", { skip: NO_PYTHON }, () => {
  withTmp((dir) => {
    // The symbols and TorchConfig.cmake say 1, the package says 0: the package wins.
    const root = fakeLibtorch(dir, { cxx11Symbols: true, cmakeAbi: 1, pythonAbi: false });
    const found = json({ LIBTORCH: root, LIBTORCH_PYTHON: 'python3' });
    assert.deepEqual([found.abi, found.abiFrom], ['0', 'python3: torch._C._GLIBCXX_USE_CXX11_ABI']);
    // A Python that cannot run is skipped, not fatal.
    const other = json({ LIBTORCH: root, LIBTORCH_PYTHON: join(dir, 'no-such-python') });
    assert.equal(other.abi, '0');
  });
});

test('the C++ standard: c++17, and c++20 for libtorch 2.12 and later', () => {
  withTmp((dir) => {
    assert.equal(libtorch('--std', { LIBTORCH: fakeLibtorch(join(dir, 'a'), { version: [2, 11] }) }).stdout, '-std=c++17\n');
    assert.equal(libtorch('--std', { LIBTORCH: fakeLibtorch(join(dir, 'b'), { version: [2, 12] }) }).stdout, '-std=c++20\n');
    assert.equal(libtorch('--std', { LIBTORCH: fakeLibtorch(join(dir, 'c'), { version: [3, 0] }) }).stdout, '-std=c++20\n');
    assert.equal(libtorch('--std', { LIBTORCH: fakeLibtorch(join(dir, 'd'), { version: [1, 13] }) }).stdout, '-std=c++17\n');
  });
});

test('LIBTORCH that is not a libtorch folder is refused, saying what was expected', () => {
  withTmp((dir) => {
    const r = libtorch('--libs', { LIBTORCH: dir });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /is not a libtorch directory: expected .*torch\/torch\.h/);
  });
});

const SYSTEM = existsSync('/usr/include/torch/csrc/api/include/torch/torch.h') ? false : "Debian's libtorch-dev is not installed";

test("Debian's libtorch-dev: the flags binding.gyp always got", { skip: SYSTEM }, () => {
  const found = json({ LIBTORCH: undefined });
  const libs = libtorch('--libs', { LIBTORCH: undefined }).stdout.trim().split('\n');
  assert.deepEqual(libs.slice(0, 5), [`-L${found.libdir}`, `-Wl,-rpath,${found.libdir}`, '-ltorch', '-ltorch_cpu', '-lc10']);
  if (!found.cuda) assert.equal(libs.length, 5);
  assert.equal(libtorch('--include', { LIBTORCH: undefined }).stdout, '/usr/include\n/usr/include/torch/csrc/api/include\n');
  assert.equal(libtorch('--defines', { LIBTORCH: undefined }).stdout, '_GLIBCXX_USE_CXX11_ABI=1\n');
  assert.equal(libtorch('--std', { LIBTORCH: undefined }).stdout, '-std=c++17\n');
  assert.match(
    libtorch('--check', { LIBTORCH: undefined }).stdout,
    /^libtorch: system \(libtorch(-cuda)?-dev\); lib \S+; CUDA (yes|no); C\+\+11 ABI 1\n$/,
  );
});

const DEBIAN_PYTORCH = '/usr/lib/python3/dist-packages/torch';
const PYTORCH = existsSync(join(DEBIAN_PYTORCH, 'include/torch/csrc/api/include/torch/torch.h'))
  ? false
  : "Debian's python3-torch is not installed";

test(
  "LIBTORCH=<Debian python3-torch's torch/ folder>: its include/ and lib/ (links to libtorch-dev's), ABI from its Python",
  { skip: PYTORCH },
  () => {
    const found = json({ LIBTORCH: DEBIAN_PYTORCH, LIBTORCH_PYTHON: '/usr/bin/python3' });
    assert.deepEqual(found.includes, [`${DEBIAN_PYTORCH}/include`, `${DEBIAN_PYTORCH}/include/torch/csrc/api/include`]);
    assert.equal(found.libdir, `${DEBIAN_PYTORCH}/lib`);
    assert.equal(found.abi, '1');
    assert.deepEqual(found.linkLibs.slice(0, 3), ['-ltorch', '-ltorch_cpu', '-lc10']);
  },
);
