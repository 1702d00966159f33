/**
 * Colour conversions on CHW images in [0, 1]: RGB ↔ HSV (scikit-image
 * conventions, hue in [0, 1)) and luma (OpenCV `RGB2GRAY`).
 */

/**
 * RGB → HSV per pixel, in place into three planes of length H·W:
 * `V = max`, `S = (max - min)/max` (0 for black), hue from the channel
 * holding the max (blue, then green, then red when tied), `H = (h/6) mod 1`.
 */
export function rgbToHsv(rgb: ArrayLike<number>, pixels: number): { h: Float64Array; s: Float64Array; v: Float64Array } {
  const h = new Float64Array(pixels);
  const s = new Float64Array(pixels);
  const v = new Float64Array(pixels);
  for (let p = 0; p < pixels; p++) {
    const r = rgb[p];
    const g = rgb[pixels + p];
    const b = rgb[2 * pixels + p];
    const max = Math.max(r, g, b);
    const delta = max - Math.min(r, g, b);
    v[p] = max;
    s[p] = max === 0 ? 0 : delta / max;
    if (delta === 0) continue;
    let hue: number;
    if (b === max) hue = 4 + (r - g) / delta;
    else if (g === max) hue = 2 + (b - r) / delta;
    else hue = (g - b) / delta;
    hue /= 6;
    h[p] = hue - Math.floor(hue);
  }
  return { h, s, v };
}

/**
 * HSV → RGB into a new CHW array: with `i = floor(6H)`, `f = 6H - i`,
 * `p = V(1-S)`, `q = V(1-fS)`, `t = V(1-(1-f)S)`, sector i picks
 * (V,t,p), (q,V,p), (p,V,t), (p,q,V), (t,p,V), (V,p,q).
 */
export function hsvToRgb(h: Float64Array, s: Float64Array, v: Float64Array): Float32Array {
  const pixels = h.length;
  const out = new Float32Array(3 * pixels);
  for (let p = 0; p < pixels; p++) {
    const hue6 = h[p] * 6;
    const sector = Math.floor(hue6);
    const f = hue6 - sector;
    const val = v[p];
    const sat = s[p];
    const lo = val * (1 - sat);
    const falling = val * (1 - f * sat);
    const rising = val * (1 - (1 - f) * sat);
    let r: number, g: number, b: number;
    switch (((sector % 6) + 6) % 6) {
      case 0:
        [r, g, b] = [val, rising, lo];
        break;
      case 1:
        [r, g, b] = [falling, val, lo];
        break;
      case 2:
        [r, g, b] = [lo, val, rising];
        break;
      case 3:
        [r, g, b] = [lo, falling, val];
        break;
      case 4:
        [r, g, b] = [rising, lo, val];
        break;
      default:
        [r, g, b] = [val, lo, falling];
        break;
    }
    out[p] = r;
    out[pixels + p] = g;
    out[2 * pixels + p] = b;
  }
  return out;
}

/** Luma plane `0.299 R + 0.587 G + 0.114 B` (OpenCV RGB2GRAY); a grayscale image is its own luma. */
export function lumaPlane(image: ArrayLike<number>, channels: number, pixels: number): Float64Array {
  const out = new Float64Array(pixels);
  if (channels === 1) {
    for (let p = 0; p < pixels; p++) out[p] = image[p];
    return out;
  }
  for (let p = 0; p < pixels; p++) {
    out[p] = 0.299 * image[p] + 0.587 * image[pixels + p] + 0.114 * image[2 * pixels + p];
  }
  return out;
}
