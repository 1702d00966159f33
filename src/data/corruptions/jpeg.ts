/**
 * The lossy half of baseline JPEG (what Pillow/libjpeg does at
 * `quality=q`), without the entropy coding, which is lossless:
 *
 * 1. 8-bit samples; RGB → YCbCr (JFIF, full range), rounded to integers.
 * 2. Chroma subsampling 4:2:0 (Pillow's default): Cb and Cr averaged over
 *    2×2 blocks; or 4:4:4 (none). Grayscale images have only Y.
 * 3. Each component, padded to whole 8×8 blocks by repeating its last
 *    row/column, goes through the 2-D DCT-II, is divided by the IJG table
 *    scaled for quality q and rounded, multiplied back and inverted.
 * 4. Chroma is upsampled with libjpeg's "fancy" triangle filter
 *    (weights 9/16, 3/16, 3/16, 1/16 from the nearest chroma samples),
 *    YCbCr → RGB, rounded and clipped to 0..255.
 */

/** ITU-T T.81 Annex K.1 luminance quantization table (row-major, quality 50). */
export const IJG_LUMINANCE_TABLE: readonly number[] = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22,
  37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

/** ITU-T T.81 Annex K.2 chrominance quantization table (row-major, quality 50). */
export const IJG_CHROMINANCE_TABLE: readonly number[] = [
  17,
  18,
  24,
  47,
  99,
  99,
  99,
  99,
  18,
  21,
  26,
  66,
  99,
  99,
  99,
  99,
  24,
  26,
  56,
  99,
  99,
  99,
  99,
  99,
  47,
  66,
  99,
  99,
  99,
  99,
  99,
  99,
  ...new Array<number>(32).fill(99),
];

/**
 * libjpeg `jpeg_quality_scaling` + `jpeg_add_quant_table`: percentage
 * `s = 5000/q` for q < 50, else `200 - 2q`; entry = `floor((base·s + 50)/100)`
 * clamped to 1..255 (baseline).
 */
export function scaledQuantTable(base: readonly number[], quality: number): Float64Array {
  const q = Math.min(Math.max(Math.round(quality), 1), 100);
  const percent = q < 50 ? Math.floor(5000 / q) : 200 - 2 * q;
  return Float64Array.from(base, (b) => Math.min(Math.max(Math.floor((b * percent + 50) / 100), 1), 255));
}

/** `DCT_BASIS[u*8 + x] = C(u)/2 · cos((2x+1)uπ/16)`, C(0) = 1/√2, else 1: orthonormal 8-point DCT-II. */
const DCT_BASIS: Float64Array = (() => {
  const basis = new Float64Array(64);
  for (let u = 0; u < 8; u++) {
    const cu = u === 0 ? Math.SQRT1_2 : 1;
    for (let x = 0; x < 8; x++) basis[u * 8 + x] = (cu / 2) * Math.cos(((2 * x + 1) * u * Math.PI) / 16);
  }
  return basis;
})();

/**
 * Quantizes one component (values 0..255, `height×width`) through 8×8
 * DCT blocks and returns the decoded component. Level shift −128;
 * `F = B·f·Bᵀ`, `F̂ = round(F/Q)·Q`, `f̂ = Bᵀ·F̂·B + 128`.
 */
export function quantizeComponent(component: Float64Array, height: number, width: number, table: Float64Array): Float64Array {
  const out = new Float64Array(height * width);
  const block = new Float64Array(64);
  const tmp = new Float64Array(64);
  for (let by = 0; by < height; by += 8) {
    for (let bx = 0; bx < width; bx += 8) {
      for (let y = 0; y < 8; y++) {
        const sy = Math.min(by + y, height - 1) * width;
        for (let x = 0; x < 8; x++) block[y * 8 + x] = component[sy + Math.min(bx + x, width - 1)] - 128;
      }
      transform(block, tmp, false);
      for (let k = 0; k < 64; k++) block[k] = Math.round(block[k] / table[k]) * table[k];
      transform(block, tmp, true);
      for (let y = 0; y < 8 && by + y < height; y++) {
        for (let x = 0; x < 8 && bx + x < width; x++) out[(by + y) * width + bx + x] = block[y * 8 + x] + 128;
      }
    }
  }
  return out;
}

/** In-place 2-D DCT (`inverse` false: B·f·Bᵀ) or IDCT (true: Bᵀ·F·B) of an 8×8 block. */
function transform(block: Float64Array, tmp: Float64Array, inverse: boolean): void {
  // rows: tmp[y][u] = Σ_x block[y][x]·M(u,x)
  for (let y = 0; y < 8; y++) {
    for (let u = 0; u < 8; u++) {
      let acc = 0;
      for (let x = 0; x < 8; x++) acc += block[y * 8 + x] * (inverse ? DCT_BASIS[x * 8 + u] : DCT_BASIS[u * 8 + x]);
      tmp[y * 8 + u] = acc;
    }
  }
  // columns: block[v][u] = Σ_y M(v,y)·tmp[y][u]
  for (let v = 0; v < 8; v++) {
    for (let u = 0; u < 8; u++) {
      let acc = 0;
      for (let y = 0; y < 8; y++) acc += (inverse ? DCT_BASIS[y * 8 + v] : DCT_BASIS[v * 8 + y]) * tmp[y * 8 + u];
      block[v * 8 + u] = acc;
    }
  }
}

