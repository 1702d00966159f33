import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Module, Sequential, Conv2d, Linear, BatchNorm2d, BatchNorm1d, ReLU, Flatten } from '../../src/nn/index.js';
import type { Tensor } from '../../src/tensor/index.js';
import { prunableParameters } from '../../src/prune/index.js';
import { ConfigError } from '../../src/util/errors.js';

const names = (m: Module, opts = {}): string[] => prunableParameters(m, opts).map(([n]) => n);

function convNet(): Sequential {
  return new Sequential(
    new Conv2d(1, 2, 3),
    new BatchNorm2d(2),
    new ReLU(),
    new Flatten(),
    new Linear(18, 4),
    new BatchNorm1d(4),
    new Linear(4, 3),
  );
}

/** Two convs whose names share a prefix that is not a module boundary ('conv' / 'conv2'). */
class PrefixNet extends Module {
  conv = this.registerModule('conv', new Conv2d(1, 1, 1));
  conv2 = this.registerModule('conv2', new Conv2d(1, 1, 1));
  block = this.registerModule('block', new Sequential(new Conv2d(1, 1, 1), new Sequential(new Conv2d(1, 1, 1))));
  fc = this.registerModule('fc', new Linear(1, 1));
  forward(x: Tensor): Tensor {
    return x;
  }
}

test('Conv2d and Linear weights in model order; biases and batch norm never', () => {
  const net = convNet();
  assert.deepEqual(names(net), ['0.weight', '4.weight', '6.weight']);
  const [[, w]] = prunableParameters(net);
  assert.equal(w, (net.at(0) as Conv2d).weight, 'the live parameter, not a copy');
  net.dispose();
});

test('first and last layer included by default, dropped on request', () => {
  const net = convNet();
  assert.deepEqual(names(net, { includeFirst: false }), ['4.weight', '6.weight']);
  assert.deepEqual(names(net, { includeLast: false }), ['0.weight', '4.weight']);
  assert.deepEqual(names(net, { includeFirst: false, includeLast: false }), ['4.weight']);
  net.dispose();
});

test('exclude by exact parameter name or by module-name prefix at a dot boundary', () => {
  const net = new PrefixNet();
  assert.deepEqual(names(net), ['conv.weight', 'conv2.weight', 'block.0.weight', 'block.1.0.weight', 'fc.weight']);
  assert.deepEqual(names(net, { exclude: ['conv'] }), ['conv2.weight', 'block.0.weight', 'block.1.0.weight', 'fc.weight']);
  assert.deepEqual(names(net, { exclude: ['conv2.weight'] }), ['conv.weight', 'block.0.weight', 'block.1.0.weight', 'fc.weight']);
  assert.deepEqual(names(net, { exclude: ['block'] }), ['conv.weight', 'conv2.weight', 'fc.weight']);
  assert.deepEqual(names(net, { exclude: ['block.1'] }), ['conv.weight', 'conv2.weight', 'block.0.weight', 'fc.weight']);
  net.dispose();
});

test('an exclude entry that matches nothing is a ConfigError naming it', () => {
  const net = new PrefixNet();
  for (const bad of ['con', 'conv.bias', 'nope', 'block.2']) {
    assert.throws(
      () => prunableParameters(net, { exclude: ['conv', bad] }),
      (e: unknown) =>
        e instanceof ConfigError && e.path === 'pruning.exclude' && e.message.includes(`'${bad}'`) && e.message.includes('conv.weight'),
    );
  }
  net.dispose();
});

test('exclude matching the first layer is accepted even when includeFirst is false', () => {
  const net = convNet();
  assert.deepEqual(names(net, { includeFirst: false, exclude: ['0'] }), ['4.weight', '6.weight']);
  net.dispose();
});
