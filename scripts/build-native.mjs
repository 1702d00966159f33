#!/usr/bin/env node
// Builds the libtorch addon with node-gyp against the local Node headers
// (no header download: this machine may have no internet).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { createRequire } from 'node:module';
import { locateLibtorch } from './libtorch.mjs';

const found = locateLibtorch();
if (!found) {
  console.error('build-native: no libtorch found; run `bash scripts/setup.sh` or set LIBTORCH (see `node scripts/libtorch.mjs`).');
  process.exit(1);
}
console.log(`build-native: libtorch from ${found.source}${found.cuda ? ' (CUDA)' : ''}`);
const require = createRequire(import.meta.url);
const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const args = [gyp, 'rebuild', `--jobs=${Math.max(1, cpus().length)}`];
const nodedir = process.env.npm_config_nodedir || (existsSync('/usr/include/node/node_api.h') ? '/usr' : '');
if (nodedir) args.push(`--nodedir=${nodedir}`);
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(r.status ?? 1);
