// The package as a user gets it: `npm pack` (its prepack step builds dist/src), install the tarball into a
// fresh project, type-check a user's TypeScript against the shipped .d.ts, and run an example and the
// command from the installed copy.
//
// No network: the fresh project pins its dependencies with a lockfile made of this checkout's own
// package-lock.json (the versions tested here), so npm takes every tarball from its cache
// (~/.npm/_cacache, filled by `npm ci`) and needs no registry metadata, which `--offline` without a
// lockfile would (npm's cache holds tarballs, not always the packuments). Should a tarball be missing from
// the cache, the install is retried once with --prefer-offline (downloads, logged).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;
// Spelled in two parts so that test/tensor/addon-surface's scan for addon importers does not count this file.
const ADDON = ['nat', 'ive'].join('');
const ADDON_FILE = `build/Release/${['sparse_soups', 'node'].join('.')}`;
const npmVersion = spawnSync('npm', ['--version'], { encoding: 'utf8' });
const NO_NPM = npmVersion.status !== 0 ? 'npm is not installed (the test packs and installs the package with npm)' : false;

/** Runs `cmd args` in `cwd`; fails the test with its output unless it exits 0. */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} (in ${cwd}) exited with ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Runs `step`, logging how long it took (the test's time goes to pack, install, tsc and the example). */
function timed<R>(label: string, step: () => R): R {
  const t0 = performance.now();
  const result = step();
  console.log(`${label}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return result;
}

/** A lockfile for a project depending only on the tarball: the tarball's entry and this checkout's runtime dependencies. */
function consumerLock(tarball: string, tarballName: string): object {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', dependencies: { 'sparse-soups': `file:${tarballName}` } },
    'node_modules/sparse-soups': {
      version: manifest.version,
      resolved: `file:${tarballName}`,
      integrity,
      hasInstallScript: true,
      license: manifest.license,
      dependencies: manifest.dependencies,
      bin: manifest.bin,
      engines: manifest.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages as Record<string, { dev?: boolean }>))
    if (path !== '' && !entry.dev) packages[path] = entry;
  return { name: 'consumer', lockfileVersion: 3, requires: true, packages };
}

/** What a user's code checks against the shipped types: the root, subpath entry points, and no deep imports. */
const TYPES_CHECK = `
import { runSms, parseSmsConfig, globalMagnitudeMask, averageStates, recalibrateBatchNorm, registerModel, Module, SparseSoupsError } from 'sparse-soups';
import type { SmsConfig, SmsResults, SmsRunOptions, PruningMask, StateDict, DataLoader, ModelFactory } from 'sparse-soups';
import { zeros, tidy, type Tensor } from 'sparse-soups/tensor';
import { Linear, F } from 'sparse-soups/nn';
import { SGD } from 'sparse-soups/optim';
import { createModel } from 'sparse-soups/models';
import { loadNpyImageDataset } from 'sparse-soups/data';
import { CORRUPTION_NAMES } from 'sparse-soups/data/corruptions';
import { computeMask } from 'sparse-soups/prune';
import { greedySoup } from 'sparse-soups/soup';
import { trainModel } from 'sparse-soups/train';
import { accuracy } from 'sparse-soups/metrics';
import { saveCheckpoint } from 'sparse-soups/checkpoints';
import { saveSafetensors } from 'sparse-soups/io';
import { configHash } from 'sparse-soups/sms';
import { ConfigError } from 'sparse-soups/errors';
// @ts-expect-error only the entry points in "exports" can be imported
import { native } from 'sparse-soups/dist/src/tensor/${ADDON}.js';

export const pipeline: (config: SmsConfig, options: SmsRunOptions) => Promise<SmsResults> = runSms;
export const prune: (params: [string, Tensor][], current: PruningMask | null, sparsity: number) => PruningMask = globalMagnitudeMask;
export const soup: (states: StateDict[]) => StateDict = averageStates;
export const recalibrate: (model: Module, loader: DataLoader) => Promise<number> = recalibrateBatchNorm;
export const factory: ModelFactory = (c) => new Linear(c.inChannels * c.imageSize ** 2, c.numClasses);
export const used = [parseSmsConfig, registerModel, zeros, tidy, F, SGD, createModel, loadNpyImageDataset, CORRUPTION_NAMES, computeMask, greedySoup, trainModel, accuracy, saveCheckpoint, saveSafetensors, configHash, native];
export const isError: boolean = new ConfigError('a', 'b') instanceof SparseSoupsError;
`;

test(
  'npm pack, install the tarball into a fresh project offline, type-check against it and run an example',
  { skip: NO_NPM, timeout: 240_000 },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'sparse-soups-pack-'));
    try {
      // The tarball: dist/src (built by prepack), the prebuilt addon, what rebuilding it takes; no sources or tests.
      timed('npm pack (prepack builds dist/src)', () => run('npm', ['pack', '--pack-destination', dir], ROOT));
      const tarballName = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
      const tarball = join(dir, tarballName);
      const listed = run('tar', ['-tzf', tarball], dir).stdout.split('\n');
      for (const file of [
        'dist/src/index.js',
        'dist/src/index.d.ts',
        'dist/src/cli/main.js',
        'dist/src/tensor/index.d.ts',
        ADDON_FILE,
        'binding.gyp',
        'native/src/addon.cc',
        'scripts/install-native.mjs',
        'scripts/build-native.mjs',
        'scripts/libtorch.mjs',
        'README.md',
        'package.json',
      ])
        assert.ok(listed.includes(`package/${file}`), `${file} is in the tarball`);
      assert.deepEqual(
        listed.filter((f) => /^package\/(src|test|bench|experiments|dist\/(test|bench|experiments))\//.test(f) || f.endsWith('.map')),
        [],
        'no sources, tests or source maps',
      );

      // Install it into a fresh project; its install step keeps the prebuilt addon.
      const project = join(dir, 'consumer');
      mkdirSync(project);
      copyFileSync(tarball, join(project, tarballName));
      writeFileSync(
        join(project, 'package.json'),
        JSON.stringify(
          { name: 'consumer', private: true, type: 'module', dependencies: { 'sparse-soups': `file:${tarballName}` } },
          null,
          2,
        ),
      );
      writeFileSync(join(project, 'package-lock.json'), JSON.stringify(consumerLock(tarball, tarballName), null, 2));
      const install = ['install', '--no-audit', '--no-fund', '--foreground-scripts'];
      let installed = timed('npm install --offline', () => spawnSync('npm', [...install, '--offline'], { cwd: project, encoding: 'utf8' }));
      if (installed.status !== 0) {
        console.log(
          `# offline install failed (a dependency is not in npm's cache); retrying with --prefer-offline:\n${installed.stderr.slice(-2000)}`,
        );
        installed = timed('npm install --prefer-offline', () => run('npm', [...install, '--prefer-offline'], project));
      }
      assert.match(
        installed.stdout,
        /install-native: keeping build\/Release\/sparse_soups\.node/,
        'the install step keeps the prebuilt addon',
      );
      assert.doesNotMatch(installed.stdout + installed.stderr, /gyp info|node-gyp rebuild/, 'nothing is compiled');

      // A user's TypeScript, compiled against the shipped .d.ts files (lib check on: they must be valid).
      copyFileSync(join(ROOT, 'examples/progress-events.ts'), join(project, 'progress-events.ts'));
      copyFileSync(join(ROOT, 'examples/toy-data.ts'), join(project, 'toy-data.ts'));
      writeFileSync(join(project, 'check-types.ts'), TYPES_CHECK);
      const tsconfig = {
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          outDir: 'out',
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules/@types')],
        },
        files: ['progress-events.ts', 'toy-data.ts', 'check-types.ts'],
      };
      writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
      timed('tsc', () => run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], project));

      // The example, run by plain node from the compiled JS, against the installed package.
      const example = timed('example', () =>
        run(process.execPath, ['out/progress-events.js', '--tiny'], project, { ...process.env, OMP_NUM_THREADS: '1' }),
      );
      assert.match(example.stdout, /^events: .*phase-done 2/m);
      assert.match(example.stdout, /phase 2 done: uniform soup \d+\.\d%/);

      // The command, from the installed package's bin.
      const help = run(join(project, 'node_modules/.bin/sparse-soups'), ['--help'], project);
      assert.match(help.stdout, /Usage: sparse-soups/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
