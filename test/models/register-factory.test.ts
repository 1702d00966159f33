// registerModel(name, factory): a user's own Module under a name createModel (and a run config) can build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createModel, listModels, registerModel } from '../../src/models/registry.js';
import { Linear } from '../../src/nn/layers.js';
import { Module } from '../../src/nn/module.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { Generator } from '../../src/tensor/tensor.js';
import { ConfigError } from '../../src/util/errors.js';

class UserNet extends Module {
  readonly fc: Linear;
  constructor(inFeatures: number, numClasses: number, generator?: Generator) {
    super();
    this.fc = this.registerModule('fc', new Linear(inFeatures, numClasses, { generator }));
  }
  forward(x: Tensor): Tensor {
    return this.fc.forward(x.flatten(1));
  }
}

test('a factory-registered model is built by name (case-insensitively) with the data shape and the seeded generator', () => {
  registerModel(
    'User-Net',
    ({ inChannels, imageSize, numClasses, generator }) => new UserNet(inChannels * imageSize ** 2, numClasses, generator),
    'a test model',
  );
  assert.deepEqual(listModels().at(-1), { name: 'User-Net', description: 'a test model', options: [] });
  const a = createModel('user-net', { inChannels: 1, numClasses: 3, imageSize: 4, generator: new Generator(7) });
  const b = createModel('USER-NET', { inChannels: 1, numClasses: 3, imageSize: 4, generator: new Generator(7) });
  if (!(a instanceof UserNet) || !(b instanceof UserNet)) assert.fail('createModel builds the registered class');
  assert.deepEqual(a.fc.weight.shape, [3, 16]);
  assert.ok(a.fc.weight.equal(b.fc.weight), 'same seed, same weights');
  assert.throws(
    () => createModel('user-net', { inChannels: 1, numClasses: 3, imageSize: 4, hiddenSizes: [8] }),
    /has no option 'hiddenSizes'; it takes no model-specific options/,
  );
});

test('registerModel(name, factory) refuses a taken name, a name a zoo pattern builds, and a missing factory', () => {
  registerModel('user-net-2', () => new UserNet(4, 2));
  assert.throws(
    () => registerModel('user-net-2', () => new UserNet(4, 2)),
    (e: unknown) => e instanceof ConfigError && /already registered/.test(e.message),
  );
  assert.throws(
    () => registerModel('resnet-18', () => new UserNet(4, 2)),
    (e: unknown) => e instanceof ConfigError && /already built by the registered model 'resnet-<depth>'/.test(e.message),
  );
  assert.throws(() => registerModel('no-factory', undefined as never), /factory must be a function/);
  registerModel('a.b', () => new UserNet(4, 2));
  assert.throws(
    () => createModel('axb', { inChannels: 1, numClasses: 2, imageSize: 2 }),
    /unknown model 'axb'/,
    'the name is matched literally, not as a pattern',
  );
});
