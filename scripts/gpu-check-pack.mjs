#!/usr/bin/env node
// Packs what scripts/gpu-check.sh needs on a GPU machine that has a PyTorch
// install but no Node and no network, into .gpu-check/ (ignored by git; the
// device run carries it):
//
//   node.tar.xz          this Node (bin/node) and the Node-API headers the addon compiles against
//   node_modules.tar.xz  the packages the check runs (tsx and its esbuild, and the package's runtime
//                        dependencies but sharp) with theirs, from this checkout's node_modules
//   fashion-mnist/       the first 15,000 training and 5,000 test images of Fashion-MNIST (IDX, gzip),
//                        enough for configs/fashion-mnist-quick.yaml (12,000 training images after
//                        the 10% validation split)
//   manifest.json        what is in it, and the inputs each part was made from
//
//   node scripts/gpu-check-pack.mjs [--force]
//
// Each part is made again only when its inputs changed (or with --force).
// The Node must be self-contained (an official or NodeSource build, whose
// binary links only the C and C++ runtimes): Debian's own nodejs links
// libnode and a dozen system libraries that the GPU machine may lack. Set
// NODE_BIN to pack another Node than the one running this. Fashion-MNIST
// comes from Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist,
// or FASHION_MNIST_DIR).
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, '.gpu-check');
const force = process.argv.includes('--force');
const say = (line) => console.log(`gpu-check-pack: ${line}`);

/**
 * The packages the check needs (the closure of their dependencies comes along): tsx, which runs the
 * TypeScript sources, and the package's runtime dependencies, which those sources import (node-addon-api:
 * the addon's headers), except those imported only on demand by paths the check does not take.
 */
const ON_DEMAND = ['sharp']; // image folders only (src/data/imagefolder-decode.ts); a 20 MiB native package
const pkgJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
export const SEED_PACKAGES = ['tsx', ...Object.keys(pkgJson.dependencies ?? {}).filter((d) => !ON_DEMAND.includes(d))];
/** The Node-API headers napi.h includes (node_version.h for NODE_MAJOR_VERSION checks). */
const NODE_HEADERS = ['node_api.h', 'node_api_types.h', 'js_native_api.h', 'js_native_api_types.h', 'node_version.h'];
export const TRAIN_IMAGES = 15000;
export const TEST_IMAGES = 5000;

mkdirSync(out, { recursive: true });
const manifestPath = join(out, 'manifest.json');
const manifest = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')) : {};

/** Makes `file` with `make` unless the manifest says it was made from the same `key`. */
function part(name, file, key, make) {
  const path = join(out, file);
  if (!force && existsSync(path) && JSON.stringify(manifest[name]?.key) === JSON.stringify(key)) {
    say(`${file}: up to date`);
    return;
  }
  rmSync(path, { recursive: true, force: true });
  const info = make(path);
  manifest[name] = { key, ...info };
  say(`${file}: made (${(sizeOf(path) / 2 ** 20).toFixed(1)} MiB)`);
}

function sizeOf(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  const r = spawnSync('du', ['-sb', path], { encoding: 'utf8' });
  return Number(r.stdout.split(/\s/)[0]);
}

/** tar + xz (all cores) of `entries` under `dir`; symbolic links are followed. */
function tarXz(dest, dir, entries) {
  execFileSync('tar', ['-C', dir, '-h', '-c', '-f', dest, '-I', 'xz -T0 -6', ...entries], { stdio: 'inherit' });
}

