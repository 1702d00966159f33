import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { parse } from 'yaml';
import { parseSmsConfig, configHash, normalizedConfigJson, replicateConfigs } from '../../src/sms/config.js';
import { candidateSpecs } from '../../src/sms/candidates.js';
import { ConfigError } from '../../src/util/errors.js';

const base = { data: { dataset: 'fashion-mnist' }, model: { name: 'mlp' } };

test('defaults are filled and the hash is stable and sensitive', () => {
  const a = parseSmsConfig(base);
  assert.equal(a.pruning.phases, 3);
  assert.equal(a.retrain.schedule, 'LLR');
  assert.equal(a.data.validationFraction, 0.1);
  assert.equal(a.data.splitSeed, 42);
  assert.equal(configHash(a), configHash(parseSmsConfig(JSON.parse(JSON.stringify(base)))));
  assert.notEqual(configHash(a), configHash(parseSmsConfig({ ...base, seed: 1 })));
});

test('errors name the config path, the expectation and what was given', () => {
  const cases: [unknown, RegExp][] = [
    [{ ...base, pruning: { phases: -1 } }, /^pruning\.phases: expected a number > 0, got -1 \(in cfg\.yaml\)$/],
    [{ ...base, retrain: { epoch: 3 } }, /^retrain: unknown key 'epoch'/],
    [{ ...base, merge: { method: 'mean' } }, /^merge\.method: expected one of 'uniform', 'greedy', got "mean"/],
    [{ model: { name: 'mlp' } }, /^data: required object is missing/],
    [{ ...base, candidates: { count: 3, vary: { seed: [1, 2] } } }, /^candidates\.vary\.seed: expected 3 values/],
    [{ ...base, candidates: { count: 3, grid: true, vary: { seed: [1, 2], weightDecay: [0, 1e-4] } } }, /^candidates\.count: grid .* 4 combinations, count is 3/],
  ];
  for (const [input, pattern] of cases) {
    assert.throws(() => parseSmsConfig(input, 'cfg.yaml'), (e: Error) => e instanceof ConfigError && pattern.test(e.message), String(pattern));
  }
});

test('seeds: one replicate per seed, distinct seeds, and no key in the hash when null', () => {
  const single = parseSmsConfig({ ...base, seed: 7 });
  assert.equal(single.seeds, null);
  assert.deepEqual(replicateConfigs(single), [single]);
  // Left out of the normalized config when null: configs from before the key keep their hash (their run directory).
  assert.doesNotMatch(normalizedConfigJson(single), /"seeds"/);
  assert.equal(configHash(single), configHash(parseSmsConfig({ ...base, seed: 7, seeds: null })));

  const multi = parseSmsConfig({ ...base, seed: 7, seeds: [0, 3, 1] });
  assert.notEqual(configHash(multi), configHash(single));
  const replicates = replicateConfigs(multi);
  assert.deepEqual(replicates.map((c) => c.seed), [0, 3, 1]);
  for (const r of replicates) {
    assert.equal(r.seeds, null);
    assert.deepEqual({ ...r, seed: 0 }, { ...multi, seed: 0, seeds: null });
    // A replicate is exactly the single-run config of its seed: same run directory as running `seed: s` alone.
    assert.equal(configHash(r), configHash(parseSmsConfig({ ...base, seed: r.seed })));
  }

  const bad: [unknown, RegExp][] = [
    [{ ...base, seeds: [1, 2, 1] }, /^seeds: seed 1 is listed twice: replicates need distinct seeds \(in cfg\.yaml\)$/],
    [{ ...base, seeds: [] }, /^seeds: expected at least 1 entries/],
    [{ ...base, seeds: [0.5] }, /^seeds\.0: expected an integer/],
  ];
  for (const [input, pattern] of bad) {
    assert.throws(() => parseSmsConfig(input, 'cfg.yaml'), (e: Error) => e instanceof ConfigError && pattern.test(e.message), String(pattern));
  }
});

