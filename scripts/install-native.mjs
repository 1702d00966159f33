#!/usr/bin/env node
// npm's install step for this package (package.json "install").
//
// npm gives a package with a binding.gyp and no install script of its own
// `node-gyp rebuild` as its install step: a minute and a half of C++ on every
// `npm install` of the tarball, and on every first `npx sparse-soups` in a
// checkout (npx installs the checkout into its cache, ~/.npm/_npx/, as a link,
// which runs the install step in the checkout). This step keeps the built
// addon build/Release/sparse_soups.node when it is usable and rebuilds it
// (scripts/build-native.mjs) only when:
//
//   - it is missing, or does not load (e.g. built for another libtorch or platform);
//   - a native source (native/, binding.gyp) is newer than it;
//   - the libtorch found now differs from the one it was built against
//     (build/Release/sparse_soups.libtorch.json, e.g. LIBTORCH now points at a CUDA build);
//   - SPARSE_SOUPS_REBUILD=1 asks for it.
//
// Under npx in a source checkout it never compiles (npm hides an install
// step's output: that would be a silent 1.5-minute wait): it says how to
// build instead, and the command reports the missing addon when it needs it.
//
//   node scripts/install-native.mjs          # what npm runs
//   node scripts/install-native.mjs --check  # only say whether a rebuild is needed (exit 0: no, 1: yes)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { locateLibtorch, libtorchStamp } from './libtorch.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addon = join(root, 'build/Release/sparse_soups.node');
const stampFile = join(root, 'build/Release/sparse_soups.libtorch.json');
const say = (line) => console.log(`install-native: ${line}`);

/** Files under `path` (or `path` itself), recursively. */
function filesUnder(path) {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((name) => filesUnder(join(path, name)));
}

/** Why the addon must be (re)built, or null when it is usable as it is. */
function rebuildReason() {
  if (process.env.SPARSE_SOUPS_REBUILD === '1') return 'SPARSE_SOUPS_REBUILD=1';
  if (!existsSync(addon)) return `${relative(root, addon)} is missing`;
  const built = statSync(addon).mtimeMs;
  // Strictly newer: files from an npm tarball all carry the same timestamp.
  const newer = ['native', 'binding.gyp'].flatMap((p) => filesUnder(join(root, p))).find((f) => statSync(f).mtimeMs > built);
  if (newer) return `${relative(root, newer)} is newer than the addon`;
  if (existsSync(stampFile)) {
    let now = null;
    try {
      now = locateLibtorch();
    } catch {
      // LIBTORCH is set but wrong: let the load check below (or the build) say so.
    }
    const recorded = JSON.parse(readFileSync(stampFile, 'utf8'));
    if (now && JSON.stringify(libtorchStamp(now)) !== JSON.stringify(recorded))
      return `the addon was built against libtorch from ${recorded.source} (${recorded.libdir}), the libtorch found now is ${now.source} (${now.libdir})`;
  }
  const load = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(addon)})`], { encoding: 'utf8' });
  if (load.status !== 0) return `the addon does not load: ${(load.stderr.split('\n').find((l) => /Error/.test(l)) ?? load.stderr).trim()}`;
  return null;
}

const reason = rebuildReason();
if (process.argv.includes('--check')) {
  say(reason === null ? 'the built addon is usable' : `a rebuild is needed: ${reason}`);
  process.exit(reason === null ? 0 : 1);
}
if (reason === null) {
  say(`keeping ${relative(root, addon)} (it loads and is up to date; SPARSE_SOUPS_REBUILD=1 forces a rebuild)`);
  process.exit(0);
}
if (process.env.npm_command === 'exec' && existsSync(join(root, 'src'))) {
  say(`not building the addon under npx (${reason}); run \`bash scripts/setup.sh\` or \`npm run build\` in ${root}`);
  process.exit(0);
}
say(`building the libtorch addon (${reason}); this takes a minute or two`);
if (!process.env.npm_config_nodedir && existsSync('/usr/include/node/node_api.h')) process.env.npm_config_nodedir = '/usr'; // no header download
const r = spawnSync(process.execPath, [join(root, 'scripts/build-native.mjs')], { stdio: 'inherit' });
process.exit(r.status ?? 1);
