// The command line starts fast: a command's heavy dependencies (libtorch, vega, bullmq, the pipeline) load
// when it runs, not when main.ts assembles the commands. What main.ts reaches through static imports is
// checked here, so a new command cannot slow down `sparse-soups --help` again without failing a test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;

/** The modules a file loads when it is imported: its static, non-type-only imports. */
function staticImports(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  return [...source.matchAll(/^import\s+(?!type\s)(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)].map((m) => m[1]);
}

/** Every file and package main.ts loads at startup, following relative imports. */
function startupClosure(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    for (const spec of staticImports(file)) {
      if (spec.startsWith('.')) visit(join(dirname(file), spec.replace(/\.js$/, '.ts')));
      else if (!spec.startsWith('node:')) packages.add(spec);
    }
  };
  visit(entry);
  return { files: [...files].map((f) => relative(ROOT, f)).sort(), packages: [...packages].sort() };
}

test('main.ts loads only commander, the command registrations and the error classes at startup', () => {
  const { files, packages } = startupClosure(join(ROOT, 'src/cli/main.ts'));
  assert.deepEqual(packages, ['commander']);
  for (const file of files)
    assert.match(file, /^src\/(cli\/(?!data-actions)[\w-]+|util\/errors)\.ts$/, `${file} is loaded by every command at startup`);
});
