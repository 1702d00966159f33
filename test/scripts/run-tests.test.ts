// scripts/run-tests.mjs (`npm test`) finds test files at any depth under
// test/: the `test/*/*.test.ts` it replaces silently skipped deeper ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REPO = new URL('../..', import.meta.url).pathname;
const RUN_TESTS = join(REPO, 'scripts', 'run-tests.mjs');

function runTests(cwd: string, ...args: string[]): { status: number | null; output: string } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // a runner of its own, not subtests of this one
  const r = spawnSync(process.execPath, [RUN_TESTS, '--test-reporter=tap', ...args], { cwd, env, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
}

test('every *.test.ts under test/ runs, two folders deep too; other files and node_modules do not', () => {
  const root = mkdtempSync(join(tmpdir(), 'sparse-soups-run-tests-'));
  try {
    symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'), 'dir'); // for --import tsx
    const testFile = (path: string, name: string, body = ''): void => {
      mkdirSync(join(root, path, '..'), { recursive: true });
      writeFileSync(join(root, path), `import { test } from 'node:test';\ntest('${name}', () => {${body}});\n`);
    };
    testFile('test/top.test.ts', 'directly in test/');
    testFile('test/a/b/deep.test.ts', 'two folders down', 'const typed: number = 1; void typed;');
    testFile('test/a/helper.ts', 'not a test file', 'throw new Error("helper ran");');
    testFile('test/a/node_modules/dep.test.ts', 'in node_modules', 'throw new Error("node_modules ran");');

    const all = runTests(root);
    assert.equal(all.status, 0, all.output);
    assert.match(all.output, /^# tests 2$/m, all.output);
    assert.match(all.output, /ok \d+ - directly in test\//);
    assert.match(all.output, /ok \d+ - two folders down/);

    const some = runTests(root, 'test/a');
    assert.match(some.output, /^# tests 1$/m, 'a folder argument runs the files under it only');

    writeFileSync(
      join(root, 'test/a/b/deep.test.ts'),
      `import { test } from 'node:test';\ntest('fails', () => { throw new Error('no'); });\n`,
    );
    assert.equal(runTests(root).status, 1, 'a failing test fails the run');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
