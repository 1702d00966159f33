// loadUserModel: a user's ES module (JavaScript or TypeScript) exporting a
// Module subclass or a factory becomes a model factory; everything that can
// be wrong with the file or the export is a UserModelError naming both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadUserModel, userModelName, type UserModelConfig } from '../../src/models/user-module.js';
import { Module } from '../../src/nn/module.js';
import { Generator, tensor } from '../../src/tensor/index.js';
import { UserModelError } from '../../src/util/errors.js';
import { writeUserModelFiles } from '../helpers/user-model-files.js';

const dir = mkdtempSync(join(tmpdir(), 'user-model-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const files = writeUserModelFiles(dir);
const shape = (seed = 0): UserModelConfig => ({ inChannels: 1, numClasses: 10, imageSize: 4, generator: new Generator(seed) });

function weights(model: Module): number[] {
  return model.namedParameters().flatMap(([, p]) => Array.from(p.toArray() as Float32Array));
}

test('a Module subclass is built with the data shape and options, its weights drawn from the generator', async () => {
  const build = await loadUserModel(files.js, 'MyNet');
  const a = build({ ...shape(3), hidden: 8 });
  const b = build({ ...shape(3), hidden: 8 });
  try {
    assert.ok(a instanceof Module);
    assert.deepEqual(
      a.namedParameters().map(([name, p]) => [name, p.shape]),
      [
        ['fc1.weight', [8, 16]],
        ['fc1.bias', [8]],
        ['fc2.weight', [10, 8]],
        ['fc2.bias', [10]],
      ],
    );
    assert.deepEqual(weights(a), weights(b), 'the same seed gives the same weights');
    const logits = a.forward(tensor(new Float32Array(2 * 16), [2, 1, 4, 4]));
    assert.deepEqual(logits.shape, [2, 10]);
    logits.dispose();
  } finally {
    a.dispose();
    b.dispose();
  }
  assert.equal(await loadUserModel(files.js, 'MyNet'), await loadUserModel(files.js, 'MyNet'), 'loaded once per process');
});

test('the default export, a factory function and a TypeScript module load too', async () => {
  for (const [file, exportName, hidden] of [
    [files.js, 'default', 16],
    [files.js, 'makeNet', 5],
    [files.ts, 'default', 16],
  ] as const) {
    const model = (await loadUserModel(file, exportName))({ ...shape(), width: 5 });
    try {
      assert.ok(model instanceof Module, `${file}#${exportName}`);
      assert.deepEqual(model.namedParameters()[0][1].shape, [hidden, 16], `${file}#${exportName}`);
    } finally {
      model.dispose();
    }
  }
  assert.equal(userModelName('/m/my-model.js', 'MyNet'), 'module:/m/my-model.js#MyNet');
});

/** Asserts that loading (and, if that works, building) `file#exportName` throws a UserModelError matching `pattern`. */
async function refuses(file: string, exportName: string, pattern: RegExp, config: UserModelConfig = shape()): Promise<UserModelError> {
  let error: unknown;
  try {
    (await loadUserModel(file, exportName))(config).dispose();
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof UserModelError, `${file}#${exportName}: expected a UserModelError, got ${String(error)}`);
  assert.ok(error.message.startsWith(`model.module ${file} (export '${exportName}'): `), error.message);
  assert.match(error.message, pattern);
  return error;
}

test('a missing file, a directory, a syntax error and an unknown file type say so', async () => {
  await refuses(
    join(dir, 'nope.js'),
    'default',
    /: file not found \(a relative model\.module is resolved against the config file's directory\)$/,
  );
  await refuses(dir, 'default', /: is a directory; name the module file itself$/);
  const broken = await refuses(files.broken, 'default', /: cannot be imported as an ES module: \w*Error: .*Unexpected/);
  assert.ok(broken.cause instanceof Error, 'the import error is kept as the cause');
  assert.doesNotMatch(broken.message, /\n/, 'one line');
  const python = join(dir, 'model.py');
  writeFileSync(python, 'class Net: pass\n');
  await refuses(python, 'Net', /: cannot be imported as an ES module: .*(name it \.js, \.mjs, \.ts or \.mts|Error)/);
  const throwing = join(dir, 'throws-on-import.js');
  writeFileSync(throwing, "throw new Error('CUDA_HOME is not set');\nexport default 1;\n");
  await refuses(throwing, 'default', /: cannot be imported as an ES module: Error: CUDA_HOME is not set$/);
});

test('an export that is missing lists the exports there are', async () => {
  await refuses(files.js, 'MyNett', /: has no export 'MyNett'; its exports: .*\bMyNet\b.*\bmakeNet\b/);
  const empty = join(dir, 'empty.js');
  writeFileSync(empty, 'export {};\n');
  await refuses(empty, 'default', /: has no export 'default'; it exports nothing \(set model\.export to the one to use\)$/);
});

test('an export that is neither a Module subclass nor a factory, or a factory that returns no Module, is refused', async () => {
  await refuses(
    files.js,
    'notAModel',
    /'notAModel' is a number \(42\), neither a Module subclass nor a factory function returning a Module$/,
  );
  await refuses(files.js, 'NotAModule', /: class NotAModule does not extend Module; export a Module subclass/);
  await refuses(files.js, 'ForeignModule', /another copy of sparse-soups/);
  await refuses(files.js, 'returnsNothing', /: the factory returned undefined, not a Module$/);
  await refuses(files.js, 'asyncFactory', /: the factory returned a Promise; it must return the Module itself/);
});

test('a constructor or factory that throws is wrapped with the file and export', async () => {
  const ctor = await refuses(files.js, 'MyNet', /: new MyNet\(config\) threw: RangeError: hidden must be a positive width, got -1$/, {
    ...shape(),
    hidden: -1,
  });
  assert.ok(ctor.cause instanceof RangeError);
  await refuses(files.js, 'factoryThrows', /: the factory factoryThrows\(config\) threw: TypeError: options\.depth is required$/);
});
