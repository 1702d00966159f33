// Rng: a seed that is not a finite number is refused with a ConfigError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/util/rng.js';
import { ConfigError } from '../../src/util/errors.js';

test('Rng refuses a seed that is not a finite number', () => {
  for (const seed of [NaN, Infinity, -Infinity]) {
    assert.throws(
      () => new Rng(seed),
      (e: unknown) => e instanceof ConfigError && e.path === 'Rng(seed)' && e.message === `Rng(seed): must be a finite number, got ${seed}`,
    );
  }
  assert.deepEqual([...new Rng(-7.5).permutation(4)].sort(), [0, 1, 2, 3]);
});
