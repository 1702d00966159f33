/**
 * Resampling of one image plane (H×W, row-major): bilinear zoom, the
 * "clipped zoom" of the CIFAR-10-C code, Pillow's BOX resize, bilinear
 * sampling at arbitrary coordinates and affine warps.
 */
import { borderIndex, type BorderMode } from './filters.js';

/** Python's `round`: halves go to the even neighbour. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Source coordinate, along one axis, of each output pixel of a "clipped
 * zoom" by `factor >= 1` (the CIFAR-10-C `clipped_zoom`): take the central
 * `ch = ceil(n/factor)` pixels starting at `top = floor((n-ch)/2)`, zoom
 * them to `m = round(ch·factor)` with scipy `zoom(order=1)` (corners
 * aligned: source = top + z·(ch-1)/(m-1)), and keep the `n` zoomed pixels
 * starting at `floor((m-n)/2)`.
 */
export function clippedZoomCoordinates(n: number, factor: number): Float64Array {
  const ch = Math.ceil(n / factor);
  const top = Math.floor((n - ch) / 2);
  const zoomed = roundHalfEven(ch * factor);
  const trim = Math.floor((zoomed - n) / 2);
  const step = zoomed > 1 ? (ch - 1) / (zoomed - 1) : 0;
  const coords = new Float64Array(n);
  for (let o = 0; o < n; o++) coords[o] = top + (o + trim) * step;
  return coords;
}

/** Clipped zoom of a plane: zooms into the centre by `factor >= 1`, keeping the size. */
export function clippedZoomPlane(plane: ArrayLike<number>, height: number, width: number, factor: number): Float64Array {
  return sampleSeparable(plane, height, width, clippedZoomCoordinates(height, factor), clippedZoomCoordinates(width, factor));
}

