// scripts/link-cli.sh (run by setup.sh): puts `sparse-soups` on PATH as a symlink to the checkout's
// dist/src/cli/main.js, says what it did, changes nothing when run again, and never replaces a file that is
// not a symlink. Checked in a temporary bin directory (SPARSE_SOUPS_BIN_DIR).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, constants, copyFileSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REPO = new URL('../..', import.meta.url).pathname;

/** A checkout with link-cli.sh and a stand-in built command. */
function checkout(root: string, name: string): string {
  const dir = join(root, name);
  mkdirSync(join(dir, 'scripts'), { recursive: true });
  mkdirSync(join(dir, 'dist/src/cli'), { recursive: true });
  copyFileSync(join(REPO, 'scripts/link-cli.sh'), join(dir, 'scripts/link-cli.sh'));
  writeFileSync(join(dir, 'dist/src/cli/main.js'), `#!/usr/bin/env node\nconsole.log('${name}');\n`);
  return dir;
}

function linkCli(dir: string, bin: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('bash', [join(dir, 'scripts/link-cli.sh')], {
    encoding: 'utf8',
    env: { ...process.env, SPARSE_SOUPS_BIN_DIR: bin, PATH: `${bin}:${process.env.PATH}` },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('link-cli links the command, is idempotent, relinks another checkout and leaves a real file alone', () => {
  const root = mkdtempSync(join(tmpdir(), 'sparse-soups-link-cli-'));
  try {
    const bin = join(root, 'bin');
    const a = checkout(root, 'a');
    const link = join(bin, 'sparse-soups');
    const first = linkCli(a, bin);
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.stdout, `link-cli: linked ${link} -> ${a}/dist/src/cli/main.js\n`);
    assert.equal(readlinkSync(link), `${a}/dist/src/cli/main.js`);
    accessSync(link, constants.X_OK);
    assert.equal(spawnSync(link, { encoding: 'utf8' }).stdout, 'a\n', 'the command runs through the link');

    assert.equal(linkCli(a, bin).stdout, `link-cli: ${link} already points to ${a}/dist/src/cli/main.js\n`);

    const b = checkout(root, 'b');
    assert.match(
      linkCli(b, bin).stdout,
      new RegExp(`linked ${link} -> ${b}/dist/src/cli/main.js \\(it pointed to ${a}/dist/src/cli/main.js\\)`),
    );

    rmSync(link);
    writeFileSync(link, 'someone else');
    const refused = linkCli(a, bin);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /exists and is not a symlink; left as it is/);

    rmSync(join(a, 'dist'), { recursive: true });
    assert.match(linkCli(a, bin).stderr, /dist\/src\/cli\/main\.js is missing: build it first/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
