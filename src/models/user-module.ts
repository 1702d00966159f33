/**
 * Models from the user's own ES module, for configs that say
 * `model: { module: ./my-model.js, export: MyNet, options: {...} }`.
 *
 * The export is either a `Module` subclass, built as
 * `new MyNet({ inChannels, numClasses, imageSize, generator, ...options })`,
 * or a factory function taking the same object and returning a Module.
 * TypeScript files (`.ts`, `.mts`, `.cts`) load through tsx, registered here
 * on the first one. Every failure is a UserModelError naming the file, the
 * export and what is wrong: a missing file, a module that does not import
 * (its first error line), a missing export (listing those it has), an export
 * that is neither a Module subclass nor a function, a factory that returns
 * something else, or a constructor or factory that throws.
 *
 * @example
 * const factory = await loadUserModel('/home/me/my-model.js', 'MyNet');
 * const net = factory({ inChannels: 1, numClasses: 10, imageSize: 28, generator: new Generator(0), hidden: 64 });
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Module } from '../nn/module.js';
import { UserModelError } from '../util/errors.js';
import type { ModelConfig } from './registry.js';

/** What a user model is built from: the data's shape, the seeded generator, and the config's `model.options`. */
export type UserModelConfig = ModelConfig & Record<string, unknown>;

/** Builds a fresh user model; what goes wrong is a UserModelError naming the file and the export. */
export type UserModelFactory = (config: UserModelConfig) => Module;

const TYPESCRIPT = /\.[cm]?ts$/i;
const loaded = new Map<string, Promise<UserModelFactory>>();
let typeScriptLoader: Promise<void> | null = null;

/** The name checkpoints and logs give a user model: `module:<file>#<export>`. */
export function userModelName(file: string, exportName = 'default'): string {
  return `module:${file}#${exportName}`;
}

/**
 * The file and export a `module:<file>#<export>` model name names (the
 * inverse of userModelName), or null for a registry name. The file is the
 * part before the last '#', so a '#' inside a path is kept.
 */
export function parseUserModelName(name: string): { file: string; exportName: string } | null {
  if (!name.startsWith('module:')) return null;
  const rest = name.slice('module:'.length);
  const hash = rest.lastIndexOf('#');
  return hash < 0 ? { file: rest, exportName: 'default' } : { file: rest.slice(0, hash), exportName: rest.slice(hash + 1) };
}

/**
 * Imports `file` (absolute, or relative to the working directory) and
 * returns the factory of its export `exportName`. Loaded once per process
 * and export; a failed load is not remembered.
 */
export function loadUserModel(file: string, exportName = 'default'): Promise<UserModelFactory> {
  const path = resolve(file);
  const key = `${path}#${exportName}`;
  let factory = loaded.get(key);
  if (factory === undefined) {
    factory = importFactory(path, exportName);
    loaded.set(key, factory);
    factory.catch(() => loaded.delete(key));
  }
  return factory;
}

async function importFactory(path: string, exportName: string): Promise<UserModelFactory> {
  const fail = (problem: string, cause?: unknown): UserModelError => new UserModelError(path, exportName, problem, cause);
  if (!existsSync(path)) throw fail("file not found (a relative model.module is resolved against the config file's directory)");
  if (statSync(path).isDirectory()) throw fail('is a directory; name the module file itself');
  if (TYPESCRIPT.test(path)) await enableTypeScript(fail);
  let namespace: Record<string, unknown>;
  try {
    // A URL path, not a file: URL: under tsx a file: URL (or ./x.js) imported from a .ts file resolves to a
    // sibling x.ts first, and the user asked for this very file.
    namespace = (await import(pathToFileURL(path).pathname)) as Record<string, unknown>;
  } catch (e) {
    throw fail(`cannot be imported as an ES module: ${firstErrorLine(e)}${importHint(e)}`, e);
  }
  if (!(exportName in namespace)) {
    const names = Object.keys(namespace);
    const has = names.length > 0 ? `its exports: ${names.join(', ')}` : 'it exports nothing';
    throw fail(`has no export '${exportName}'; ${has}${exportName === 'default' ? ' (set model.export to the one to use)' : ''}`);
  }
  return factoryOf(namespace[exportName], exportName, fail);
}

