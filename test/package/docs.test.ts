// The public API stays documented: every export of the package root has a doc comment (on its declaration,
// or on the re-export in src/index.ts for files owned elsewhere), and every entry point in package.json's
// "exports" exists and is described in docs/api.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const ROOT = new URL('../..', import.meta.url).pathname;

test('every export of the package root has a doc comment', () => {
  const entry = join(ROOT, 'src/index.ts');
  const program = ts.createProgram([entry], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: ['node'],
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const root = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
  const exports = checker.getExportsOfModule(root);
  assert.ok(exports.length > 100, `the root exports ${exports.length} names`);
  const undocumented = exports
    .filter((symbol) => {
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      const docs =
        ts.displayPartsToString(symbol.getDocumentationComment(checker)) + ts.displayPartsToString(target.getDocumentationComment(checker));
      return docs.trim() === '';
    })
    .map((symbol) => symbol.name);
  assert.deepEqual(undocumented, [], 'exports without a doc comment');
});

test('every entry point in package.json exports exists and docs/api.md describes it', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    exports: Record<string, string | Record<string, string>>;
    types: string;
  };
  const api = readFileSync(join(ROOT, 'docs/api.md'), 'utf8');
  for (const [subpath, target] of Object.entries(manifest.exports)) {
    if (typeof target === 'string') continue; // ./package.json
    const source = target['sparse-soups-src'];
    assert.ok(existsSync(join(ROOT, source)), `${subpath}: ${source} exists`);
    assert.equal(target.types, source.replace(/^\.\/src\/(.*)\.ts$/, './dist/src/$1.d.ts'), `${subpath}: types are the built ${source}`);
    assert.equal(target.default, source.replace(/^\.\/src\/(.*)\.ts$/, './dist/src/$1.js'), `${subpath}: code is the built ${source}`);
    const name = subpath === '.' ? 'sparse-soups' : `sparse-soups/${subpath.slice(2)}`;
    assert.ok(api.includes(`\`${name}\``), `docs/api.md names ${name}`);
  }
  assert.equal(manifest.types, manifest.exports['.'] && (manifest.exports['.'] as Record<string, string>).types);
});
