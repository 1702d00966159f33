// Configs with the user's own model module (`model: { module, export, options }`):
// the path is made absolute against the config file's directory, configs of
// registry models keep their hash, a run fails before any training when the
// module or export is wrong, and the tiny SMS run works inline and with the
// ProcessExecutor, whose children load the module themselves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import { setNumThreads } from '../../src/tensor/index.js';
import { configHash, normalizedConfigJson, parseSmsConfig, type SmsConfig, type SmsConfigInput } from '../../src/sms/config.js';
import { buildModel } from '../../src/sms/context.js';
import { runSms, type SmsEvent } from '../../src/sms/pipeline.js';
import { candidateSpecs } from '../../src/sms/candidates.js';
import type { RetrainJob } from '../../src/sms/retrain.js';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { ProcessExecutor, RetrainJobError } from '../../src/exec/process-executor.js';
import { ConfigError, UserModelError } from '../../src/util/errors.js';
import { tinyDatasetDir, tinyRunConfig } from '../helpers/tiny-run.js';
import { exportModel } from '../../src/run/export.js';
import type { ModelOptions } from '../../src/models/registry.js';
import { evaluateCheckpoint } from '../../src/run/evaluate-checkpoint.js';
import { writeUserModelFiles } from '../helpers/user-model-files.js';

