// The addon's surface is declared three times: registered in native/src/*.cc,
// typed by the NativeAddon interface (pinned to NATIVE_EXPORTS at compile
// time), and built as an object when the addon loads. They must agree: a name
// missing from the interface cannot be called from TypeScript, and a member
// missing from the addon only fails at its first call, deep inside a run.
// And only tensor/ imports the addon (DESIGN.md's layers), so a change to the
// addon's surface stays inside tensor/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NATIVE_EXPORTS, native } from '../../src/tensor/native.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NATIVE_SRC = new URL('../../native/src/', import.meta.url);
const REBUILD = 'if native/src changed since the last build, rebuild with `npm run build:native`';

interface Registration {
  name: string;
  file: string;
}

/** Every `SS_EXPORT(exports, "name", fn)` and `exports.Set("name", ...)` in native/src/*.cc. */
function registrations(): Registration[] {
  const found: Registration[] = [];
  for (const file of readdirSync(NATIVE_SRC).filter((f) => f.endsWith('.cc'))) {
    const source = readFileSync(new URL(file, NATIVE_SRC), 'utf8');
    const literal = [...source.matchAll(/\b(?:SS_EXPORT\(\s*exports\s*,|exports\.Set\()\s*"(\w+)"/g)];
    // A registration whose name is not a string literal would escape this test: refuse it.
    const calls = source.match(/\b(?:SS_EXPORT|exports\.Set)\s*\(/g) ?? [];
    assert.equal(calls.length, literal.length, `${file}: every export must be registered with a literal name`);
    for (const m of literal) found.push({ name: m[1], file });
  }
  return found;
}

const missing = (from: readonly string[], of: readonly string[]): string[] => of.filter((n) => !from.includes(n));

test('NATIVE_EXPORTS names each export once', () => {
  const repeated = NATIVE_EXPORTS.filter((n, i) => NATIVE_EXPORTS.indexOf(n) !== i);
  assert.deepEqual(repeated, []);
});

test('the loaded addon exports exactly the members of NativeAddon', () => {
  const loaded = Object.keys(native);
  assert.deepEqual(
    { notInInterface: missing(NATIVE_EXPORTS, loaded), notInAddon: missing(loaded, NATIVE_EXPORTS) },
    { notInInterface: [], notInAddon: [] },
    `NativeAddon (src/tensor/native.ts) and the built addon disagree; ${REBUILD}`,
  );
  for (const name of NATIVE_EXPORTS) assert.equal(typeof native[name], 'function', `addon export ${name}`);
});

test('native/src/*.cc registers exactly the members of NativeAddon, each once', () => {
  const regs = registrations();
  const names = regs.map((r) => r.name);
  const twice = regs.filter((r, i) => names.indexOf(r.name) !== i).map((r) => `${r.name} (${r.file})`);
  assert.deepEqual(twice, [], 'registered more than once (the last registration wins silently)');
  assert.deepEqual(
    { notInInterface: missing(NATIVE_EXPORTS, names), notInSources: missing(names, NATIVE_EXPORTS) },
    { notInInterface: [], notInSources: [] },
    'the C++ registrations and NativeAddon (src/tensor/native.ts) disagree',
  );
});

test('only src/tensor/ (and its tests) imports the addon', () => {
  const allowed = [join('src', 'tensor'), join('test', 'tensor')];
  const offenders: string[] = [];
  for (const dir of ['src', 'bench', 'experiments', 'test']) {
    for (const entry of readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })) {
      const file = join(dir, entry);
      if (!/\.(ts|mts|js|mjs|cjs)$/.test(file) || allowed.some((a) => file.startsWith(a + sep))) continue;
      const source = readFileSync(join(ROOT, file), 'utf8');
      if (/['"][^'"\n]*(?:\btensor\/native(?:\.[jt]s)?|sparse_soups\.node)['"]/.test(source)) offenders.push(file);
    }
  }
  assert.deepEqual(offenders, [], 'call a function of src/tensor/ instead of the addon (DESIGN.md: tensor/ is its only importer)');
});