/** 2×2 box downsampling (libjpeg `h2v2_downsample`), odd sizes repeat the last row/column. */
function downsample2x2(plane: Float64Array, height: number, width: number): Float64Array {
  const h2 = Math.ceil(height / 2);
  const w2 = Math.ceil(width / 2);
  const out = new Float64Array(h2 * w2);
  for (let y = 0; y < h2; y++) {
    const r0 = 2 * y * width;
    const r1 = Math.min(2 * y + 1, height - 1) * width;
    for (let x = 0; x < w2; x++) {
      const c0 = 2 * x;
      const c1 = Math.min(2 * x + 1, width - 1);
      out[y * w2 + x] = (plane[r0 + c0] + plane[r0 + c1] + plane[r1 + c0] + plane[r1 + c1]) / 4;
    }
  }
  return out;
}

/**
 * libjpeg's fancy 2×2 upsampling: output pixel (y, x) mixes its chroma
 * sample a with the neighbours b (vertical) and c (horizontal) towards it
 * and d (diagonal): `(9a + 3b + 3c + d)/16`, edges repeating.
 */
function upsample2x2(plane: Float64Array, h2: number, w2: number, height: number, width: number): Float64Array {
  const out = new Float64Array(height * width);
  const at = (y: number, x: number): number => plane[Math.min(Math.max(y, 0), h2 - 1) * w2 + Math.min(Math.max(x, 0), w2 - 1)];
  for (let y = 0; y < height; y++) {
    const cy = y >> 1;
    const ny = y & 1 ? cy + 1 : cy - 1;
    for (let x = 0; x < width; x++) {
      const cx = x >> 1;
      const nx = x & 1 ? cx + 1 : cx - 1;
      out[y * width + x] = (9 * at(cy, cx) + 3 * at(ny, cx) + 3 * at(cy, nx) + at(ny, nx)) / 16;
    }
  }
  return out;
}

export type ChromaSubsampling = '4:2:0' | '4:4:4';

/**
 * JPEG round trip of a CHW image in [0, 1] (C = 1 or 3) at `quality`
 * 1..100; returns the decoded image, 8-bit levels divided by 255.
 */
export function jpegRoundTrip(
  image: Float32Array,
  channels: number,
  height: number,
  width: number,
  quality: number,
  subsampling: ChromaSubsampling = '4:2:0',
): Float32Array {
  const pixels = height * width;
  const lumaTable = scaledQuantTable(IJG_LUMINANCE_TABLE, quality);
  const out = new Float32Array(image.length);
  const level = (v: number): number => Math.min(Math.max(Math.round(v * 255), 0), 255);
  if (channels === 1) {
    const y = Float64Array.from(image, level);
    const decoded = quantizeComponent(y, height, width, lumaTable);
    for (let p = 0; p < pixels; p++) out[p] = level(decoded[p] / 255) / 255;
    return out;
  }
  const chromaTable = scaledQuantTable(IJG_CHROMINANCE_TABLE, quality);
  const lum = new Float64Array(pixels);
  const cb = new Float64Array(pixels);
  const cr = new Float64Array(pixels);
  for (let p = 0; p < pixels; p++) {
    const r = level(image[p]);
    const g = level(image[pixels + p]);
    const b = level(image[2 * pixels + p]);
    lum[p] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    cb[p] = Math.round(-0.168736 * r - 0.331264 * g + 0.5 * b + 128);
    cr[p] = Math.round(0.5 * r - 0.418688 * g - 0.081312 * b + 128);
  }
  const decodedY = quantizeComponent(lum, height, width, lumaTable);
  let decodedCb: Float64Array;
  let decodedCr: Float64Array;
  if (subsampling === '4:2:0') {
    const h2 = Math.ceil(height / 2);
    const w2 = Math.ceil(width / 2);
    const chroma = (plane: Float64Array): Float64Array =>
      upsample2x2(quantizeComponent(downsample2x2(plane, height, width), h2, w2, chromaTable).map(clamp255), h2, w2, height, width);
    decodedCb = chroma(cb);
    decodedCr = chroma(cr);
  } else {
    decodedCb = quantizeComponent(cb, height, width, chromaTable);
    decodedCr = quantizeComponent(cr, height, width, chromaTable);
  }
  for (let p = 0; p < pixels; p++) {
    const yy = clamp255(decodedY[p]);
    const u = clamp255(decodedCb[p]) - 128;
    const v = clamp255(decodedCr[p]) - 128;
    out[p] = level((yy + 1.402 * v) / 255) / 255;
    out[pixels + p] = level((yy - 0.344136 * u - 0.714136 * v) / 255) / 255;
    out[2 * pixels + p] = level((yy + 1.772 * u) / 255) / 255;
  }
  return out;
}

/** Rounds to an 8-bit sample 0..255 (the decoder's range limit). */
function clamp255(v: number): number {
  return Math.min(Math.max(Math.round(v), 0), 255);
}
