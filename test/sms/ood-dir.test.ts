// evaluation.oodDir: published corruption files (CIFAR-10-C layout) instead of
// generated corruptions; a missing or mis-shaped file is named before training.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNpyFile } from '../../src/data/npy.js';
import { parseSmsConfig } from '../../src/sms/config.js';
import { experimentData } from '../../src/sms/context.js';
import { DataFormatError } from '../../src/util/errors.js';
import { TINY_CLASSES, TINY_IMAGE_SIZE, tinyRunConfig } from '../helpers/tiny-run.js';

const N = 20; // images per severity
const S = TINY_IMAGE_SIZE;

/** A corruption file whose severity s has every pixel of image i equal to 10·s + i, and N labels i mod classes. */
function writeCorruption(dir: string, name: string, shape = [5 * N, S, S, 1]): void {
  const data = new Uint8Array(shape.reduce((a, b) => a * b, 1));
  const perImage = S * S;
  for (let s = 0; s < 5; s++) for (let i = 0; i < N; i++) data.fill(10 * (s + 1) + i, (s * N + i) * perImage, (s * N + i + 1) * perImage);
  writeNpyFile(join(dir, `${name}.npy`), { dtype: '|u1', shape, data });
  writeNpyFile(join(dir, 'labels.npy'), { dtype: '|u1', shape: [N], data: Uint8Array.from({ length: N }, (_, i) => i % TINY_CLASSES) });
}

const configFor = (oodDir: string, corruptions: string[]) =>
  parseSmsConfig(tinyRunConfig({ name: 'ood-dir', evaluation: { oodDir, oodCorruptions: corruptions, oodSeverities: [1, 5], oodSubset: null } }));

test('oodDir: each (corruption, severity) is that slice of the file, with its labels', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ood-dir-'));
  writeCorruption(dir, 'fog');
  const sets = experimentData(configFor(dir, ['fog'])).ood();
  assert.deepEqual(sets.map((o) => [o.corruption, o.severity, o.dataset.labels.length]), [['fog', 1, N], ['fog', 5, N]]);
  assert.equal(sets[0].dataset.images[0], 10, 'severity 1, image 0');
  assert.equal(sets[1].dataset.images[3 * S * S], 50 + 3, 'severity 5, image 3');
  assert.deepEqual([...sets[1].dataset.labels.slice(0, 12)], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
  assert.deepEqual(sets[0].dataset.imageShape, [1, S, S]);
});

test('oodDir: a missing corruption file or one of the wrong image size is named when the data is loaded, before training', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ood-dir-'));
  writeCorruption(dir, 'fog');
  assert.throws(() => experimentData(configFor(dir, ['fog', 'snow'])), (e: unknown) => e instanceof DataFormatError && e.file === join(dir, 'snow.npy'));
  const wrong = mkdtempSync(join(tmpdir(), 'ood-dir-'));
  writeCorruption(wrong, 'fog', [5 * N, 32, 32, 3]);
  assert.throws(
    () => experimentData(configFor(wrong, ['fog'])),
    (e: unknown) => e instanceof DataFormatError && e.file === join(wrong, 'fog.npy') && /expected shape \(N, 28, 28, 1\).*found \(100, 32, 32, 3\)/.test(e.message),
  );
});