/** Bilinear sampling on a grid: `out(i,j) = in(ys[i], xs[j])`, coordinates inside the plane. */
function sampleSeparable(plane: ArrayLike<number>, height: number, width: number, ys: Float64Array, xs: Float64Array): Float64Array {
  const outH = ys.length;
  const outW = xs.length;
  const x0 = new Int32Array(outW);
  const x1 = new Int32Array(outW);
  const fx = new Float64Array(outW);
  for (let j = 0; j < outW; j++) {
    const lo = Math.min(Math.floor(xs[j]), width - 1);
    x0[j] = lo;
    x1[j] = Math.min(lo + 1, width - 1);
    fx[j] = xs[j] - lo;
  }
  const out = new Float64Array(outH * outW);
  for (let i = 0; i < outH; i++) {
    const lo = Math.min(Math.floor(ys[i]), height - 1);
    const hi = Math.min(lo + 1, height - 1);
    const fy = ys[i] - lo;
    const r0 = lo * width;
    const r1 = hi * width;
    for (let j = 0; j < outW; j++) {
      const top = plane[r0 + x0[j]] * (1 - fx[j]) + plane[r0 + x1[j]] * fx[j];
      const bottom = plane[r1 + x0[j]] * (1 - fx[j]) + plane[r1 + x1[j]] * fx[j];
      out[i * outW + j] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/**
 * Weights of Pillow's BOX resampling along one axis (`Image.resize(...,
 * Image.BOX)`): with `scale = in/out` and `support = 0.5·max(scale, 1)`,
 * output pixel `o` averages the input pixels `p` whose centre lies in
 * `(c - 0.5·max(scale,1), c + 0.5·max(scale,1)]`, `c = (o + 0.5)·scale`.
 * Upscaling therefore picks the nearest pixel; downscaling averages 1-2
 * pixels per output at the ratios pixelate uses.
 */
function boxResizeWeights(inSize: number, outSize: number): { start: Int32Array; weights: Float64Array[] } {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 0.5 * filterScale;
  const start = new Int32Array(outSize);
  const weights: Float64Array[] = [];
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    const w = new Float64Array(Math.max(hi - lo, 0));
    let total = 0;
    for (let p = lo; p < hi; p++) {
      const t = (p - center + 0.5) / filterScale;
      const inside = t > -0.5 && t <= 0.5 ? 1 : 0;
      w[p - lo] = inside;
      total += inside;
    }
    if (total > 0) for (let k = 0; k < w.length; k++) w[k] /= total;
    start[o] = lo;
    weights.push(w);
  }
  return { start, weights };
}

/** Pillow BOX resize of a plane to `outHeight×outWidth` (rows first, then columns). */
export function boxResizePlane(plane: ArrayLike<number>, height: number, width: number, outHeight: number, outWidth: number): Float64Array {
  const cols = boxResizeWeights(width, outWidth);
  const horizontal = new Float64Array(height * outWidth);
  for (let y = 0; y < height; y++) {
    for (let o = 0; o < outWidth; o++) {
      const w = cols.weights[o];
      let acc = 0;
      for (let k = 0; k < w.length; k++) acc += w[k] * plane[y * width + cols.start[o] + k];
      horizontal[y * outWidth + o] = acc;
    }
  }
  const rows = boxResizeWeights(height, outHeight);
  const out = new Float64Array(outHeight * outWidth);
  for (let o = 0; o < outHeight; o++) {
    const w = rows.weights[o];
    for (let k = 0; k < w.length; k++) {
      const src = (rows.start[o] + k) * outWidth;
      for (let x = 0; x < outWidth; x++) out[o * outWidth + x] += w[k] * horizontal[src + x];
    }
  }
  return out;
}

/** A 2×3 affine map `[a, b, c, d, e, f]`: (x, y) → (a·x + b·y + c, d·x + e·y + f). */
export type AffineMatrix = readonly [number, number, number, number, number, number];

/** The affine map taking three points `from[i]` (as [x, y]) to `to[i]` (OpenCV `getAffineTransform`). */
export function affineFromPoints(from: readonly (readonly [number, number])[], to: readonly (readonly [number, number])[]): AffineMatrix {
  const [[x0, y0], [x1, y1], [x2, y2]] = from;
  const det = x0 * (y1 - y2) - y0 * (x1 - x2) + (x1 * y2 - x2 * y1);
  // Internal invariant: elastic_transform, the one caller, refuses images under 3x3, so its source points span a triangle.
  if (Math.abs(det) < 1e-12) throw new Error(`affineFromPoints: the source points ${JSON.stringify(from)} are collinear`);
  // Cramer's rule on [x y 1]·[a b c]ᵀ = x' for each output coordinate.
  const solve = (v0: number, v1: number, v2: number): [number, number, number] => [
    (v0 * (y1 - y2) - y0 * (v1 - v2) + (v1 * y2 - v2 * y1)) / det,
    (x0 * (v1 - v2) - v0 * (x1 - x2) + (x1 * v2 - x2 * v1)) / det,
    (x0 * (y1 * v2 - y2 * v1) - y0 * (x1 * v2 - x2 * v1) + v0 * (x1 * y2 - x2 * y1)) / det,
  ];
  const [a, b, c] = solve(to[0][0], to[1][0], to[2][0]);
  const [d, e, f] = solve(to[0][1], to[1][1], to[2][1]);
  return [a, b, c, d, e, f];
}

/** Inverse of an invertible affine map. */
export function invertAffine(m: AffineMatrix): AffineMatrix {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  // Internal invariant: the maps come from affineFromPoints with randomly jittered targets, collinear with probability zero.
  if (Math.abs(det) < 1e-12) throw new Error(`invertAffine: the map [${m.join(', ')}] is singular`);
  const ia = e / det;
  const ib = -b / det;
  const id = -d / det;
  const ie = a / det;
  return [ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)];
}

/**
 * Precomputed bilinear sampling of an H×W plane at N points: the four
 * neighbour indices (through the border mode) and weights of each point,
 * so several channels can be sampled at the same points cheaply.
 */
export interface BilinearSampler {
  readonly index: Int32Array; // 4 per point: (y0,x0), (y0,x1), (y1,x0), (y1,x1)
  readonly weight: Float64Array; // 4 per point, same order
}

/** Sampler for the points (ys[k], xs[k]), outside pixels read through `mode`. */
export function bilinearSampler(height: number, width: number, ys: Float64Array, xs: Float64Array, mode: BorderMode): BilinearSampler {
  const n = ys.length;
  const index = new Int32Array(4 * n);
  const weight = new Float64Array(4 * n);
  for (let k = 0; k < n; k++) {
    const y0 = Math.floor(ys[k]);
    const x0 = Math.floor(xs[k]);
    const fy = ys[k] - y0;
    const fx = xs[k] - x0;
    const r0 = borderIndex(y0, height, mode) * width;
    const r1 = borderIndex(y0 + 1, height, mode) * width;
    const c0 = borderIndex(x0, width, mode);
    const c1 = borderIndex(x0 + 1, width, mode);
    index[4 * k] = r0 + c0;
    index[4 * k + 1] = r0 + c1;
    index[4 * k + 2] = r1 + c0;
    index[4 * k + 3] = r1 + c1;
    weight[4 * k] = (1 - fy) * (1 - fx);
    weight[4 * k + 1] = (1 - fy) * fx;
    weight[4 * k + 2] = fy * (1 - fx);
    weight[4 * k + 3] = fy * fx;
  }
  return { index, weight };
}

/** Values of `plane` at the sampler's points. */
export function applySampler(sampler: BilinearSampler, plane: ArrayLike<number>): Float64Array {
  const { index, weight } = sampler;
  const out = new Float64Array(index.length / 4);
  for (let k = 0; k < out.length; k++) {
    const b = 4 * k;
    out[k] =
      weight[b] * plane[index[b]] +
      weight[b + 1] * plane[index[b + 1]] +
      weight[b + 2] * plane[index[b + 2]] +
      weight[b + 3] * plane[index[b + 3]];
  }
  return out;
}

/**
 * Sampler of OpenCV `warpAffine(src, M)` with bilinear interpolation:
 * `dst(x, y) = src(M⁻¹·(x, y))`, outside pixels read through `mode`.
 */
export function warpAffineSampler(height: number, width: number, forward: AffineMatrix, mode: BorderMode): BilinearSampler {
  const [a, b, c, d, e, f] = invertAffine(forward);
  const ys = new Float64Array(height * width);
  const xs = new Float64Array(height * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      xs[y * width + x] = a * x + b * y + c;
      ys[y * width + x] = d * x + e * y + f;
    }
  }
  return bilinearSampler(height, width, ys, xs, mode);
}