test('candidate specs: one value per candidate, or a grid', () => {
  const listed = candidateSpecs(parseSmsConfig({ ...base, seed: 2, candidates: { count: 2, vary: { weightDecay: [1e-4, 5e-4] } } }));
  assert.deepEqual(listed.map((s) => [s.seed, s.weightDecay]), [[2001, 1e-4], [2002, 5e-4]]);
  const grid = candidateSpecs(parseSmsConfig({ ...base, candidates: { count: 4, grid: true, vary: { seed: [1, 2], maxLr: [0.1, 0.05] } } }));
  assert.deepEqual(grid.map((s) => [s.seed, s.maxLr]), [[1, 0.1], [1, 0.05], [2, 0.1], [2, 0.05]]);
});

test('every shipped preset in configs/ is valid', () => {
  const files = readdirSync('configs').filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 4);
  for (const f of files) parseSmsConfig(parse(readFileSync(`configs/${f}`, 'utf8')), f);
});

test('docs/config.md lists every config key as the schema defines it', async () => {
  const { configReferenceMarkdown } = await import('../../src/sms/config-doc.js');
  const doc = readFileSync('docs/config.md', 'utf8');
  for (const line of configReferenceMarkdown().split('\n')) assert.ok(doc.includes(line), `docs/config.md is missing: ${line}`);
});

test("imagefolder's data keys: documented defaults, left out when not set, so existing configs keep their hash", () => {
  // Hashes of the shipped presets and `base` without data.imageSize, .resize, .channels and .skipUnreadable
  // (pinned anew when like-for-like scoring's evaluation keys changed every hash once).
  const before: Record<string, string> = {
    base: 'dcb470ee2acc',
    'cifar10-resnet20.yaml': 'bc3139538250',
    'cifar100-wrn.yaml': '1ca573ef1b7e',
    'fashion-mnist-paper.yaml': '6e13ea320292',
    'fashion-mnist-quick.yaml': 'dca204c0823c',
  };
  assert.equal(configHash(parseSmsConfig(base)), before.base);
  for (const f of Object.keys(before).filter((k) => k.endsWith('.yaml'))) {
    assert.equal(configHash(parseSmsConfig(parse(readFileSync(`configs/${f}`, 'utf8')), f)), before[f], f);
  }
  const dataKeys = (input: unknown): string[] => Object.keys(JSON.parse(normalizedConfigJson(parseSmsConfig(input))).data);
  assert.deepEqual(dataKeys(base), ['augment', 'batchSize', 'dataset', 'dir', 'splitSeed', 'testSubset', 'trainSubset', 'validationFraction']);
  const imageFolder = { ...base, data: { dataset: 'imagefolder', dir: '/data/x', imageSize: 64, resize: 'resize', channels: 1, skipUnreadable: true } };
  const parsed = parseSmsConfig(imageFolder);
  assert.deepEqual([parsed.data.imageSize, parsed.data.resize, parsed.data.channels, parsed.data.skipUnreadable], [64, 'resize', 1, true]);
  assert.notEqual(configHash(parsed), configHash(parseSmsConfig({ ...imageFolder, data: { ...imageFolder.data, imageSize: 32 } })));
  const cases: [unknown, RegExp][] = [
    [{ ...base, data: { dataset: 'imagefolder', channels: 2 } }, /^data\.channels: expected 1 \(grayscale\) or 3 \(RGB\), got 2/],
    [{ ...base, data: { dataset: 'imagefolder', resize: 'crop' } }, /^data\.resize: expected one of 'center-crop', 'resize', got "crop"/],
    [{ ...base, data: { dataset: 'imagefolder', imageSize: 0 } }, /^data\.imageSize: expected a number > 0, got 0/],
  ];
  for (const [input, pattern] of cases) assert.throws(() => parseSmsConfig(input), (e: Error) => e instanceof ConfigError && pattern.test(e.message), String(pattern));
});

test('the config reference documents the defaults of the keys a config may leave out', async () => {
  const { configFields } = await import('../../src/sms/config-doc.js');
  const fields = new Map(configFields().map((f) => [f.path, f]));
  assert.equal(fields.get('data.imageSize')?.default, '32');
  assert.equal(fields.get('data.resize')?.default, '"center-crop"');
  assert.equal(fields.get('data.channels')?.default, '3');
  assert.equal(fields.get('data.skipUnreadable')?.default, 'false');
});
