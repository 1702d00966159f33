// Every error class lives in src/util/errors.ts, extends SparseSoupsError and
// is named after itself (the name travels between processes: RetrainJobError
// reports it as errorType). The source scan keeps "one home for errors" true.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as errors from '../../src/util/errors.js';
import { SparseSoupsError } from '../../src/util/errors.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const ERRORS_MODULE = join('src', 'util', 'errors.ts');

type AnyClass = new (...args: unknown[]) => unknown;

/** `class X extends Error`, `extends SparseSoupsError`, `extends TypeError`, `extends errors.CheckpointError`, `= class extends ...Error`. */
const ERROR_CLASS_DECLARATION = /\bclass\b(?:\s+[\w$]+)?(?:\s*<[^>{]*>)?\s+extends\s+([\w$.]*Error)\b/g;

/** Exported runtime values of errors.ts (interfaces and types have none). */
const exported = Object.entries(errors as Record<string, unknown>);

test('errors.ts exports only classes', () => {
  for (const [name, value] of exported) assert.equal(typeof value, 'function', `export '${name}' of ${ERRORS_MODULE} is not a class`);
  assert.ok(exported.length > 1);
});

test('every exported error class extends SparseSoupsError and sets name to its class name', () => {
  // Placeholder arguments that every constructor accepts (strings stand in for paths, jobs and numbers alike).
  const args = ['where', 'what', 'attempts', 'reason', 'stderr'];
  for (const [exportName, value] of exported) {
    const ErrorClass = value as AnyClass;
    assert.equal(ErrorClass.name, exportName, `${exportName} is exported under another name than its class name`);
    assert.ok(
      ErrorClass === SparseSoupsError || ErrorClass.prototype instanceof SparseSoupsError,
      `${exportName} does not extend SparseSoupsError`,
    );
    const instance = Reflect.construct(ErrorClass, args) as Error;
    assert.ok(instance instanceof Error, `${exportName} is not an Error`);
    assert.ok(instance instanceof SparseSoupsError, `${exportName} is not a SparseSoupsError`);
    assert.equal(instance.name, exportName, `new ${exportName}(...).name is '${instance.name}'`);
    assert.equal(typeof instance.message, 'string');
  }
});

/** Every .ts file under `dir`, recursively. */
function typeScriptFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return typeScriptFiles(path);
    return entry.isFile() && entry.name.endsWith('.ts') ? [path] : [];
  });
}

test('no file under src/ other than util/errors.ts declares an error class', () => {
  const files = typeScriptFiles(join(repoRoot, 'src'));
  assert.ok(
    files.some((f) => relative(repoRoot, f) === ERRORS_MODULE),
    `${ERRORS_MODULE} not found by the scan`,
  );
  const found: string[] = [];
  for (const file of files) {
    const where = relative(repoRoot, file);
    if (where === ERRORS_MODULE) continue;
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(ERROR_CLASS_DECLARATION)) {
      const line = text.slice(0, m.index).split('\n').length;
      found.push(`${where.split(sep).join('/')}:${line}: ${m[0]}`);
    }
  }
  assert.deepEqual(
    found,
    [],
    `error classes belong in ${ERRORS_MODULE} (re-export them if a module should offer them):\n${found.join('\n')}`,
  );
});

test('the scan recognizes the declarations it must refuse', () => {
  const declaration = new RegExp(ERROR_CLASS_DECLARATION.source);
  for (const source of [
    'export class NpyError extends Error {',
    'class Bad extends SparseSoupsError {}',
    'class Bad<T> extends errors.ConfigError {}',
    'const Bad = class extends TypeError {};',
  ]) {
    assert.match(source, declaration, source);
  }
  for (const source of [
    'class Loader extends Module {',
    "export { ReportRenderError } from '../util/errors.js';",
    'throw new ConfigError(path, problem);',
  ]) {
    assert.doesNotMatch(source, declaration, source);
  }
});