/** A linear map from a plane to a plane, stored by output pixel (compressed sparse rows). */
export interface SparseOperator {
  /** Output pixel p reads `column[k]` with `weight[k]` for k in rowStart[p] .. rowStart[p+1]-1. */
  readonly rowStart: Int32Array;
  readonly column: Int32Array;
  readonly weight: Float64Array;
}

/** `out[p] = Σ_k weight[k] · plane[column[k]]` over output pixel p's entries. */
export function applySparse(op: SparseOperator, plane: ArrayLike<number>): Float64Array {
  const out = new Float64Array(op.rowStart.length - 1);
  for (let p = 0; p < out.length; p++) {
    let acc = 0;
    for (let k = op.rowStart[p]; k < op.rowStart[p + 1]; k++) acc += op.weight[k] * plane[op.column[k]];
    out[p] = acc;
  }
  return out;
}

/**
 * The zoom-blur average `(x + Σ_z clippedZoom(x, z)) / (n + 1)` as one
 * sparse operator: each output pixel's bilinear taps over all n zooms,
 * merged, so applying it costs a few dozen taps per pixel instead of 4n.
 */
export function clippedZoomAverageOperator(height: number, width: number, zooms: readonly number[]): SparseOperator {
  const pixels = height * width;
  const scale = 1 / (zooms.length + 1);
  const axes = zooms.map((z) => ({ ys: clippedZoomCoordinates(height, z), xs: clippedZoomCoordinates(width, z) }));
  const dense = new Float64Array(pixels);
  const touched: number[] = [];
  const rowStart = new Int32Array(pixels + 1);
  const columns: number[] = [];
  const weights: number[] = [];
  const add = (q: number, w: number): void => {
    if (w === 0) return;
    if (dense[q] === 0) touched.push(q);
    dense[q] += w;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      add(y * width + x, scale);
      for (const { ys, xs } of axes) {
        const y0 = Math.min(Math.floor(ys[y]), height - 1);
        const x0 = Math.min(Math.floor(xs[x]), width - 1);
        const y1 = Math.min(y0 + 1, height - 1);
        const x1 = Math.min(x0 + 1, width - 1);
        const fy = ys[y] - y0;
        const fx = xs[x] - x0;
        add(y0 * width + x0, scale * (1 - fy) * (1 - fx));
        add(y0 * width + x1, scale * (1 - fy) * fx);
        add(y1 * width + x0, scale * fy * (1 - fx));
        add(y1 * width + x1, scale * fy * fx);
      }
      for (const q of touched) {
        columns.push(q);
        weights.push(dense[q]);
        dense[q] = 0;
      }
      touched.length = 0;
      rowStart[y * width + x + 1] = columns.length;
    }
  }
  return { rowStart, column: Int32Array.from(columns), weight: Float64Array.from(weights) };
}