// 1. Node.
const nodeBin = realpathSync(process.env.NODE_BIN || process.execPath);
const nodeVersion = execFileSync(nodeBin, ['--version'], { encoding: 'utf8' }).trim();
const ldd = spawnSync('ldd', [nodeBin], { encoding: 'utf8' });
const shared = (ldd.stdout ?? '').split('\n').filter((l) => /libnode|libuv|libssl|libicu|libcares|libbrotli|libnghttp|libz\.so/.test(l));
if (shared.length > 0) {
  console.error(
    `gpu-check-pack: ${nodeBin} links ${shared.map((l) => l.trim().split(' ')[0]).join(', ')}: it would not run on the GPU machine. ` +
      'Pack a self-contained Node (an official or NodeSource build) with NODE_BIN=/path/to/node.',
  );
  process.exit(1);
}
const headerDir = [join(dirname(dirname(nodeBin)), 'include/node'), '/usr/include/node'].find((d) => existsSync(join(d, 'node_api.h')));
if (!headerDir) {
  console.error(`gpu-check-pack: no Node headers (node_api.h) beside ${nodeBin} or in /usr/include/node (Debian: libnode-dev)`);
  process.exit(1);
}
part('node', 'node.tar.xz', { nodeVersion, nodeBin, mtime: statSync(nodeBin).mtimeMs, headerDir }, (dest) => {
  const stage = mkdtempSync(join(tmpdir(), 'gpu-check-node-'));
  try {
    mkdirSync(join(stage, 'bin'));
    cpSync(nodeBin, join(stage, 'bin/node'));
    mkdirSync(join(stage, 'include/node'), { recursive: true });
    for (const h of NODE_HEADERS) if (existsSync(join(headerDir, h))) cpSync(join(headerDir, h), join(stage, 'include/node', h));
    tarXz(dest, stage, ['bin', 'include']);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  return { version: nodeVersion };
});

// 2. node_modules: the seed packages and everything they depend on, as installed here.
const modules = realpathSync(join(root, 'node_modules'));
function packageDir(name, from) {
  // Node's lookup: the dependent's own node_modules, then those of the folders above it, up to the top level.
  for (let dir = from; dir.length > modules.length; dir = dirname(dir)) {
    const nested = join(dir, 'node_modules', name);
    if (existsSync(join(nested, 'package.json'))) return nested;
  }
  const top = join(modules, name);
  return existsSync(join(top, 'package.json')) ? top : null;
}
const closure = new Map();
const queue = SEED_PACKAGES.map((name) => ({ name, from: modules, optional: false }));
while (queue.length > 0) {
  const { name, from, optional } = queue.shift();
  const dir = packageDir(name, from);
  if (!dir) {
    if (optional) continue; // another platform's binary (fsevents, @esbuild/darwin-arm64, ...)
    console.error(`gpu-check-pack: ${name} is not installed in ${modules}; run npm ci`);
    process.exit(1);
  }
  if (closure.has(dir)) continue;
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  closure.set(dir, `${pkg.name}@${pkg.version}`);
  for (const dep of Object.keys(pkg.dependencies ?? {})) queue.push({ name: dep, from: dir, optional: false });
  for (const dep of Object.keys(pkg.optionalDependencies ?? {})) queue.push({ name: dep, from: dir, optional: true });
}
// A nested package travels inside its parent's folder; list top-level folders only.
const topLevel = [...closure.keys()].map((d) => d.slice(modules.length + 1)).filter((rel) => !rel.includes('/node_modules/'));
const packages = [...closure.values()].sort();
part('node_modules', 'node_modules.tar.xz', { packages }, (dest) => {
  tarXz(dest, modules, topLevel.sort());
  return { packages };
});

// 3. Fashion-MNIST, the first images of each split.
const dataDir = process.env.FASHION_MNIST_DIR || '/usr/share/datasets/fashion-mnist';
function idxHead(file, count) {
  const raw = gunzipSync(readFileSync(join(dataDir, file)));
  const dims = raw[3];
  const shape = Array.from({ length: dims }, (_, i) => raw.readUInt32BE(4 + 4 * i));
  const per = shape.slice(1).reduce((a, b) => a * b, 1);
  const header = Buffer.from(raw.subarray(0, 4 + 4 * dims));
  header.writeUInt32BE(Math.min(count, shape[0]), 4);
  return gzipSync(Buffer.concat([header, raw.subarray(header.length, header.length + Math.min(count, shape[0]) * per)]), { level: 9 });
}
const dataFiles = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];
if (!dataFiles.every((f) => existsSync(join(dataDir, f)))) {
  console.error(`gpu-check-pack: Fashion-MNIST not found in ${dataDir} (apt-get install dataset-fashion-mnist, or set FASHION_MNIST_DIR)`);
  process.exit(1);
}
part('fashion-mnist', 'fashion-mnist', { dataDir, train: TRAIN_IMAGES, test: TEST_IMAGES }, (dest) => {
  mkdirSync(dest);
  for (const f of dataFiles) writeFileSync(join(dest, f), idxHead(f, f.startsWith('train') ? TRAIN_IMAGES : TEST_IMAGES));
  return { train: TRAIN_IMAGES, test: TEST_IMAGES };
});

writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
const total = ['node.tar.xz', 'node_modules.tar.xz', 'fashion-mnist'].reduce((n, f) => n + sizeOf(join(out, f)), 0);
say(`done: ${out} (${(total / 2 ** 20).toFixed(1)} MiB to carry; node ${nodeVersion}, ${packages.length} packages)`);
