// validateExperiment: a config that would fail mid-run fails when the run
// starts, in well under a second, before the dense model trains, with the
// config key as the file spells it, the file, and a "did you mean" for typos.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { writeNpyFile } from '../../src/data/npy.js';
import { registerModel } from '../../src/models/registry.js';
import { Mlp } from '../../src/models/mlp.js';
import { getCriterion, registerCriterion } from '../../src/prune/criteria.js';
import { configHash, normalizedConfigJson, parseSmsConfig, type SmsConfigInput } from '../../src/sms/config.js';
import { runSms, type SmsEvent } from '../../src/sms/pipeline.js';
import { validateExperiment } from '../../src/sms/validate.js';
import { setNumThreads } from '../../src/tensor/index.js';
import { ConfigError, DataFormatError } from '../../src/util/errors.js';
import { closestName, didYouMean, editDistance } from '../../src/util/suggest.js';
import { tinyRunConfig, type DeepPartial } from '../helpers/tiny-run.js';

setNumThreads(1);
const scratch = mkdtempSync(join(tmpdir(), 'sparse-soups-validate-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

/** The tiny run's config with `overrides`, and `model` replacing the model section whole when given. */
function rawConfig(overrides: DeepPartial<SmsConfigInput> = {}, model?: SmsConfigInput['model']): SmsConfigInput {
  const raw = tinyRunConfig(overrides);
  return model === undefined ? raw : { ...raw, model };
}

const validate = (overrides: DeepPartial<SmsConfigInput> = {}, model?: SmsConfigInput['model']) =>
  validateExperiment(parseSmsConfig(rawConfig(overrides, model), 'my.yaml'), 'my.yaml');

function expectConfigError(fn: () => unknown, path: string, problem: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected a ConfigError at ${path}, got ${String(e)}`);
    assert.equal(e.path, path, e.message);
    assert.match(e.problem, problem);
    return true;
  });
}

/** The bad configs a new user met, each reported only after the dense model had trained. */
const BAD: { name: string; overrides: DeepPartial<SmsConfigInput>; model?: SmsConfigInput['model']; path: string; problem: RegExp }[] = [
  { name: 'criterion typo', overrides: { pruning: { criterion: 'globl' } }, path: 'pruning.criterion', problem: /unknown pruning criterion 'globl' \(did you mean 'global'\?\); valid: global, uniform, random/ },
  { name: 'retrain schedule typo', overrides: { retrain: { schedule: 'LLRX' } }, path: 'retrain.schedule', problem: /'LLRX' \(did you mean 'LLR'\?\); valid: LLR, CLR/ },
  { name: 'dense schedule typo', overrides: { dense: { schedule: 'cosin' } }, path: 'dense.schedule', problem: /'cosin' \(did you mean 'cosine'\?\)/ },
  { name: 'exclude matching nothing', overrides: { pruning: { exclude: ['fc3'] } }, path: 'pruning.exclude', problem: /'fc3' matches no Conv2d\/Linear weight of Mlp.*one of: fc1\.weight, fc2\.weight/ },
  { name: 'batch larger than the subset', overrides: { data: { trainSubset: 40, batchSize: 128 } }, path: 'data.batchSize', problem: /128 is more than the data\.trainSubset: 40 training images/ },
  { name: 'model name typo', overrides: {}, model: { name: 'mpl', options: { hiddenSizes: [32] } }, path: 'model.name', problem: /unknown model 'mpl' \(did you mean 'mlp'\?\)/ },
  { name: 'model option typo', overrides: {}, model: { name: 'mlp', options: { hiddenSize: [32] } }, path: 'model.options.hiddenSize', problem: /no option 'hiddenSize' \(did you mean 'hiddenSizes'\?\)/ },
  { name: 'corruption typo', overrides: { evaluation: { oodCorruptions: ['gausian_noise'] } }, path: 'evaluation.oodCorruptions', problem: /'gausian_noise' \(did you mean 'gaussian_noise'\?\)/ },
  { name: 'dataset typo', overrides: { data: { dataset: 'nyp' } }, path: 'data.dataset', problem: /unknown dataset 'nyp' \(did you mean 'npy'\?\)/ },
];

test('each bad config fails at the start of runSms, within a second, before the dense model is trained', async () => {
  validateExperiment(parseSmsConfig(rawConfig())); // the valid baseline passes (and loads the data once)
  for (const bad of BAD) {
    const workDir = join(scratch, `run-${bad.name.replace(/ /g, '-')}`);
    const events: SmsEvent[] = [];
    const started = performance.now();
    await assert.rejects(
      runSms(parseSmsConfig(rawConfig(bad.overrides, bad.model)), { workDir, onEvent: (e) => events.push(e) }),
      (e: unknown) => e instanceof ConfigError && e.path === bad.path && bad.problem.test(e.problem),
      bad.name,
    );
    const seconds = (performance.now() - started) / 1000;
    assert.ok(seconds < 1, `${bad.name}: failed after ${seconds.toFixed(2)} s`);
    assert.ok(!existsSync(join(workDir, 'dense.safetensors')), `${bad.name}: no dense model written`);
    assert.ok(!events.some((e) => e.type === 'dense-start' || e.type === 'progress'), `${bad.name}: no training started`);
  }
});

test('messages name the key as the file spells it and end with the file', () => {
  for (const bad of BAD) {
    assert.throws(
      () => validate(bad.overrides, bad.model),
      (e: unknown) => e instanceof ConfigError && e.message.startsWith(`${bad.path}: `) && e.message.endsWith(' (in my.yaml)'),
      bad.name,
    );
  }
  // Lower layers' ConfigErrors get the file too (the npy dataset needs a directory).
  expectConfigError(() => validate({ data: { dir: null } }), 'data.dir', /needs a directory.*\(in my\.yaml\)$/);
});

test('the CLI refuses a bad config before it creates the run directory', () => {
  const dir = mkdtempSync(join(scratch, 'cli-'));
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, stringify(rawConfig({ pruning: { criterion: 'globl' } })));
  const out = join(dir, 'runs');
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', file, '--out', out], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^sparse-soups: pruning\.criterion: unknown pruning criterion 'globl' \(did you mean 'global'\?\).* \(in .*bad\.yaml\)\n$/);
  assert.ok(!existsSync(out) || readdirSync(out).length === 0, 'no run directory');
});

test('typo suggestions: the closest name within a third of its length, case-insensitive', () => {
  assert.equal(editDistance('globl', 'global'), 1);
  assert.equal(editDistance('unifrom', 'uniform'), 1, 'a swap of neighbours is one edit');
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(closestName('globl', ['global', 'uniform', 'random']), 'global');
  assert.equal(closestName('llrx', ['LLR', 'CLR', 'SLR']), 'LLR');
  assert.equal(closestName('xyz', ['global', 'uniform', 'random']), undefined);
  assert.equal(closestName('resnet18', ['mlp', 'convnet', 'resnet20', 'resnet56']), 'resnet20');
  assert.equal(didYouMean('globl', ['global']), " (did you mean 'global'?)");
  assert.equal(didYouMean('zzz', ['global']), '');
  // The schema's own enums suggest too.
  assert.throws(() => parseSmsConfig(rawConfig({ merge: { method: 'unifrom' as 'uniform' } }), 'my.yaml'), /^ConfigError: merge\.method: expected one of 'uniform', 'greedy', got "unifrom"; did you mean 'uniform'\? \(in my\.yaml\)$/);
  // And so do misspelled keys, at any depth.
  assert.throws(() => parseSmsConfig({ ...rawConfig(), prunning: {} }, 'my.yaml'), /^ConfigError: \(root\): unknown key 'prunning'; did you mean 'pruning'\? \(in my\.yaml\)$/);
  assert.throws(() => parseSmsConfig(rawConfig({ data: { trainSubet: 40 } as DeepPartial<SmsConfigInput['data']> }), 'my.yaml'), /^ConfigError: data: unknown key 'trainSubet'; did you mean 'trainSubset'\?/);
  assert.throws(() => parseSmsConfig(rawConfig({ candidates: { vary: { sed: [1, 2] } as object } }), 'my.yaml'), /^ConfigError: candidates\.vary: unknown key 'sed'; did you mean 'seed'\?/);
});

test('pruning.exclude: names and prefixes of prunable weights, and something left to prune', () => {
  validate({ pruning: { exclude: ['fc1'] } });
  validate({ pruning: { exclude: ['fc2.weight'] } });
  expectConfigError(() => validate({ pruning: { exclude: ['fc1.weigth'] } }), 'pruning.exclude', /'fc1\.weigth' matches no .* \(did you mean 'fc1\.weight'\?\)/);
  expectConfigError(() => validate({ pruning: { exclude: ['fc1', 'fc2'] } }), 'pruning.exclude', /leaves no weight of 'mlp' to prune/);
  expectConfigError(() => validate({ pruning: { includeFirst: false, includeLast: false } }), 'pruning.includeLast', /leaves no weight/);
});

test('batch size against the training set: training drops the last incomplete batch', () => {
  validate({ data: { trainSubset: 40, batchSize: 40 } });
  expectConfigError(() => validate({ data: { trainSubset: 40, batchSize: 41 } }), 'data.batchSize', /41 is more than the data\.trainSubset: 40 training images.*at most 40 or raise data\.trainSubset/);
  // 600 images, 10% held out for validation: 540 to train on.
  expectConfigError(() => validate({ data: { batchSize: 541 } }), 'data.batchSize', /541 is more than the 540 training images \(after the validation split\)/);
  const { warnings } = validate({ data: { trainSubset: 5000 } });
  assert.deepEqual(warnings, ['data.trainSubset: 5000 is more than the 540 training images left after the validation split; all of them are used']);
  // A batch of one cannot train batch norm.
  expectConfigError(() => validate({ data: { batchSize: 1 } }, { name: 'convnet', options: {} }), 'data.batchSize', /at least 2 for 'convnet'/);
  validate({ data: { batchSize: 1 } });
});

test('model options and the model against the data', () => {
  expectConfigError(() => validate({}, { name: 'mlp', options: { hiddenSizes: [0] } }), 'model.options.hiddenSizes[0]', /must be a positive integer, got 0/);
  expectConfigError(() => validate({}, { name: 'vgg16', options: {} }), 'model.name', /needs imageSize >= 32, got 28 \('npy' has 1×28×28 images and 10 classes\)/);
  expectConfigError(() => validate({}, { name: 'resnet-18', options: {} }), 'model.name', /depth 6n\+2/);
  expectConfigError(() => validate({}, { name: 'convnet', options: { dropout: 0.1 } }), 'model.options.dropout', /takes no model-specific options/);
  // A model whose outputs do not match the classes is caught by a forward pass.
  registerModel({
    name: 'validate-test-wrong-head',
    description: 'an MLP with one output too many',
    pattern: /^validate-test-wrong-head$/,
    options: [],
    create: (_m, c) => new Mlp({ ...c, numClasses: c.numClasses + 1 }),
  });
  expectConfigError(() => validate({}, { name: 'validate-test-wrong-head', options: {} }), 'model.name', /outputs of shape \[2, 11\] for 2 images, expected \[2, 10\]/);
});

test('registries extended at runtime are checked as they stand when the run starts', () => {
  expectConfigError(() => validate({ pruning: { criterion: 'validate-test-criterion' } }), 'pruning.criterion', /unknown pruning criterion/);
  registerCriterion('validate-test-criterion', 'global magnitude under another name', getCriterion('global'));
  validate({ pruning: { criterion: 'validate-test-criterion' } });
});

test('schedules and the dense checkpoint are checked before training', () => {
  expectConfigError(() => validate({ retrain: { schedule: 'CLR', minLr: 1 } }), 'retrain.minLr', /must be in \[0, 0\.05\), got 1 \(in my\.yaml\)$/);
  validate({ retrain: { schedule: 'clr', minLr: 0.001 } }); // schedule names are case-insensitive
  expectConfigError(() => validate({ dense: { checkpoint: join(scratch, 'missing.safetensors') } }), 'dense.checkpoint', /missing\.safetensors: file not found/);
});

/** An npy dataset of 8x8 images: 40 training images of classes 0..9 with one stray 77 at index 30, 10 test images. */
function strayLabelDir(): string {
  const dir = join(scratch, 'stray');
  if (existsSync(dir)) return dir;
  mkdirSync(dir);
  const labels = { train: Array.from({ length: 40 }, (_, i) => (i === 30 ? 77 : i % 10)), test: Array.from({ length: 10 }, (_, i) => i) };
  for (const split of ['train', 'test'] as const) {
    const n = labels[split].length;
    writeNpyFile(join(dir, `${split}_images.npy`), { dtype: '|u1', shape: [n, 8, 8], data: Uint8Array.from({ length: n * 64 }, (_, i) => (i * 7) % 256) });
    writeNpyFile(join(dir, `${split}_labels.npy`), { dtype: '<i8', shape: [n], data: BigInt64Array.from(labels[split].map(BigInt)) });
  }
  return dir;
}

test('npy classes from the config: a stray label is an error with data.numClasses, a warning without', async () => {
  const data = { dir: strayLabelDir(), batchSize: 4, trainSubset: null };
  const train = join(data.dir, 'train_labels.npy');
  assert.throws(
    () => validate({ data: { ...data, numClasses: 10 } }),
    (e: unknown) => e instanceof DataFormatError && e.file === train && /^label 77 at index 30 is out of range 0\.\.9$/.test(e.problem),
  );
  const { warnings } = validate({ data });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /train_labels\.npy: classes with no training image: 10\.\.76; numClasses 78 was inferred/);
  // runSms emits the warning as an event before anything else happens.
  const events: SmsEvent[] = [];
  const stop = new Error('stop after the warnings');
  const workDir = join(scratch, 'run-stray');
  const onEvent = (e: SmsEvent): void => {
    events.push(e);
    if (e.type === 'warning') throw stop;
  };
  await assert.rejects(runSms(parseSmsConfig(rawConfig({ data })), { workDir, onEvent }), (e) => e === stop);
  assert.deepEqual(events.map((e) => e.type), ['warning']);
  assert.ok(!existsSync(join(workDir, 'dense.safetensors')));
  // The keys are for datasets that take their classes from the data, and must agree.
  expectConfigError(() => validate({ data: { ...data, numClasses: 3, classNames: ['a', 'b'] } }), 'data.classNames', /lists 2 names, data\.numClasses is 3/);
  expectConfigError(
    () => validateExperiment(parseSmsConfig({ data: { dataset: 'fashion-mnist', numClasses: 10 }, model: { name: 'mlp' } }, 'my.yaml'), 'my.yaml'),
    'data.numClasses',
    /dataset 'fashion-mnist' has its own 10 classes/,
  );
});

test('data.numClasses and data.classNames leave the hash of configs that do not set them unchanged', () => {
  // Hashes pinned without the keys (like-for-like scoring's evaluation keys changed every hash once).
  const npy = parseSmsConfig({ data: { dataset: 'npy', dir: '/data/x', trainSubset: 500 }, model: { name: 'mlp', options: { hiddenSizes: [32] } } });
  assert.equal(configHash(npy), '0e5bddffcb38');
  assert.equal(configHash(parseSmsConfig({ data: { dataset: 'fashion-mnist' }, model: { name: 'convnet' } })), '32e96d7e1552');
  assert.doesNotMatch(normalizedConfigJson(npy), /numClasses|classNames/);
  const withClasses = parseSmsConfig({ data: { dataset: 'npy', dir: '/data/x', trainSubset: 500, numClasses: 10 }, model: { name: 'mlp', options: { hiddenSizes: [32] } } });
  assert.notEqual(configHash(withClasses), configHash(npy));
  assert.match(normalizedConfigJson(withClasses), /"numClasses":10/);
});
