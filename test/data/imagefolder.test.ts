import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { ConfigError, DataFormatError } from '../../src/util/errors.js';
import { expectFormatError, scratchDir } from '../helpers/data-files.js';
import {
  findImageFolderCache,
  getDatasetDefinition,
  IMAGE_FOLDER_CACHE_FOLDER,
  imageFolderCacheKey,
  imageFolderCacheRoots,
  imageFolderDecodeCount,
  listImageFolder,
  loadDataset,
  loadDatasetSplit,
  prepareDataset,
  prepareImageFolder,
  resolveImageFolderOptions,
  rgbToChw,
  type DatasetLoadOptions,
  type ImageDataset,
} from '../../src/data/index.js';
import { loaderFlags } from '../../src/data/imagefolder-load.js';
import { parseSmsConfig } from '../../src/sms/config.js';
import { runSms } from '../../src/sms/pipeline.js';
import { tinyRunConfig } from '../helpers/tiny-run.js';

const root = scratchDir('imagefolder');
let folders = 0;

/** A fresh, empty folder under the scratch dir. */
function freshDir(name: string): string {
  const dir = join(root, `${name}-${folders++}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

type Rgb = readonly [number, number, number];

/** Writes a width×height image of one colour, in `format`, with 1-4 channels (gray, gray+alpha, RGB, RGBA) or 16 bits. */
async function writeSolid(
  file: string,
  width: number,
  height: number,
  colour: Rgb,
  kind: 'png' | 'jpeg' | 'gray' | 'gray-alpha' | 'rgba' | 'png16' = 'png',
): Promise<void> {
  mkdirSync(join(file, '..'), { recursive: true });
  const [r, g, b] = colour;
  const rgb = sharp({ create: { width, height, channels: 3, background: { r, g, b } } });
  if (kind === 'jpeg') await rgb.jpeg({ quality: 95 }).toFile(file);
  else if (kind === 'png') await rgb.png().toFile(file);
  else if (kind === 'png16') await rgb.toColourspace('rgb16').png().toFile(file);
  else if (kind === 'rgba')
    await sharp({ create: { width, height, channels: 4, background: { r, g, b, alpha: 0.5 } } })
      .png()
      .toFile(file);
  else {
    // Gray sources hold the red value; gray-alpha adds a half-transparent alpha channel.
    const channels = kind === 'gray' ? 1 : 2;
    const pixels = Buffer.alloc(width * height * channels, r);
    if (channels === 2) for (let p = 1; p < pixels.length; p += 2) pixels[p] = 128;
    await sharp(pixels, { raw: { width, height, channels } }).png().toFile(file);
  }
}

/** Writes a gray image from a function of (x, y). */
async function writePattern(file: string, width: number, height: number, value: (x: number, y: number) => number): Promise<void> {
  mkdirSync(join(file, '..'), { recursive: true });
  const pixels = Buffer.alloc(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) pixels[y * width + x] = value(x, y);
  await sharp(pixels, { raw: { width, height, channels: 1 } })
    .png()
    .toFile(file);
}

const RED: Rgb = [255, 0, 0];
const GREEN: Rgb = [0, 255, 0];
const BLUE: Rgb = [0, 0, 255];

/**
 * Three classes, created out of order, one colour each: a_cat red PNGs (RGB, RGBA, 16-bit),
 * b_dog green JPEGs, c_bird gray sources (1 and 2 channels, value 90); sizes differ. Beside them
 * a text file and a hidden folder, which are not images.
 */
async function writeColourFolder(): Promise<string> {
  const dir = freshDir('colours');
  for (const split of ['train', 'test'] as const) {
    const s = join(dir, split);
    await writeSolid(join(s, 'c_bird', '1.png'), 20, 30, [90, 90, 90], 'gray');
    await writeSolid(join(s, 'b_dog', '1.jpg'), 40, 24, GREEN, 'jpeg');
    await writeSolid(join(s, 'a_cat', '1.png'), 16, 16, RED);
    if (split === 'train') {
      await writeSolid(join(s, 'c_bird', '0.png'), 33, 17, [90, 90, 90], 'gray-alpha');
      await writeSolid(join(s, 'b_dog', 'sub', '2.JPEG'), 64, 64, GREEN, 'jpeg');
      await writeSolid(join(s, 'a_cat', '0.png'), 50, 20, RED, 'rgba');
      await writeSolid(join(s, 'a_cat', '2.png'), 8, 12, RED, 'png16');
      writeFileSync(join(s, 'a_cat', 'notes.txt'), 'not an image');
      await writeSolid(join(s, 'a_cat', '.hidden', '9.png'), 8, 8, BLUE);
    }
  }
  return dir;
}

const quiet = { log: (): void => {} };

/** The pixel (c, y, x) of image i. */
function pixel(d: ImageDataset, i: number, c: number, y: number, x: number): number {
  const [channels, height, width] = d.imageShape;
  return d.images[((i * channels + c) * height + y) * width + x];
}

/** Every pixel of image i in channel c is within `tolerance` of `value`. */
function assertPlane(d: ImageDataset, i: number, c: number, value: number, tolerance = 0): void {
  const [, height, width] = d.imageShape;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = pixel(d, i, c, y, x);
      assert.ok(Math.abs(v - value) <= tolerance, `image ${i} channel ${c} (${y}, ${x}) is ${v}, expected ${value} ± ${tolerance}`);
    }
  }
}

async function load(dir: string, options: DatasetLoadOptions = {}): Promise<{ train: ImageDataset; test: ImageDataset }> {
  await prepareDataset('imagefolder', { dir, ...options }, quiet);
  return loadDataset('imagefolder', { dir, ...options });
}

test('imagefolder is registered; its options are checked and other datasets refuse them', () => {
  const definition = getDatasetDefinition('imagefolder');
  assert.equal(definition.info, null);
  assert.equal(definition.defaultDir, null);
  assert.deepEqual(resolveImageFolderOptions({}), { imageSize: 32, resize: 'center-crop', channels: 3, skipUnreadable: false });
  const bad: [DatasetLoadOptions, RegExp][] = [
    [{ imageSize: 0 }, /^data\.imageSize: expected an integer 1\.\.1024, got 0/],
    [{ imageSize: 2.5 }, /^data\.imageSize/],
    [{ channels: 2 as 1 }, /^data\.channels: expected 1 \(grayscale\) or 3 \(RGB\), got 2/],
    [{ resize: 'crop' as 'resize' }, /^data\.resize: expected 'resize' or 'center-crop', got "crop"/],
  ];
  for (const [options, pattern] of bad)
    assert.throws(
      () => resolveImageFolderOptions(options),
      (e: unknown) => e instanceof ConfigError && pattern.test(e.message),
    );
  assert.throws(
    () => loadDatasetSplit('npy', 'test', { dir: root, imageSize: 16 }),
    (e: unknown) =>
      e instanceof ConfigError && /^data\.imageSize: dataset 'npy' does not take imageSize \(only imagefolder does\)/.test(e.message),
  );
  assert.throws(
    () => loadDataset('imagefolder', {}),
    (e: unknown) => e instanceof ConfigError && /^data\.dir: dataset 'imagefolder' needs a directory/.test(e.message),
  );
});

test('classes are the sorted folder names; shapes, labels and colours of PNG and JPEG, 1-4 channels and 16 bits', async () => {
  const dir = await writeColourFolder();
  const listing = listImageFolder(dir);
  assert.deepEqual(listing.classNames, ['a_cat', 'b_dog', 'c_bird']);
  assert.deepEqual(
    listing.splits.train.files.map((f) => f.path),
    ['a_cat/0.png', 'a_cat/1.png', 'a_cat/2.png', 'b_dog/1.jpg', 'b_dog/sub/2.JPEG', 'c_bird/0.png', 'c_bird/1.png'],
  );

  const { train, test: testSet } = await load(dir, { imageSize: 16 });
  assert.equal(train.name, 'imagefolder');
  assert.deepEqual(train.imageShape, [3, 16, 16]);
  assert.deepEqual(train.classNames, ['a_cat', 'b_dog', 'c_bird']);
  assert.equal(train.numClasses, 3);
  assert.deepEqual([...train.labels], [0, 0, 0, 1, 1, 2, 2]);
  assert.deepEqual([...testSet.labels], [0, 1, 2]);
  assert.deepEqual(testSet.classNames, train.classNames);
  // Red (RGBA: alpha dropped, 16 bit: scaled to 8), green JPEG (lossy), gray in all three channels.
  for (const i of [0, 1, 2]) RED.forEach((v, c) => assertPlane(train, i, c, v));
  for (const i of [3, 4]) GREEN.forEach((v, c) => assertPlane(train, i, c, v, 3));
  for (const i of [5, 6]) for (const c of [0, 1, 2]) assertPlane(train, i, c, 90);
  // The per-channel mean of the training images: three red, two green, two gray.
  const expectedMean = [(3 * 255 + 2 * 90) / 7 / 255, (2 * 255 + 2 * 90) / 7 / 255, (2 * 90) / 7 / 255];
  train.mean.forEach((m, c) => assert.ok(Math.abs(m - expectedMean[c]) < 0.01, `mean[${c}] ${m}, expected ${expectedMean[c]}`));
  assert.deepEqual(testSet.mean, train.mean);
});

test('grayscale: PIL luma of RGB, gray sources kept', async () => {
  const dir = freshDir('gray');
  for (const split of ['train', 'test']) {
    await writeSolid(join(dir, split, 'a', 'red.png'), 10, 10, RED);
    await writeSolid(join(dir, split, 'b', 'green.png'), 10, 10, GREEN);
    await writeSolid(join(dir, split, 'c', 'blue.png'), 10, 10, BLUE);
    await writeSolid(join(dir, split, 'd', 'gray.png'), 10, 10, [123, 0, 0], 'gray');
  }
  const { train } = await load(dir, { imageSize: 4, channels: 1 });
  assert.deepEqual(train.imageShape, [1, 4, 4]);
  assert.equal(train.mean.length, 1);
  // PIL's convert('L'): (19595 R + 38470 G + 7471 B + 2^15) >> 16.
  [76, 150, 29, 123].forEach((value, i) => assertPlane(train, i, 0, value));
  assert.deepEqual([...rgbToChw(new Uint8Array([255, 0, 0, 10, 20, 30]), 2, 3)], [255, 10, 0, 20, 0, 30]);
});

test("'center-crop' scales the shorter side and crops the centre; 'resize' squeezes the whole image", async () => {
  const dir = freshDir('pattern');
  // 64x32: four vertical stripes 16 pixels wide. Scaled to 32x16 they are 8 wide, and the centre
  // 16 columns are stripes 2 and 3; squeezed to 16x16 all four are there, 4 wide. A 32x64 image of
  // horizontal stripes checks rows the same way.
  const stripes = [10, 80, 160, 240];
  for (const split of ['train', 'test']) {
    await writePattern(join(dir, split, 'p', 'a-wide.png'), 64, 32, (x) => stripes[Math.floor(x / 16)]);
    await writePattern(join(dir, split, 'p', 'b-tall.png'), 32, 64, (_, y) => stripes[Math.floor(y / 16)]);
  }
  const cropped = (await load(dir, { imageSize: 16, resize: 'center-crop', channels: 1 })).train;
  const squeezed = (await load(dir, { imageSize: 16, resize: 'resize', channels: 1 })).train;
  const near = (actual: number, expected: number, where: string): void =>
    assert.ok(Math.abs(actual - expected) <= 2, `${where}: ${actual}, expected ${expected}`);
  for (let t = 0; t < 16; t++) {
    // Away from the stripe edges, where bilinear scaling mixes neighbours.
    for (const [at, stripe] of [
      [2, 1],
      [5, 1],
      [10, 2],
      [13, 2],
    ]) {
      near(pixel(cropped, 0, 0, t, at), stripes[stripe], `crop, wide, row ${t} column ${at}`);
      near(pixel(cropped, 1, 0, at, t), stripes[stripe], `crop, tall, row ${at} column ${t}`);
    }
    for (const [at, stripe] of [
      [1, 0],
      [2, 0],
      [5, 1],
      [6, 1],
      [9, 2],
      [10, 2],
      [13, 3],
      [14, 3],
    ]) {
      near(pixel(squeezed, 0, 0, t, at), stripes[stripe], `resize, wide, row ${t} column ${at}`);
      near(pixel(squeezed, 1, 0, at, t), stripes[stripe], `resize, tall, row ${at} column ${t}`);
    }
  }
});

test('the cache: a second prepare and load decode nothing; other options or a touched file decode again', async () => {
  const dir = await writeColourFolder();
  const lines: string[] = [];
  const log = (line: string): void => void lines.push(line);
  const before = imageFolderDecodeCount();
  const first = await prepareImageFolder(dir, resolveImageFolderOptions({ imageSize: 8 }), { log, progressIntervalMs: 0, concurrency: 2 });
  assert.equal(first.decoded, 10);
  assert.equal(imageFolderDecodeCount() - before, 10);
  assert.ok(first.entry.startsWith(join(dir, IMAGE_FOLDER_CACHE_FOLDER)), first.entry);
  assert.match(lines[0], /^imagefolder: decoding 10 images of .* \(8x8 RGB, center-crop\) into a cache$/);
  assert.ok(
    lines.some((l) => /^imagefolder: \d+ \/ 10 images \(\d+%\)/.test(l)),
    'progress lines',
  );
  assert.match(lines.at(-1)!, /^imagefolder: decoded 10 images in [\d.]+ s; cache /);
  assert.deepEqual(readdirSync(first.entry).sort(), [
    'manifest.json',
    'test_images.npy',
    'test_labels.npy',
    'train_images.npy',
    'train_labels.npy',
  ]);

  const counted = imageFolderDecodeCount();
  const again = await prepareImageFolder(dir, resolveImageFolderOptions({ imageSize: 8 }), { log });
  assert.deepEqual([again.decoded, again.entry], [0, first.entry]);
  const { train } = loadDataset('imagefolder', { dir, imageSize: 8 });
  assert.equal(imageFolderDecodeCount(), counted, 'no decoding for a cached load');
  assert.deepEqual(train.imageShape, [3, 8, 8]);

  await prepareDataset('imagefolder', { dir, imageSize: 8, channels: 1 }, quiet);
  assert.equal(imageFolderDecodeCount(), counted + 10, 'other options: another cache entry');
  const future = new Date(Date.now() + 60_000);
  utimesSync(join(dir, 'test', 'a_cat', '1.png'), future, future);
  const touched = await prepareImageFolder(dir, resolveImageFolderOptions({ imageSize: 8 }), quiet);
  assert.equal(touched.decoded, 10);
  assert.notEqual(touched.entry, first.entry);
});

test('without a cache the synchronous load decodes in a child process', async () => {
  const dir = freshDir('sync');
  for (const split of ['train', 'test']) {
    await writeSolid(join(dir, split, 'x', '1.png'), 12, 12, RED);
    await writeSolid(join(dir, split, 'y', '1.png'), 12, 12, BLUE);
  }
  // The child gets the module loaders (tsx) and nothing else of this process's flags.
  assert.deepEqual(loaderFlags(['--import', 'tsx', '--test-concurrency=1', '--import=x', '-r', 'y', '--inspect']), [
    '--import',
    'tsx',
    '--import=x',
    '-r',
    'y',
  ]);
  const key = imageFolderCacheKey(listImageFolder(dir), resolveImageFolderOptions({ imageSize: 4 }));
  assert.equal(findImageFolderCache(dir, key), null);
  const counted = imageFolderDecodeCount();
  const train = loadDatasetSplit('imagefolder', 'train', { dir, imageSize: 4 });
  assert.equal(imageFolderDecodeCount(), counted, 'decoded in another process');
  assert.notEqual(findImageFolderCache(dir, key), null);
  assert.deepEqual([...train.labels], [0, 1]);
  BLUE.forEach((v, c) => assertPlane(train, 1, c, v));
  // Its errors come back typed.
  writeFileSync(join(dir, 'train', 'x', 'broken.png'), 'not a png');
  expectFormatError(
    () => loadDatasetSplit('imagefolder', 'train', { dir, imageSize: 4 }),
    join(dir, 'train', 'x', 'broken.png'),
    /class 'x'/,
  );
});

test('a folder where the cache cannot be written caches under the temp dir and says so', async () => {
  const dir = freshDir('readonly');
  for (const split of ['train', 'test']) await writeSolid(join(dir, split, 'only', '1.png'), 12, 12, GREEN);
  writeFileSync(join(dir, IMAGE_FOLDER_CACHE_FOLDER), 'a file where the cache folder would go');
  const tempRoot = imageFolderCacheRoots(dir)[1];
  try {
    const lines: string[] = [];
    const r = await prepareImageFolder(dir, resolveImageFolderOptions({}), { log: (l) => void lines.push(l) });
    assert.ok(r.entry.startsWith(tempRoot), r.entry);
    assert.match(lines.at(-1)!, /cannot be written beside the images .*so it is under the temp dir/);
    const counted = imageFolderDecodeCount();
    assert.deepEqual(loadDataset('imagefolder', { dir }).test.imageShape, [3, 32, 32]);
    assert.equal(imageFolderDecodeCount(), counted);
  } finally {
    rmSync(tempRoot, { recursive: true, force: true });
  }
});

test('an unreadable image is a DataFormatError naming it and its class, or skipped and counted', async () => {
  const dir = freshDir('corrupt');
  for (const split of ['train', 'test']) {
    for (let i = 0; i < 3; i++) await writeSolid(join(dir, split, 'good', `${i}.png`), 10, 10, RED);
    await writeSolid(join(dir, split, 'mixed', '0.png'), 10, 10, BLUE);
  }
  const garbage = join(dir, 'train', 'mixed', '1-garbage.png');
  writeFileSync(garbage, Buffer.from('this is not a png at all'));
  const full = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 1, g: 2, b: 3 } } })
    .jpeg()
    .toBuffer();
  writeFileSync(join(dir, 'train', 'mixed', '2-truncated.jpg'), full.subarray(0, full.length / 2));

  await assert.rejects(prepareDataset('imagefolder', { dir }, quiet), (e: unknown) => {
    assert.ok(e instanceof DataFormatError, String(e));
    assert.equal(e.file, garbage); // the first failing file in listing order
    assert.match(
      e.problem,
      /cannot decode image .*; an image of class 'mixed' \(folder train\/mixed\/\): replace or remove it, or set data\.skipUnreadable: true/,
    );
    return true;
  });
  const lines: string[] = [];
  await prepareDataset('imagefolder', { dir, skipUnreadable: true }, { log: (l) => void lines.push(l) });
  const warning = lines.find((l) => l.includes('skipped'));
  assert.equal(
    warning,
    `imagefolder: warning: skipped 2 unreadable images of ${dir}: train/mixed/1-garbage.png, train/mixed/2-truncated.jpg`,
  );
  const { train, test: testSet } = loadDataset('imagefolder', { dir, skipUnreadable: true });
  assert.deepEqual([...train.labels], [0, 0, 0, 1]);
  assert.equal(testSet.labels.length, 4);
  BLUE.forEach((v, c) => assertPlane(train, 3, c, v));
});

test('folder problems: empty class folders warn; no classes, no images, no test/ or other test classes are errors naming the folder', async () => {
  const dir = freshDir('empty-class');
  for (const split of ['train', 'test']) {
    await writeSolid(join(dir, split, 'full', '1.png'), 10, 10, RED);
    mkdirSync(join(dir, split, 'hollow'), { recursive: true });
  }
  const lines: string[] = [];
  await prepareDataset('imagefolder', { dir }, { log: (l) => void lines.push(l) });
  assert.ok(lines.includes(`imagefolder: warning: ${join(dir, 'train')}: no images in class folder hollow`), lines.join('\n'));
  const { train } = loadDataset('imagefolder', { dir });
  assert.deepEqual([train.numClasses, [...train.labels]], [2, [0]]);

  const noClasses = freshDir('no-classes');
  mkdirSync(join(noClasses, 'train'));
  mkdirSync(join(noClasses, 'test'));
  expectFormatError(() => listImageFolder(noClasses), join(noClasses, 'train'), /^no class folders/);

  const noImages = freshDir('no-images');
  for (const split of ['train', 'test']) {
    mkdirSync(join(noImages, split, 'a'), { recursive: true });
    writeFileSync(join(noImages, split, 'a', 'readme.txt'), 'x');
  }
  expectFormatError(
    () => listImageFolder(noImages),
    join(noImages, 'train'),
    /^no images \(\.png, \.jpg, \.jpeg\) in any of its 1 class folders/,
  );

  const noTest = freshDir('no-test');
  await writeSolid(join(noTest, 'train', 'a', '1.png'), 4, 4, RED);
  expectFormatError(() => listImageFolder(noTest), join(noTest, 'test'), /^split folder not found/);
  expectFormatError(() => listImageFolder(join(root, 'missing')), join(root, 'missing'), /^directory not found/);

  const mismatch = freshDir('mismatch');
  for (const [split, cls] of [
    ['train', 'a'],
    ['train', 'b'],
    ['train', 'c'],
    ['test', 'a'],
    ['test', 'd'],
  ])
    await writeSolid(join(mismatch, split, cls, '1.png'), 4, 4, RED);
  expectFormatError(
    () => loadDataset('imagefolder', { dir: mismatch }),
    join(mismatch, 'test'),
    /^class folders differ from .*train \(only in train\/: b, c; only in test\/: d\); train\/ and test\/ need the same class folders$/,
  );
});

test('a tiny SMS run on an image folder', async () => {
  const dir = freshDir('tiny-run');
  const colours: Rgb[] = [RED, GREEN, BLUE];
  for (const [split, perClass] of [
    ['train', 20],
    ['test', 4],
  ] as const) {
    for (const [k, colour] of colours.entries()) {
      for (let i = 0; i < perClass; i++) {
        // Each class its colour, dimmed a little per image, at sizes between 12 and 31 pixels.
        const dim = 1 - i / 40;
        await writeSolid(
          join(dir, split, `class-${k}`, `${i}.png`),
          12 + i,
          31 - i,
          colour.map((v) => Math.round(v * dim)) as unknown as Rgb,
        );
      }
    }
  }
  const config = parseSmsConfig(tinyRunConfig({ name: 'test-imagefolder', data: { dataset: 'imagefolder', dir, imageSize: 16 } }));
  const workDir = freshDir('tiny-run-work');
  const results = await runSms(config, { workDir });
  assert.equal(results.phases.length, 2);
  const soup = results.phases.at(-1)!.soups.uniform.metrics;
  assert.ok(soup.testAccuracy >= 0 && soup.testAccuracy <= 1);
  assert.ok(existsSync(join(dir, IMAGE_FOLDER_CACHE_FOLDER)), 'runSms prepared the cache');
});
