import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/util/rng.js';
import { ConfigError, TensorError } from '../../src/util/errors.js';
import {
  CORRUPTION_NAMES,
  CORRUPTIONS,
  corrupt,
  corruptDataset,
  fullOodSet,
  getCorruption,
  imageStreamSeed,
  jpegRoundTrip,
  pixelScale,
  validateOodSet,
  type ImageShape,
} from '../../src/data/corruptions/index.js';
import { rgbToHsv, hsvToRgb } from '../../src/data/corruptions/color.js';
import { scaledQuantTable, IJG_LUMINANCE_TABLE } from '../../src/data/corruptions/jpeg.js';
import { clippedZoomCoordinates, boxResizePlane } from '../../src/data/corruptions/resample.js';
import { motionKernel } from '../../src/data/corruptions/motion-kernel.js';
import { defocusKernel } from '../../src/data/corruptions/blur.js';
import { plasmaFractal } from '../../src/data/corruptions/plasma.js';
import { borderIndex } from '../../src/data/corruptions/filters.js';

const RGB32: ImageShape = { channels: 3, height: 32, width: 32 };
const GRAY28: ImageShape = { channels: 1, height: 28, width: 28 };
const RGB_WIDE: ImageShape = { channels: 3, height: 20, width: 36 };
const SHAPES = [RGB32, GRAY28, RGB_WIDE];

/** A smooth image: slow gradients and sinusoids per channel, in [0.15, 0.85]. */
function smoothImage(shape: ImageShape): Float32Array {
  const { channels, height, width } = shape;
  const out = new Float32Array(channels * height * width);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const v = 0.5 + 0.2 * Math.sin(x / 4 + c) * Math.cos(y / 5 - c) + 0.15 * ((x + y) / (width + height) - 0.5);
        out[(c * height + y) * width + x] = v;
      }
    }
  }
  return out;
}

/**
 * A random natural-like image: a smooth coloured background, a few
 * sharp-edged discs and rectangles (objects), and mild texture noise.
 */
function naturalImage(shape: ImageShape, seed: number): Float32Array {
  const { channels, height, width } = shape;
  const rng = new Rng(seed);
  const pixels = height * width;
  const out = new Float32Array(channels * pixels);
  const base = Array.from({ length: channels }, () => rng.uniformRange(0.2, 0.6));
  const gx = rng.uniformRange(-0.3, 0.3);
  const gy = rng.uniformRange(-0.3, 0.3);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) out[c * pixels + y * width + x] = base[c] + (gx * x) / width + (gy * y) / height;
    }
  }
  for (let k = 0; k < 5; k++) {
    const colour = Array.from({ length: channels }, () => rng.uniform());
    const cx = rng.uniformRange(0, width);
    const cy = rng.uniformRange(0, height);
    const r = rng.uniformRange(2, Math.min(height, width) / 3);
    const disc = k % 2 === 0;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const inside = disc ? (x - cx) ** 2 + (y - cy) ** 2 <= r * r : Math.abs(x - cx) <= r && Math.abs(y - cy) <= r / 2;
        if (inside) for (let c = 0; c < channels; c++) out[c * pixels + y * width + x] = colour[c];
      }
    }
  }
  for (let i = 0; i < out.length; i++) out[i] = Math.min(Math.max(out[i] + rng.normal(0, 0.03), 0), 1);
  return out;
}

