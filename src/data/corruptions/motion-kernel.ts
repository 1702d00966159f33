/**
 * ImageMagick's motion blur (`MagickMotionBlurImage(radius, sigma, angle)`),
 * the line kernel behind CIFAR-10-C's motion blur and snow streaks.
 */

/** Tap offsets (pixels, x right, y down) and weights of a motion-blur line kernel. */
export interface MotionKernel {
  readonly dx: Int32Array;
  readonly dy: Int32Array;
  readonly weights: Float64Array;
}

/**
 * A one-sided line kernel: `width = 2·ceil(radius) + 1` taps, tap i at
 * offset `(round(i·cos θ), round(i·sin θ))` pixels (x right, y down) with
 * weight `∝ exp(-i²/(2σ²))`, i = 0..width-1, normalized to sum 1. Each
 * pixel becomes the weighted sum of the pixels along the ray starting at
 * it, so the blur trails to one side as in ImageMagick.
 */
export function motionKernel(radius: number, sigma: number, angleDegrees: number): MotionKernel {
  const width = radius > 1e-12 ? 2 * Math.ceil(radius) + 1 : 1;
  const s = Math.max(sigma, 1e-12);
  const theta = (angleDegrees * Math.PI) / 180;
  const dx = new Int32Array(width);
  const dy = new Int32Array(width);
  const weights = new Float64Array(width);
  let total = 0;
  for (let i = 0; i < width; i++) {
    weights[i] = Math.exp(-(i * i) / (2 * s * s));
    total += weights[i];
    // ImageMagick: ceil(v - 0.5), i.e. round half down.
    dx[i] = Math.ceil(i * Math.cos(theta) - 0.5);
    dy[i] = Math.ceil(i * Math.sin(theta) - 0.5);
  }
  for (let i = 0; i < width; i++) weights[i] /= total;
  return { dx, dy, weights };
}

/** Applies a motion kernel to one plane; pixels past the edge repeat the edge (ImageMagick `edge`). */
export function motionBlurPlane(plane: ArrayLike<number>, height: number, width: number, kernel: MotionKernel): Float64Array {
  const out = new Float64Array(height * width);
  for (let t = 0; t < kernel.weights.length; t++) {
    const w = kernel.weights[t];
    if (w < 1e-12) continue;
    const ox = kernel.dx[t];
    const oy = kernel.dy[t];
    for (let y = 0; y < height; y++) {
      const sy = Math.min(Math.max(y + oy, 0), height - 1) * width;
      for (let x = 0; x < width; x++) {
        const sx = Math.min(Math.max(x + ox, 0), width - 1);
        out[y * width + x] += w * plane[sy + sx];
      }
    }
  }
  return out;
}
