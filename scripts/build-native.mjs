#!/usr/bin/env node
// Builds the libtorch addon with node-gyp against the local Node headers
// (no header download: this machine may have no internet), and records
// which libtorch it was built against (build/Release/sparse_soups.libtorch.json,
// read by scripts/install-native.mjs to tell when a rebuild is needed).
//
// node-gyp comes from this checkout's node_modules (a devDependency), else
// from npm itself (npm sets npm_config_node_gyp for install scripts): an
// installed package has no devDependencies.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { locateLibtorch, libtorchStamp } from './libtorch.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function nodeGyp() {
  try {
    return createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    const fromNpm = process.env.npm_config_node_gyp;
    if (fromNpm && existsSync(fromNpm)) return fromNpm;
    console.error(
      'build-native: node-gyp not found: run `npm install` in the checkout (it is a devDependency), or build through npm (`npm rebuild sparse-soups`).',
    );
    process.exit(1);
  }
}

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
console.log(`build-native: libtorch from ${found.source}${found.cuda ? ' (CUDA)' : ''}`);
const args = [nodeGyp(), 'rebuild', `--jobs=${Math.max(1, cpus().length)}`];
const nodedir = process.env.npm_config_nodedir || (existsSync('/usr/include/node/node_api.h') ? '/usr' : '');
if (nodedir) args.push(`--nodedir=${nodedir}`);
const r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });
if (r.status === 0)
  writeFileSync(join(root, 'build/Release/sparse_soups.libtorch.json'), `${JSON.stringify(libtorchStamp(found), null, 2)}\n`);
process.exit(r.status ?? 1);