function meanAbsDiff(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

function distortionBySeverity(name: string, image: Float32Array, shape: ImageShape, seed: number): number[] {
  return [1, 2, 3, 4, 5].map((s) => meanAbsDiff(corrupt(name, image, shape, s, new Rng(seed)), image));
}

test('registry: the 15 CIFAR-10-C names, 5 parameter sets each, frost marked as substitute', () => {
  assert.equal(CORRUPTION_NAMES.length, 15);
  for (const name of CORRUPTION_NAMES) {
    const c = CORRUPTIONS[name];
    assert.equal(c.name, name);
    assert.equal(c.paramsBySeverity.length, 5);
    assert.ok(c.description.length > 10);
    assert.equal(c.matchesPublished, name !== 'frost', name);
  }
  assert.deepEqual(getCorruption('gaussian_noise').paramsBySeverity.map((p) => p.std), [0.04, 0.06, 0.08, 0.09, 0.1]);
  assert.deepEqual(getCorruption('jpeg_compression').paramsBySeverity.map((p) => p.quality), [80, 65, 58, 50, 40]);
  assert.deepEqual(
    getCorruption('zoom_blur').paramsBySeverity.map((p) => (p.zooms as readonly number[]).length),
    [7, 12, 16, 21, 26],
  );
});

test('every corruption, every severity, C=1 and C=3, square and not: new image in [0,1] that differs', () => {
  for (const shape of SHAPES) {
    const clean = naturalImage(shape, 11);
    const copy = clean.slice();
    for (const name of CORRUPTION_NAMES) {
      for (let severity = 1; severity <= 5; severity++) {
        const out = corrupt(name, clean, shape, severity, new Rng(5));
        const where = `${name} s${severity} ${shape.channels}x${shape.height}x${shape.width}`;
        assert.ok(out instanceof Float32Array, where);
        assert.notEqual(out, clean, where);
        assert.equal(out.length, clean.length, where);
        for (const v of out) assert.ok(v >= 0 && v <= 1 && !Number.isNaN(v), `${where}: value ${v}`);
        assert.ok(meanAbsDiff(out, clean) > 1e-3, `${where} did not change the image`);
      }
    }
    assert.deepEqual(clean, copy, 'the input image must not be modified');
  }
});

test('reproducible from the seed; random corruptions differ across seeds, deterministic ones do not', () => {
  for (const shape of [RGB32, GRAY28]) {
    const clean = naturalImage(shape, 3);
    for (const name of CORRUPTION_NAMES) {
      const a = corrupt(name, clean, shape, 3, new Rng(123));
      const b = corrupt(name, clean, shape, 3, new Rng(123));
      const c = corrupt(name, clean, shape, 3, new Rng(124));
      assert.deepEqual(a, b, `${name}: same seed, same output`);
      if (CORRUPTIONS[name].usesRandomness) assert.notDeepEqual(a, c, `${name}: different seed, different output`);
      else assert.deepEqual(a, c, `${name} is deterministic`);
    }
  }
});

test('distortion grows with severity: noise, blur (glass: per iteration count), contrast, brightness', () => {
  const strictlyGrowing = [
    'gaussian_noise',
    'shot_noise',
    'impulse_noise',
    'defocus_blur',
    'zoom_blur',
    'contrast',
    'brightness',
  ];
  for (const shape of SHAPES) {
    for (const [kind, image] of [
      ['smooth', smoothImage(shape)],
      ['natural', naturalImage(shape, 21)],
    ] as const) {
      for (const name of strictlyGrowing) {
        const d = distortionBySeverity(name, image, shape, 9);
        for (let s = 1; s < 5; s++) {
          assert.ok(d[s] > d[s - 1], `${name} on ${kind} ${shape.height}x${shape.width}: ${d.map((v) => v.toFixed(4))}`);
        }
      }
      // Motion blur: severities 3 and 4 differ only in radius 6 vs 8 at sigma 2, where the
      // extra taps weigh < 1e-9 (as in ImageMagick), so 3 -> 4 is flat, not growing.
      const motion = distortionBySeverity('motion_blur', image, shape, 9);
      for (let s = 1; s < 5; s++) assert.ok(motion[s] >= motion[s - 1] - 1e-5, `motion_blur ${kind}: ${motion}`);
      assert.ok(motion[4] > motion[2] && motion[2] > motion[0], `motion_blur ${kind}: ${motion}`);
      // Pixelate: the block pattern of trunc(ratio·size) is not nested across ratios, so only
      // the ends are ordered (at 28×28, 23 -> 21 pixels can alias less than 25 -> 23).
      const pixelated = distortionBySeverity('pixelate', image, shape, 9);
      assert.ok(pixelated[4] > pixelated[0], `pixelate ${kind}: ${pixelated}`);
      // Glass blur: the published table is not monotone in pixel difference (severity 1 shuffles
      // an almost unblurred image); two shuffle passes distort more than one at the same sigma.
      const glass = distortionBySeverity('glass_blur', image, shape, 9);
      assert.ok(glass[3] > glass[1] && glass[4] > glass[2], `glass_blur ${kind}: ${glass}`);
    }
  }
});

test('noise statistics follow the parameters', () => {
  const shape: ImageShape = { channels: 3, height: 32, width: 32 };
  const gray = new Float32Array(3 * 32 * 32).fill(0.5);
  const g = corrupt('gaussian_noise', gray, shape, 5, new Rng(1));
  const std = Math.sqrt(g.reduce((acc, v) => acc + (v - 0.5) ** 2, 0) / g.length);
  assert.ok(Math.abs(std - 0.1) < 0.005, `gaussian std ${std}`);
  const shot = corrupt('shot_noise', gray, shape, 5, new Rng(1));
  const mean = shot.reduce((a, v) => a + v, 0) / shot.length;
  assert.ok(Math.abs(mean - 0.5) < 0.005, `shot noise mean ${mean}`);
  // low light, lambda = 0.1 * 50 = 5: mean 0.1, std sqrt(5)/50
  const dark = corrupt('shot_noise', new Float32Array(3 * 32 * 32).fill(0.1), shape, 5, new Rng(2));
  const darkMean = dark.reduce((a, v) => a + v, 0) / dark.length;
  const darkStd = Math.sqrt(dark.reduce((a, v) => a + (v - darkMean) ** 2, 0) / dark.length);
  assert.ok(Math.abs(darkMean - 0.1) < 0.004, `shot noise dark mean ${darkMean}`);
  assert.ok(Math.abs(darkStd - Math.sqrt(5) / 50) < 0.004, `shot noise dark std ${darkStd}`);
  const imp = corrupt('impulse_noise', gray, shape, 5, new Rng(1));
  const flipped = imp.filter((v) => v === 0 || v === 1).length / imp.length;
  assert.ok(Math.abs(flipped - 0.07) < 0.012, `impulse fraction ${flipped}`);
});

test('contrast keeps channel means; brightness adds to V (gray: to the value)', () => {
  const img = naturalImage(RGB32, 4);
  const out = corrupt('contrast', img, RGB32, 5, new Rng(0));
  for (let c = 0; c < 3; c++) {
    const mean = (a: Float32Array): number => a.subarray(c * 1024, (c + 1) * 1024).reduce((s, v) => s + v, 0) / 1024;
    assert.ok(Math.abs(mean(out) - mean(img)) < 1e-4);
  }
  const gray = Float32Array.from({ length: 28 * 28 }, (_, i) => (i % 28) / 27);
  const bright = corrupt('brightness', gray, GRAY28, 5, new Rng(0));
  for (let i = 0; i < gray.length; i++) assert.ok(Math.abs(bright[i] - Math.min(gray[i] + 0.3, 1)) < 1e-6);
  // a grey RGB pixel has S = 0, so V + delta adds delta to each channel
  const rgbGray = new Float32Array(3 * 1024).fill(0.4);
  const b = corrupt('brightness', rgbGray, RGB32, 2, new Rng(0));
  for (const v of b) assert.ok(Math.abs(v - 0.5) < 1e-6);
});

test('zoom blur matches the original (numpy arange factors, scipy zoom order=1) on a 6x9 image', () => {
  // reference: make_cifar_c.py's zoom_blur at severity 5, clipped_zoom per axis, scipy 1.x
  const expected = [
    0.0, 0.147634, 0.552469, 0.447531, 0.333333, 0.48594, 0.437243, 0.181241, 0.081619, 0.443827, 0.591461, 0.183711,
    0.556842, 0.77716, 0.424651, 0.374314, 0.489838, 0.525446, 0.887654, 0.220542, 0.360357, 0.300309, 0.316461,
    0.411054, 0.238409, 0.477241, 0.496205, 0.558025, 0.377623, 0.717284, 0.612346, 0.498148, 0.650754, 0.602058,
    0.381464, 0.49225, 0.608642, 0.756276, 0.611385, 0.413786, 0.299588, 0.452195, 0.789986, 0.753075, 0.690261,
    0.541152, 0.688786, 0.655521, 0.333333, 0.219136, 0.371742, 0.425069, 0.558356, 0.622771,
  ];
  const shape: ImageShape = { channels: 1, height: 6, width: 9 };
  const img = Float32Array.from({ length: 54 }, (_, i) => (((i % 9) ** 2 + 3 * Math.floor(i / 9)) % 7) / 6);
  const out = corrupt('zoom_blur', img, shape, 5, new Rng(0));
  for (let i = 0; i < 54; i++) assert.ok(Math.abs(out[i] - expected[i]) < 2e-6, `pixel ${i}: ${out[i]} vs ${expected[i]}`);
});

test('RGB <-> HSV round trip', () => {
  const img = naturalImage(RGB32, 8);
  const { h, s, v } = rgbToHsv(img, 1024);
  const back = hsvToRgb(h, s, v);
  for (let i = 0; i < img.length; i++) assert.ok(Math.abs(back[i] - img[i]) < 1e-6);
});

test('JPEG: IJG tables scale with quality; quality 100 is near lossless; grayscale and odd sizes work', () => {
  assert.deepEqual(Array.from(scaledQuantTable(IJG_LUMINANCE_TABLE, 50)), IJG_LUMINANCE_TABLE);
  assert.equal(scaledQuantTable(IJG_LUMINANCE_TABLE, 80)[0], 6); // floor((16*40 + 50)/100)
  assert.equal(scaledQuantTable(IJG_LUMINANCE_TABLE, 40)[0], 20); // 5000/40 = 125 %
  for (const shape of [RGB32, GRAY28, { channels: 3, height: 13, width: 21 }]) {
    const img = smoothImage(shape);
    const q100 = jpegRoundTrip(img, shape.channels, shape.height, shape.width, 100, '4:4:4');
    assert.ok(meanAbsDiff(q100, img) < 2 / 255, `q100 ${meanAbsDiff(q100, img)}`);
    const q40 = jpegRoundTrip(img, shape.channels, shape.height, shape.width, 40);
    assert.ok(meanAbsDiff(q40, img) > meanAbsDiff(q100, img));
  }
  const flat = new Float32Array(3 * 1024).fill(100 / 255);
  const flatOut = jpegRoundTrip(flat, 3, 32, 32, 40);
  for (const v of flatOut) assert.ok(Math.abs(v * 255 - 100) <= 1.001, `flat image level ${v * 255}`);
});

test('helpers: clipped zoom, BOX resize, motion kernel, defocus disk, plasma, borders, pixel scale', () => {
  assert.deepEqual(Array.from(clippedZoomCoordinates(32, 1.01)), Array.from({ length: 32 }, (_, i) => i));
  const coords = clippedZoomCoordinates(32, 1.04); // crop 31 rows from 0, zoom to 32: corners aligned
  assert.equal(coords[0], 0);
  assert.ok(Math.abs(coords[31] - 30) < 1e-12);
  // BOX upscaling picks the nearest pixel; downscaling 4 -> 2 averages pairs
  assert.deepEqual(Array.from(boxResizePlane([1, 2], 1, 2, 1, 4)), [1, 1, 2, 2]);
  assert.deepEqual(Array.from(boxResizePlane([1, 3, 5, 7], 1, 4, 1, 2)), [2, 6]);
  const k = motionKernel(6, 2, 0);
  assert.equal(k.weights.length, 13);
  assert.deepEqual(Array.from(k.dx), Array.from({ length: 13 }, (_, i) => i));
  assert.ok(Math.abs(k.weights.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  const { kernel, size } = defocusKernel(1, 0.2);
  assert.equal(size, 5);
  assert.ok(Math.abs(kernel.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  const plasma = plasmaFractal(32, 3, new Rng(2));
  assert.equal(Math.min(...plasma), 0);
  assert.equal(Math.max(...plasma), 1);
  assert.deepEqual([-2, -1, 4, 5].map((i) => borderIndex(i, 4, 'reflect')), [1, 0, 3, 2]);
  assert.deepEqual([-2, -1, 4, 5].map((i) => borderIndex(i, 4, 'reflect101')), [2, 1, 2, 1]);
  assert.deepEqual([-2, 5].map((i) => borderIndex(i, 4, 'nearest')), [0, 3]);
  assert.equal(pixelScale(GRAY28), 1);
  assert.equal(pixelScale(RGB32), 1);
  assert.equal(pixelScale({ channels: 3, height: 64, width: 64 }), 2);
  assert.equal(pixelScale({ channels: 1, height: 16, width: 16 }), 1); // never below the published scale
  assert.equal(pixelScale({ channels: 3, height: 224, width: 224 }), 8);
});

test('larger images: pixel-unit parameters scale, all corruptions still run and stay in range', () => {
  const shape: ImageShape = { channels: 3, height: 64, width: 48 };
  const img = naturalImage(shape, 2);
  for (const name of CORRUPTION_NAMES) {
    const out = corrupt(name, img, shape, 5, new Rng(1));
    for (const v of out) assert.ok(v >= 0 && v <= 1);
    assert.ok(meanAbsDiff(out, img) > 1e-3, name);
  }
  const blur = distortionBySeverity('defocus_blur', img, shape, 0);
  for (let s = 1; s < 5; s++) assert.ok(blur[s] > blur[s - 1], `defocus 64x48: ${blur}`);
});

test('invalid input: wrong length, channels, severity', () => {
  const img = smoothImage(RGB32);
  assert.throws(() => corrupt('fog', img, GRAY28, 1, new Rng(0)), TensorError);
  assert.throws(() => corrupt('fog', img.subarray(0, 2048), { channels: 2, height: 32, width: 32 }, 1, new Rng(0)), TensorError);
  assert.throws(() => corrupt('fog', img, RGB32, 6, new Rng(0)), ConfigError);
  assert.throws(() => corrupt('fog', img, RGB32, 0, new Rng(0)), ConfigError);
  assert.throws(() => corrupt('fog', img, RGB32, 2.5, new Rng(0)), ConfigError);
  assert.throws(() => corrupt('speckle', img, RGB32, 1, new Rng(0)), /unknown corruption 'speckle'; valid names: gaussian_noise/);
  for (const [height, width] of [
    [2, 2],
    [1, 5],
    [40, 2],
  ]) {
    assert.throws(
      () => corrupt('elastic_transform', new Float32Array(height * width), { channels: 1, height, width }, 1, new Rng(0)),
      (e: Error) => e instanceof TensorError && e.message.includes(`at least 3x3 pixels, got ${height}x${width}`),
    );
  }
  assert.equal(corrupt('elastic_transform', new Float32Array(9).fill(0.5), { channels: 1, height: 3, width: 3 }, 5, new Rng(0)).length, 9);
});

function uint8Images(count: number, shape: ImageShape, seed: number): Uint8Array {
  const size = shape.channels * shape.height * shape.width;
  const out = new Uint8Array(count * size);
  for (let n = 0; n < count; n++) {
    const img = naturalImage(shape, seed + n);
    for (let k = 0; k < size; k++) out[n * size + k] = Math.round(img[k] * 255);
  }
  return out;
}

test('corruptDataset: independent of batching, reproducible, seed-dependent', () => {
  for (const shape of [GRAY28, RGB_WIDE]) {
    const size = shape.channels * shape.height * shape.width;
    const images = uint8Images(6, shape, 100);
    for (const name of ['gaussian_noise', 'glass_blur', 'snow', 'jpeg_compression']) {
      const whole = corruptDataset(images, shape, name, 4, 77);
      assert.deepEqual(corruptDataset(images, shape, name, 4, 77), whole);
      const first = corruptDataset(images.subarray(0, 2 * size), shape, name, 4, 77);
      const rest = corruptDataset(images.subarray(2 * size), shape, name, 4, 77, { firstIndex: 2 });
      assert.deepEqual(Uint8Array.from([...first, ...rest]), whole, `${name}: batches of 2 + 4 equal one batch of 6`);
      if (CORRUPTIONS[name as 'snow'].usesRandomness) {
        assert.notDeepEqual(corruptDataset(images, shape, name, 4, 78), whole, `${name}: another seed`);
      }
      assert.notDeepEqual(whole, images);
    }
  }
  // streams differ across images, corruptions and severities
  const seeds = new Set<number>();
  for (const name of ['fog', 'snow']) for (let s = 1; s <= 5; s++) for (let i = 0; i < 50; i++) seeds.add(imageStreamSeed(3, name, s, i));
  assert.equal(seeds.size, 500);
});

test('corruptDataset: validates its inputs', () => {
  const images = uint8Images(2, GRAY28, 0);
  assert.throws(() => corruptDataset(images.subarray(1), GRAY28, 'fog', 1, 0), TensorError);
  assert.throws(() => corruptDataset(images, GRAY28, 'frosting', 1, 0), /valid names/);
  assert.throws(() => corruptDataset(images, GRAY28, 'fog', 7, 0), ConfigError);
  assert.throws(() => corruptDataset(images, GRAY28, 'fog', 1, 0.5), ConfigError);
});

test('validateOodSet: accepts valid sets, names what is wrong otherwise', () => {
  assert.deepEqual(validateOodSet({ corruptions: ['fog', 'snow'], severities: [1, 5] }), {
    corruptions: ['fog', 'snow'],
    severities: [1, 5],
  });
  assert.equal(validateOodSet(fullOodSet()).corruptions.length, 15);
  const unknown = (): unknown => validateOodSet({ corruptions: ['fog', 'rain'], severities: [1] }, 'eval.ood');
  assert.throws(unknown, ConfigError);
  assert.throws(unknown, (e: unknown) => {
    const err = e as ConfigError;
    return err.path === 'eval.ood.corruptions[1]' && /"rain"/.test(err.message) && CORRUPTION_NAMES.every((n) => err.message.includes(n));
  });
  assert.throws(() => validateOodSet({ corruptions: ['fog'], severities: [0] }), /severities\[0\].*1\.\.5/);
  assert.throws(() => validateOodSet({ corruptions: ['fog'], severities: [6] }), /1\.\.5/);
  assert.throws(() => validateOodSet({ corruptions: ['fog'], severities: [2.5] }), ConfigError);
  assert.throws(() => validateOodSet({ corruptions: ['fog'], severities: ['3'] }), ConfigError);
  assert.throws(() => validateOodSet({ corruptions: [], severities: [1] }), /non-empty/);
  assert.throws(() => validateOodSet({ corruptions: ['fog', 'fog'], severities: [1] }), /duplicate/);
  assert.throws(() => validateOodSet(null), ConfigError);
});
