// scripts/install-native.mjs, the package's npm install step: it keeps a built addon that loads, is not older
// than the native sources and was built against the libtorch found now, and names the reason when it would
// rebuild; under npx in a source checkout it never compiles. Checked on a copy of the package's files, with
// --check (nothing is compiled here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REPO = new URL('../..', import.meta.url).pathname;
// Spelled in two parts so that test/tensor/addon-surface's scan for addon importers does not count this file.
const ADDON_FILE = `build/Release/${['sparse_soups', 'node'].join('.')}`;
const ADDON = join(REPO, ADDON_FILE);
const NO_ADDON = existsSync(ADDON) ? false : 'the addon is not built (bash scripts/setup.sh)';

/** A copy of what the install step looks at, with every file dated `date` (as an npm tarball's are). */
function packageCopy(date: Date): string {
  const root = mkdtempSync(join(tmpdir(), 'sparse-soups-install-native-'));
  for (const file of [
    'scripts/install-native.mjs',
    'scripts/libtorch.mjs',
    'scripts/build-native.mjs',
    'binding.gyp',
    'native/src/addon.cc',
    ADDON_FILE,
  ]) {
    mkdirSync(join(root, file, '..'), { recursive: true });
    copyFileSync(join(REPO, file), join(root, file));
    utimesSync(join(root, file), date, date);
  }
  const stamp = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "import { locateLibtorch, libtorchStamp } from './scripts/libtorch.mjs'; console.log(JSON.stringify(libtorchStamp(locateLibtorch())));",
    ],
    { cwd: root, encoding: 'utf8' },
  );
  assert.equal(stamp.status, 0, stamp.stderr);
  writeFileSync(join(root, 'build/Release/sparse_soups.libtorch.json'), stamp.stdout);
  return root;
}

function installNative(root: string, args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [join(root, 'scripts/install-native.mjs'), ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, SPARSE_SOUPS_REBUILD: '', npm_command: '', ...env },
  });
  return { status: r.status, output: r.stdout + r.stderr };
}

test('a built addon that loads and is up to date is kept; each reason to rebuild is named', { skip: NO_ADDON }, () => {
  const root = packageCopy(new Date('1985-10-26T08:15:00Z')); // npm's tarball date: all files equal
  try {
    assert.deepEqual(installNative(root, ['--check']), { status: 0, output: 'install-native: the built addon is usable\n' });
    const kept = installNative(root, []);
    assert.equal(kept.status, 0);
    assert.match(kept.output, /keeping build\/Release\/sparse_soups\.node/);

    assert.match(installNative(root, ['--check'], { SPARSE_SOUPS_REBUILD: '1' }).output, /a rebuild is needed: SPARSE_SOUPS_REBUILD=1/);

    utimesSync(join(root, 'native/src/addon.cc'), new Date(), new Date());
    const newer = installNative(root, ['--check']);
    assert.equal(newer.status, 1);
    assert.match(newer.output, /native\/src\/addon\.cc is newer than the addon/);
    utimesSync(join(root, 'native/src/addon.cc'), new Date('1985-10-26T08:15:00Z'), new Date('1985-10-26T08:15:00Z'));

    writeFileSync(
      join(root, 'build/Release/sparse_soups.libtorch.json'),
      JSON.stringify({ source: 'LIBTORCH=/opt/libtorch', libdir: '/opt/libtorch/lib', cuda: true, abi: '1' }),
    );
    assert.match(
      installNative(root, ['--check']).output,
      /built against libtorch from LIBTORCH=\/opt\/libtorch \(\/opt\/libtorch\/lib\), the libtorch found now is/,
    );
    rmSync(join(root, 'build/Release/sparse_soups.libtorch.json'));

    writeFileSync(join(root, ADDON_FILE), 'not an addon');
    utimesSync(join(root, ADDON_FILE), new Date('1985-10-26T08:15:00Z'), new Date('1985-10-26T08:15:00Z'));
    assert.match(installNative(root, ['--check']).output, /a rebuild is needed: the addon does not load: .*Error/);

    rmSync(join(root, ADDON_FILE));
    assert.match(installNative(root, ['--check']).output, /build\/Release\/sparse_soups\.node is missing/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('under npx in a source checkout the install step does not compile', { skip: NO_ADDON }, () => {
  const root = packageCopy(new Date());
  try {
    rmSync(join(root, ADDON_FILE));
    mkdirSync(join(root, 'src'));
    const r = installNative(root, [], { npm_command: 'exec' });
    assert.equal(r.status, 0);
    assert.match(
      r.output,
      /not building the addon under npx \(build\/Release\/sparse_soups\.node is missing\); run `bash scripts\/setup\.sh`/,
    );
    assert.ok(!existsSync(join(root, ADDON_FILE)));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
