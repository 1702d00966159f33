/**
 * Linear filters on one image plane (H×W, row-major): border handling,
 * Gaussian kernels, separable and 2-D correlation.
 *
 * Border modes, for a row `a b c d` read past its ends:
 * - `nearest`    `a a a | a b c d | d d d`  (scipy/skimage `nearest`, ImageMagick `edge`)
 * - `reflect`    `c b a | a b c d | d c b`  (scipy `reflect`: the edge repeats)
 * - `reflect101` `d c b | a b c d | c b a`  (OpenCV default: the edge does not repeat)
 */

export type BorderMode = 'nearest' | 'reflect' | 'reflect101';

/** Index inside 0..n-1 that `i` reads under `mode`; works for any distance past the edge. */
export function borderIndex(i: number, n: number, mode: BorderMode): number {
  if (i >= 0 && i < n) return i;
  if (n === 1) return 0;
  switch (mode) {
    case 'nearest':
      return i < 0 ? 0 : n - 1;
    case 'reflect': {
      const period = 2 * n;
      const m = ((i % period) + period) % period;
      return m < n ? m : period - 1 - m;
    }
    case 'reflect101': {
      const period = 2 * n - 2;
      const m = ((i % period) + period) % period;
      return m < n ? m : period - m;
    }
  }
}

/**
 * scipy/skimage Gaussian kernel: `w[k] ∝ exp(-k²/(2σ²))` for
 * `|k| <= floor(truncate·σ + 0.5)`, normalized to sum 1. σ <= 0 gives `[1]`.
 */
export function gaussianKernel1d(sigma: number, truncate = 4): Float64Array {
  if (!(sigma > 0)) return Float64Array.of(1);
  const radius = Math.floor(truncate * sigma + 0.5);
  return gaussianTaps(radius, sigma);
}

/** OpenCV `getGaussianKernel(ksize, σ)` for odd `ksize`: taps at `-(ksize-1)/2 .. (ksize-1)/2`. */
export function fixedSizeGaussianKernel(ksize: number, sigma: number): Float64Array {
  return gaussianTaps((ksize - 1) / 2, sigma);
}

function gaussianTaps(radius: number, sigma: number): Float64Array {
  const kernel = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let k = -radius; k <= radius; k++) {
    const w = Math.exp((-k * k) / (2 * sigma * sigma));
    kernel[k + radius] = w;
    sum += w;
  }
  for (let k = 0; k < kernel.length; k++) kernel[k] /= sum;
  return kernel;
}

/**
 * Correlates a plane with the same odd-length 1-D kernel along rows, then
 * columns: `out(y,x) = Σ_j Σ_i k[j]·k[i]·in(y+j-r, x+i-r)`.
 */
export function separableFilter(
  plane: ArrayLike<number>,
  height: number,
  width: number,
  kernel: Float64Array,
  mode: BorderMode,
): Float64Array {
  const radius = (kernel.length - 1) / 2;
  const rows = new Float64Array(height * width);
  const colIndex = borderLookup(width, radius, mode);
  for (let y = 0; y < height; y++) {
    const base = y * width;
    for (let x = 0; x < width; x++) {
      let acc = 0;
      for (let k = 0; k < kernel.length; k++) acc += kernel[k] * plane[base + colIndex[x + k]];
      rows[base + x] = acc;
    }
  }
  const out = new Float64Array(height * width);
  const rowIndex = borderLookup(height, radius, mode);
  for (let y = 0; y < height; y++) {
    for (let k = 0; k < kernel.length; k++) {
      const w = kernel[k];
      const src = rowIndex[y + k] * width;
      const dst = y * width;
      for (let x = 0; x < width; x++) out[dst + x] += w * rows[src + x];
    }
  }
  return out;
}

/** Gaussian blur of one plane (scipy `gaussian_filter` semantics). */
export function gaussianBlurPlane(
  plane: ArrayLike<number>,
  height: number,
  width: number,
  sigma: number,
  mode: BorderMode,
  truncate = 4,
): Float64Array {
  return separableFilter(plane, height, width, gaussianKernel1d(sigma, truncate), mode);
}

/**
 * 2-D correlation with a `size×size` kernel (odd size), OpenCV `filter2D`
 * semantics: `out(y,x) = Σ_{j,i} K[j][i]·in(y+j-r, x+i-r)`.
 */
export function filter2d(
  plane: ArrayLike<number>,
  height: number,
  width: number,
  kernel: Float64Array,
  size: number,
  mode: BorderMode,
): Float64Array {
  const radius = (size - 1) / 2;
  const colIndex = borderLookup(width, radius, mode);
  const rowIndex = borderLookup(height, radius, mode);
  const out = new Float64Array(height * width);
  for (let j = 0; j < size; j++) {
    for (let i = 0; i < size; i++) {
      const w = kernel[j * size + i];
      if (w === 0) continue;
      for (let y = 0; y < height; y++) {
        const src = rowIndex[y + j] * width;
        const dst = y * width;
        for (let x = 0; x < width; x++) out[dst + x] += w * plane[src + colIndex[x + i]];
      }
    }
  }
  return out;
}

/** `lookup[p + radius]` = the in-range index that position p (from -radius to n-1+radius) reads. */
function borderLookup(n: number, radius: number, mode: BorderMode): Int32Array {
  const lookup = new Int32Array(n + 2 * radius);
  for (let p = -radius; p < n + radius; p++) lookup[p + radius] = borderIndex(p, n, mode);
  return lookup;
}