/** Registers tsx's ESM loader once per process (Node ≥ 20.6); harmless when node already runs with `--import tsx`. */
async function enableTypeScript(fail: (problem: string, cause?: unknown) => UserModelError): Promise<void> {
  typeScriptLoader ??= import('tsx/esm/api').then(({ register }) => void register());
  try {
    await typeScriptLoader;
  } catch (e) {
    typeScriptLoader = null;
    throw fail(
      `is TypeScript, and loading TypeScript needs tsx, which could not be loaded (${firstErrorLine(e)}): install tsx, start node with --import tsx, or compile the module to JavaScript`,
      e,
    );
  }
}

/** The class or factory `value` as a factory whose results are checked and whose errors name the file. */
function factoryOf(value: unknown, exportName: string, fail: (problem: string, cause?: unknown) => UserModelError): UserModelFactory {
  const label = exportName === 'default' ? 'the default export' : `'${exportName}'`;
  if (typeof value !== 'function') {
    throw fail(`${label} is ${describeValue(value)}, neither a Module subclass nor a factory function returning a Module`);
  }
  if (value.prototype instanceof Module) {
    const ModelClass = value as new (config: UserModelConfig) => Module;
    return (config) => {
      try {
        return new ModelClass(config);
      } catch (e) {
        throw fail(`new ${ModelClass.name}(config) threw: ${firstErrorLine(e)}`, e);
      }
    };
  }
  if (/^class\b/.test(Function.prototype.toString.call(value))) {
    const foreign = looksLikeModule(value.prototype)
      ? ' (it extends a Module class from another copy of sparse-soups: import Module from the sparse-soups that runs it)'
      : '';
    throw fail(
      `class ${value.name || exportName} does not extend Module${foreign}; export a Module subclass or a function returning a Module`,
    );
  }
  const factory = value as (config: UserModelConfig) => unknown;
  return (config) => {
    let model: unknown;
    try {
      model = factory(config);
    } catch (e) {
      throw fail(`the factory ${value.name || exportName}(config) threw: ${firstErrorLine(e)}`, e);
    }
    if (model instanceof Module) return model;
    if (model !== null && typeof model === 'object' && typeof (model as { then?: unknown }).then === 'function') {
      throw fail('the factory returned a Promise; it must return the Module itself (do asynchronous setup at the top level of the module)');
    }
    if (looksLikeModule(model))
      throw fail('the factory returned a Module of another copy of sparse-soups: import Module from the sparse-soups that runs it');
    throw fail(`the factory returned ${describeValue(model)}, not a Module`);
  };
}

/** True for an object with a Module's methods (a Module from another copy of the library fails `instanceof`). */
function looksLikeModule(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return typeof v.forward === 'function' && typeof v.stateDict === 'function' && typeof v.namedParameters === 'function';
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'no prototype'})`;
  const shown = JSON.stringify(value) ?? String(value);
  return `a ${typeof value} (${shown.length > 40 ? `${shown.slice(0, 37)}...` : shown})`;
}

/**
 * `Name: first line of the message`; an esbuild message ("Transform failed
 * with 1 error:") keeps its second line, which says what failed and where.
 */
export function firstErrorLine(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const lines = e.message
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  let line = lines[0] ?? '';
  if (line.endsWith(':') && lines.length > 1) line += ` ${lines[1]}`;
  return `${e.name}: ${line}`;
}

/** What to do about a failed import, for the failures with a usual cause. */
function importHint(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  const message = e instanceof Error ? e.message : '';
  if (code === 'ERR_UNKNOWN_FILE_EXTENSION') return '; name it .js, .mjs, .ts or .mts';
  if (
    code === 'ERR_REQUIRE_CYCLE_MODULE' ||
    code === 'ERR_REQUIRE_ESM' ||
    /Cannot use import statement outside a module|Unexpected token 'export'/.test(message)
  ) {
    return '; Node reads it as CommonJS: name it .mjs (.mts) or add "type": "module" to its package.json';
  }
  return '';
}
