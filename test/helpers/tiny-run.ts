/**
 * The tiny SMS run of the pipeline tests, on data that needs no download: a
 * synthetic `npy` dataset (10 classes of 28x28 grayscale images, each class a
 * faint bar at its own place over noise: a small MLP learns it in an epoch
 * to about 90% test accuracy, so metrics are neither chance nor perfect) and
 * the config of a tiny run on it, as `parseSmsConfig` takes it.
 *
 * The dataset is written once per process into a temp directory, removed
 * when the process exits. Its images are a pure function of the constants
 * below, so every process (coordinators, workers, children) sees the same.
 *
 * @example
 * const config = parseSmsConfig(tinyRunConfig({ name: 'test-gmp', pruning: { variant: 'gmp' } }));
 * await runSms(config, { workDir });
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNpyFile } from '../../src/data/npy.js';
import type { SmsConfigInput } from '../../src/sms/config.js';

export const TINY_TRAIN_IMAGES = 600;
export const TINY_TEST_IMAGES = 100;
export const TINY_CLASSES = 10;
export const TINY_IMAGE_SIZE = 28;
const TRAIN_SEED = 1;
const TEST_SEED = 2;

/** A partial config: objects are merged key by key, arrays and values replace. */
export type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/** mulberry32: a small seeded generator, uniform in [0, 1). */
function uniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` images (count, 28, 28) uint8 and their labels, classes in turn.
 * Class k < 5 is a horizontal bar (4 by 20 pixels) in band k, class k >= 5 a
 * vertical bar in band k - 5; each image shifts its bar by up to ±2 pixels
 * across and 0-7 along, and adds 35-85 to noise uniform in 0-150, so
 * neighbouring classes overlap.
 */
export function tinyImages(count: number, seed: number): { images: Uint8Array; labels: Uint8Array } {
  const size = TINY_IMAGE_SIZE;
  const rand = uniform(seed);
  const images = new Uint8Array(count * size * size);
  const labels = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    const label = n % TINY_CLASSES;
    labels[n] = label;
    const band = label % 5;
    const vertical = label >= 5;
    const start = 2 + band * 5 + Math.floor(rand() * 5) - 2; // a 4-pixel bar starting at 2, 7, .., 22 (±2)
    const along = Math.floor(rand() * 8); // where the bar begins along its length
    const brightness = 35 + rand() * 50;
    const image = images.subarray(n * size * size, (n + 1) * size * size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const [across, length] = vertical ? [x, y] : [y, x];
        const onBar = across >= start && across < start + 4 && length >= along && length < along + 20;
        image[y * size + x] = Math.round(Math.min(255, rand() * 150 + (onBar ? brightness : 0)));
      }
    }
  }
  return { images, labels };
}

let datasetDir: string | null = null;

/**
 * The directory of the tiny npy dataset (`dataset: npy`, `dir:`): train and
 * test images and labels and classes.txt, written on the first call.
 */
export function tinyDatasetDir(): string {
  if (datasetDir !== null) return datasetDir;
  const dir = mkdtempSync(join(tmpdir(), 'sparse-soups-tiny-npy-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const size = TINY_IMAGE_SIZE;
  for (const [split, count, seed] of [
    ['train', TINY_TRAIN_IMAGES, TRAIN_SEED],
    ['test', TINY_TEST_IMAGES, TEST_SEED],
  ] as const) {
    const { images, labels } = tinyImages(count, seed);
    writeNpyFile(join(dir, `${split}_images.npy`), { dtype: '|u1', shape: [count, size, size], data: images });
    writeNpyFile(join(dir, `${split}_labels.npy`), { dtype: '|u1', shape: [count], data: labels });
  }
  const names = Array.from({ length: TINY_CLASSES }, (_, k) => `${k < 5 ? 'row' : 'column'} ${k % 5}`);
  writeFileSync(join(dir, 'classes.txt'), `${names.join('\n')}\n`);
  datasetDir = dir;
  return dir;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** `base` with `overrides` merged in: nested objects key by key, everything else (arrays too) replaced; undefined leaves a key as it is. */
export function deepMerge<T>(base: T, overrides: DeepPartial<T>): T {
  if (!isPlainObject(base) || !isPlainObject(overrides)) return overrides as T;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    merged[key] = key in merged && isPlainObject(merged[key]) && isPlainObject(value) ? deepMerge(merged[key], value) : value;
  }
  return merged as T;
}

/**
 * The raw config of a tiny SMS run on the tiny dataset, with `overrides`
 * merged in: an MLP with one hidden layer of 32, one dense epoch, 2 phases to
 * 75% sparsity, 2 candidates of one retraining epoch, one OOD corruption, no
 * baselines. A run takes a second or two on one thread.
 */
export function tinyRunConfig(overrides: DeepPartial<SmsConfigInput> = {}): SmsConfigInput {
  const base: SmsConfigInput = {
    name: 'test-tiny',
    seed: 5,
    data: { dataset: 'npy', dir: tinyDatasetDir(), batchSize: 32 },
    model: { name: 'mlp', options: { hiddenSizes: [32] } },
    dense: { epochs: 1, maxLr: 0.05 },
    pruning: { goalSparsity: 0.75, phases: 2 },
    retrain: { epochs: 1 },
    candidates: { count: 2 },
    evaluation: { oodCorruptions: ['gaussian_noise'], oodSeverities: [3], oodSubset: TINY_TEST_IMAGES },
    baselines: { imp: false, impLonger: false, ensemble: false },
  };
  return deepMerge<SmsConfigInput>(base, overrides);
}