const dir = mkdtempSync(join(tmpdir(), 'sms-user-model-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const files = writeUserModelFiles(join(dir, 'models'));

/** The tiny run's config with `model` replaced (not merged: a module config has no name). */
function userModelConfig(model: SmsConfigInput['model'], source?: string): SmsConfig {
  return parseSmsConfig({ ...tinyRunConfig({ name: 'test-user-model' }), model }, source);
}

test('model.module: relative to the config file, stored absolute with its export; exactly one of name and module', () => {
  const config = userModelConfig({ module: './my-model.js', options: { hidden: 8 } }, join(files.dir, 'experiment.yaml'));
  assert.equal(config.model.module, files.js);
  assert.equal(config.model.export, 'default');
  assert.equal(config.model.name, undefined);
  const again = parseSmsConfig(JSON.parse(normalizedConfigJson(config)), join(dir, 'run', 'config.json'));
  assert.deepEqual(again.model, config.model, 'the normalized config (what children and workers get) names the same file');
  assert.equal(configHash(again), configHash(config));
  assert.equal(userModelConfig({ module: pathToFileURL(files.ts).href, export: 'TsNet' }).model.module, files.ts);

  const raw = tinyRunConfig();
  const refused: [unknown, RegExp][] = [
    [
      { ...raw, model: { name: 'mlp', module: './my-model.js' } },
      /^model: give model\.name .* or model\.module .*, not both \(in cfg\.yaml\)$/,
    ],
    [{ ...raw, model: { options: {} } }, /^model: give model\.name \(a registry model: mlp, .*\) or model\.module .* \(in cfg\.yaml\)$/],
    [{ ...raw, model: { name: 'mlp', export: 'MyNet' } }, /^model\.export: names an export of model\.module, which is not given/],
    [{ ...raw, model: { module: '' } }, /^model\.module: expected a path to an ES module file, got ""/],
    [{ ...raw, model: { module: './m.js', exports: 'MyNet' } }, /^model: unknown key 'exports'/],
  ];
  for (const [input, pattern] of refused) {
    assert.throws(
      () => parseSmsConfig(input, 'cfg.yaml'),
      (e: Error) => e instanceof ConfigError && pattern.test(e.message),
      String(pattern),
    );
  }
});

test('configs of registry models keep their normalized JSON and hash', () => {
  const base = parseSmsConfig({ data: { dataset: 'fashion-mnist' }, model: { name: 'mlp' } });
  // Pinned: a change means existing run directories are no longer resumed. Change them only with a
  // behaviour change (like-for-like scoring's evaluation keys changed every hash).
  assert.equal(configHash(base), 'dcb470ee2acc');
  assert.deepEqual(Object.keys(JSON.parse(normalizedConfigJson(base)).model), ['name', 'options']);
  const quick = parseSmsConfig(parse(readFileSync('configs/fashion-mnist-quick.yaml', 'utf8')), 'configs/fashion-mnist-quick.yaml');
  assert.equal(configHash(quick), 'dca204c0823c');
  assert.doesNotMatch(normalizedConfigJson(quick), /"module"|"export"/);
});

test('a wrong module or export stops the run before any training, naming the file and export', async () => {
  const cases: [SmsConfigInput['model'], RegExp][] = [
    [{ module: join(files.dir, 'missing.js') }, /missing\.js \(export 'default'\): file not found/],
    [{ module: files.broken }, /broken\.js \(export 'default'\): cannot be imported as an ES module: \w*Error: /],
    [{ module: files.js, export: 'MyNett' }, /my-model\.js \(export 'MyNett'\): has no export 'MyNett'; its exports: .*MyNet/],
    [{ module: files.js, export: 'notAModel' }, /'notAModel' is a number \(42\), neither a Module subclass nor a factory/],
    [{ module: files.js, export: 'returnsNothing' }, /the factory returned undefined, not a Module/],
    [
      { module: files.js, export: 'MyNet', options: { hidden: -1 } },
      /new MyNet\(config\) threw: RangeError: hidden must be a positive width/,
    ],
  ];
  for (const [model, pattern] of cases) {
    const workDir = mkdtempSync(join(dir, 'fail-'));
    const events: SmsEvent[] = [];
    await assert.rejects(runSms(userModelConfig(model), { workDir, onEvent: (e) => events.push(e) }), (e: unknown) => {
      assert.ok(e instanceof UserModelError, `a UserModelError, got ${String(e)}`);
      assert.match(e.message, pattern);
      return true;
    });
    assert.deepEqual(events, [], `${String(pattern)}: nothing started`);
    assert.ok(!existsSync(join(workDir, 'dense.safetensors')), 'no dense model trained');
  }
  const unprepared = userModelConfig({ module: files.js, export: 'makeNet', options: { width: 4 } });
  assert.throws(() => buildModel(unprepared, 0), /\(export 'makeNet'\): not loaded in this process yet: await prepareModel\(config\)/);
});

test('a tiny SMS run with a JavaScript model module, inline', async () => {
  setNumThreads(1);
  const config = userModelConfig({ module: files.js, export: 'MyNet', options: { hidden: 32 } });
  const workDir = mkdtempSync(join(dir, 'inline-'));
  const results = await runSms(config, { workDir });
  assert.equal(results.phases.length, 2);
  const last = results.phases[1];
  assert.ok(Math.abs(last.soups.uniform.metrics.sparsity - 0.75) < 1e-3, `soup sparsity ${last.soups.uniform.metrics.sparsity}`);
  assert.ok(last.soups.uniform.metrics.testAccuracy > 0.3, `the soup learned something: ${last.soups.uniform.metrics.testAccuracy}`);
  for (const file of [join(workDir, 'dense.safetensors'), last.candidates[0].checkpoint, last.soups.uniform.checkpoint]) {
    const { metadata } = await loadSafetensors(file);
    assert.equal(metadata.model, `module:${files.js}#MyNet`, `${basename(file)} names the model`);
  }

  // The soup leaves the run: exported as a sparse file, and that file evaluated, both building the user's model from its name.
  const soup = last.soups.uniform.checkpoint;
  const hints = { dataset: 'npy', dir: tinyDatasetDir(), modelOptions: { hidden: 32 } as ModelOptions }; // a user module's own options key
  const exported = await exportModel({ checkpoint: soup, output: join(workDir, 'soup-sparse.safetensors'), format: 'sparse', ...hints });
  assert.equal(exported.model.name, `module:${files.js}#MyNet`);
  const evaluation = await evaluateCheckpoint({ checkpoint: exported.path, dataset: 'npy', dir: tinyDatasetDir() });
  assert.equal(evaluation.model.name, `module:${files.js}#MyNet`);
  assert.ok(
    Math.abs(evaluation.metrics.testAccuracy - last.soups.uniform.metrics.testAccuracy) < 1e-9,
    `the exported soup scores as in the run: ${evaluation.metrics.testAccuracy} vs ${last.soups.uniform.metrics.testAccuracy}`,
  );
});

test('a TypeScript model module with the ProcessExecutor (2 candidates, 1 thread each); a wrong export in a child is a UserModelError', async () => {
  setNumThreads(1);
  const config = userModelConfig({ module: files.ts, options: { hidden: 32 } });
  const workDir = mkdtempSync(join(dir, 'procs-'));
  const pids = new Set<number>();
  const children = new Set<number>();
  const executor = new ProcessExecutor({
    concurrency: 2,
    threadsPerWorker: 1,
    onJobStart: (_, pid) => pids.add(pid),
    onWorkerReady: (pid) => children.add(pid),
  });
  try {
    const results = await runSms(config, { workDir, executor });
    assert.equal(results.phases.length, 2);
    // Each child may take either kind of task (the dense model's score parts run beside phase 1's jobs), so count the pool, not who ran a job.
    assert.equal(children.size, 2, 'the pool started two children');
    assert.ok(pids.size >= 1 && [...pids].every((pid) => children.has(pid)), 'the candidates ran in those children');
    assert.ok(results.phases[1].soups.uniform.metrics.testAccuracy > 0.3);

    const bad: SmsConfig = { ...config, model: { ...config.model, export: 'NoSuchNet' } };
    const job: RetrainJob = {
      config: bad,
      phase: 1,
      spec: candidateSpecs(bad)[0],
      kind: 'sms',
      // The model is loaded before the checkpoints are read: these refs are never checked.
      parent: { path: join(workDir, 'dense.safetensors'), sha256: 'unchecked' },
      mask: { path: join(workDir, 'phase-1', 'mask.safetensors'), sha256: 'unchecked' },
      output: join(workDir, 'bad.safetensors'),
    };
    await assert.rejects(executor.run([job]), (e: unknown) => {
      assert.ok(e instanceof RetrainJobError, `a RetrainJobError, got ${String(e)}`);
      assert.equal(e.errorType, 'UserModelError');
      assert.match(e.message, /my-model\.ts \(export 'NoSuchNet'\): has no export 'NoSuchNet'; its exports: default/);
      return true;
    });
  } finally {
    await executor.close();
  }
});
