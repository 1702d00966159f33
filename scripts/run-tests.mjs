#!/usr/bin/env node
// Runs every `*.test.ts` under test/ (at any depth) with Node's test runner,
// one file at a time. Node 20's `--test` does not expand glob patterns, so
// the files are found here.
//
//   node scripts/run-tests.mjs                          # the whole suite
//   node scripts/run-tests.mjs test/sms test/run/cli.test.ts
//   node scripts/run-tests.mjs --test-name-pattern=resume test/run
//
// Arguments starting with `-` go to node; the others are files or folders
// to search instead of test/.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const TEST_FILE = /\.test\.ts$/;

/** Test files under `path` (or `path` itself), sorted, skipping node_modules and dot folders. */
function testFiles(path) {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((entry) => {
      const child = join(path, entry.name);
      if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name.startsWith('.') ? [] : testFiles(child);
      return entry.isFile() && TEST_FILE.test(entry.name) ? [child] : [];
    });
}

const args = process.argv.slice(2);
const nodeOptions = args.filter((a) => a.startsWith('-'));
const roots = args.filter((a) => !a.startsWith('-'));
const files = (roots.length > 0 ? roots : ['test']).flatMap(testFiles).map((f) => relative(process.cwd(), f) || f);
if (files.length === 0) {
  console.error(`run-tests: no *.test.ts files under ${roots.join(', ') || 'test'}`);
  process.exit(1);
}

const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...nodeOptions, ...files], {
  stdio: 'inherit',
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  if (signal === null) process.exit(code ?? 1);
  process.removeAllListeners(signal); // die of the same signal, as a shell expects
  process.kill(process.pid, signal);
});
