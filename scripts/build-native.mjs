#!/usr/bin/env node
// Builds the libtorch addon with node-gyp against the local Node headers
// (no header download: this machine may have no internet), and records
// which libtorch it was built against (build/Release/sparse_soups.libtorch.json,
// read by scripts/install-native.mjs to tell when a rebuild is needed).
//
// node-gyp comes from this checkout's node_modules (a devDependency), else
// from npm itself (npm sets npm_config_node_gyp for install scripts): an
// installed package has no devDependencies.
//
//   node scripts/build-native.mjs                      # node-gyp rebuild (what `npm run build:native` runs)
//   node scripts/build-native.mjs --direct [--out F]   # the compiler alone, no node-gyp, make or gyp's Python
//
// --direct compiles binding.gyp's sources with $CXX (default g++) and the
// flags binding.gyp names (its <!@(...) commands run as node-gyp would run
// them), plus what node-gyp adds for a Node-API module (-fPIC, -pthread,
// BUILDING_NODE_EXTENSION), against the Node headers of $npm_config_nodedir,
// else of the running Node (<prefix>/include/node), else /usr/include/node.
// It writes F (default build/Release/sparse_soups.node) and the libtorch
// record beside it (F with .libtorch.json for .node). It is for machines
// with a compiler but no node-gyp or make (scripts/gpu-check.sh uses it on a
// GPU machine that has a PyTorch install); objects go to a temporary folder.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { locateLibtorch, libtorchStamp } from './libtorch.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function nodeGyp() {
  try {
    return createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    const fromNpm = process.env.npm_config_node_gyp;
    if (fromNpm && existsSync(fromNpm)) return fromNpm;
    console.error(
      'build-native: node-gyp not found: run `npm install` in the checkout (it is a devDependency), or build through npm (`npm rebuild sparse-soups`), or build with --direct (a C++ compiler alone).',
    );
    process.exit(1);
  }
}

/** binding.gyp's list entries with each `<!@(command)` replaced by the command's output words (as gyp does). */
function expandGyp(list) {
  return list.flatMap((entry) => {
    const m = /^<!@\((.*)\)$/.exec(entry);
    if (!m) return [entry];
    // `node` is this Node, whatever PATH holds.
    const command = m[1].replace(/^node /, `"${process.execPath}" `);
    const r = spawnSync(command, { shell: true, cwd: root, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`binding.gyp: \`${m[1]}\` failed: ${(r.stderr || r.stdout).trim()}`);
    return r.stdout.split(/\s+/).filter((w) => w.length > 0);
  });
}

/** The folder holding node_api.h for this Node. */
function nodeHeaders() {
  const candidates = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include/node'),
    join(dirname(dirname(process.execPath)), 'include/node'),
    '/usr/include/node',
  ].filter(Boolean);
  const found = candidates.find((d) => existsSync(join(d, 'node_api.h')));
  if (!found) throw new Error(`no Node headers (node_api.h) in ${candidates.join(', ')}; set npm_config_nodedir to a Node install`);
  return found;
}

/** Runs `jobs` at a time; resolves with the first failure's message, or null. */
async function runAll(commands, jobs) {
  let next = 0;
  let failure = null;
  const worker = async () => {
    while (failure === null && next < commands.length) {
      const { args, label } = commands[next++];
      console.log(`build-native: ${label}`);
      const code = await new Promise((done) => {
        const child = spawn(args[0], args.slice(1), { stdio: 'inherit', cwd: root });
        child.on('error', (e) => {
          console.error(`build-native: ${args[0]}: ${e.message}`);
          done(1);
        });
        child.on('exit', (c) => done(c ?? 1));
      });
      if (code !== 0) failure ??= `${label} failed (exit ${code})`;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
  return failure;
}

/** The --direct build: binding.gyp's target compiled and linked by $CXX. */
async function buildDirect(found, out, jobs) {
  const target = JSON.parse(readFileSync(join(root, 'binding.gyp'), 'utf8')).targets[0];
  const cxx = process.env.CXX || 'g++';
  const includes = [nodeHeaders(), ...expandGyp(target.include_dirs)];
  const defines = ['NODE_GYP_MODULE_NAME=' + target.target_name, 'BUILDING_NODE_EXTENSION', ...expandGyp(target.defines)];
  const cflags = ['-fPIC', '-pthread', '-m64', ...expandGyp(target.cflags_cc)];
  const objdir = mkdtempSync(join(tmpdir(), 'sparse-soups-build-'));
  try {
    const objects = [];
    const compiles = target.sources.map((src) => {
      const obj = join(objdir, `${basename(src, '.cc')}.o`);
      objects.push(obj);
      return {
        label: `${cxx} -c ${src}`,
        args: [cxx, ...cflags, ...defines.map((d) => `-D${d}`), ...includes.map((i) => `-I${resolve(root, i)}`), '-c', src, '-o', obj],
      };
    });
    const failed = await runAll(compiles, jobs);
    if (failed) return failed;
    mkdirSync(dirname(out), { recursive: true });
    const link = [cxx, '-shared', '-pthread', '-m64', '-o', out, ...objects, ...expandGyp(target.libraries)];
    return await runAll([{ label: `${cxx} -shared -o ${out}`, args: link }], 1);
  } finally {
    rmSync(objdir, { recursive: true, force: true });
  }
}

const { values } = parseArgs({
  options: { direct: { type: 'boolean', default: false }, out: { type: 'string' }, jobs: { type: 'string' } },
});

let found;
try {
  found = locateLibtorch();
} catch (e) {
  console.error(`build-native: ${e.message}`);
  process.exit(1);
}
if (!found) {
  console.error('build-native: no libtorch found; run `bash scripts/setup.sh` or set LIBTORCH (see `node scripts/libtorch.mjs`).');
  process.exit(1);
}
console.log(
  `build-native: libtorch ${found.version ?? '?'} from ${found.source}${found.cuda ? ' (CUDA)' : ''}; C++11 ABI ${found.abi} (${found.abiFrom}); -std=${found.std}`,
);
const jobs = Number(values.jobs ?? Math.max(1, cpus().length));
const stampOf = (addon) => addon.replace(/\.node$/, '') + '.libtorch.json';

if (values.direct) {
  const out = resolve(values.out ?? join(root, 'build/Release/sparse_soups.node'));
  let failed;
  try {
    failed = await buildDirect(found, out, jobs);
  } catch (e) {
    failed = e.message;
  }
  if (failed) {
    console.error(`build-native: ${failed}`);
    process.exit(1);
  }
  writeFileSync(stampOf(out), `${JSON.stringify(libtorchStamp(found), null, 2)}\n`);
  console.log(`build-native: wrote ${out}`);
  process.exit(0);
}
if (values.out) {
  console.error('build-native: --out needs --direct (node-gyp always writes build/Release/sparse_soups.node)');
  process.exit(1);
}
const args = [nodeGyp(), 'rebuild', `--jobs=${jobs}`];
const nodedir = process.env.npm_config_nodedir || (existsSync('/usr/include/node/node_api.h') ? '/usr' : '');
if (nodedir) args.push(`--nodedir=${nodedir}`);
const r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });
if (r.status === 0)
  writeFileSync(join(root, 'build/Release/sparse_soups.libtorch.json'), `${JSON.stringify(libtorchStamp(found), null, 2)}\n`);
process.exit(r.status ?? 1);
