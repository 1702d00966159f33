/**
 * Gradient checking against central finite differences, in float64.
 *
 * The function's output y (any shape) is reduced to the scalar
 * L = Σ y ⊙ R with a fixed random R, so one backward pass checks the whole
 * vector-Jacobian product: ∂L/∂xᵢ ≈ (L(x + εeᵢ) - L(x - εeᵢ)) / 2ε for every
 * element i of every input. Inputs must be small (each element costs two
 * forward passes) and away from kinks (|x| = 0 for abs, ties for max).
 *
 * @example
 * checkGradients((a, b) => a.mul(b).exp(), [randn([3], f64), randn([3], f64)]);
 */
import assert from 'node:assert/strict';
import { Generator, randn, tensor, tidy, type Tensor } from '../../src/tensor/index.js';

export interface GradcheckOptions {
  /** Finite-difference step (default 1e-6). */
  eps?: number;
  /** Tolerance: |analytic - numeric| <= atol + rtol·|numeric| (defaults 1e-6, 1e-4). */
  atol?: number;
  rtol?: number;
  /** Seed of the random projection R (default 0). */
  seed?: number;
  /** A name for failure messages. */
  name?: string;
  /** Accept an input whose gradient is zero everywhere (default: refused as a vacuous check). */
  allowZeroGradient?: boolean;
}

export interface GradientComparison {
  analytic: Float64Array[];
  numeric: Float64Array[];
  /** Largest |analytic - numeric| over all elements of all inputs. */
  maxAbsError: number;
}

const f64 = (t: Tensor): Float64Array => t.to('float64').toArray<'float64'>();

/** Computes both gradients of Σ fn(inputs) ⊙ R with respect to every input. */
export function compareGradients(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): GradientComparison {
  const eps = opts.eps ?? 1e-6;
  for (const [i, x] of inputs.entries()) {
    if (x.dtype !== 'float64') throw new TypeError(`gradcheck: input ${i} is ${x.dtype}; gradient checks need float64 inputs`);
  }
  const values = inputs.map(f64);
  const shapes = inputs.map((x) => x.shape);
  return tidy(() => {
    const probe = fn(...values.map((v, i) => tensor(v, shapes[i])));
    const projection = randn(probe.shape, { dtype: 'float64', generator: new Generator(opts.seed ?? 0) });
    const objective = (arrays: Float64Array[]): number =>
      tidy(() =>
        fn(...arrays.map((v, i) => tensor(v, shapes[i])))
          .mul(projection)
          .sum()
          .item(),
      );

    const leaves = values.map((v, i) => tensor(v, shapes[i]).requireGrad());
    fn(...leaves)
      .mul(projection)
      .sum()
      .backward();
    const analytic = leaves.map((leaf, i) => {
      const g = leaf.grad;
      return g === null ? new Float64Array(values[i].length) : f64(g);
    });

    const perturbed = values.map((v) => v.slice());
    const numeric = values.map((v, i) => {
      const out = new Float64Array(v.length);
      for (let j = 0; j < v.length; j++) {
        perturbed[i][j] = v[j] + eps;
        const plus = objective(perturbed);
        perturbed[i][j] = v[j] - eps;
        const minus = objective(perturbed);
        perturbed[i][j] = v[j];
        out[j] = (plus - minus) / (2 * eps);
      }
      return out;
    });

    let maxAbsError = 0;
    analytic.forEach((a, i) => a.forEach((g, j) => (maxAbsError = Math.max(maxAbsError, Math.abs(g - numeric[i][j])))));
    return { analytic, numeric, maxAbsError };
  });
}

/** Asserts that autograd's gradients of fn match finite differences at `inputs`. */
export function checkGradients(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): GradientComparison {
  const atol = opts.atol ?? 1e-6;
  const rtol = opts.rtol ?? 1e-4;
  const result = compareGradients(fn, inputs, opts);
  result.analytic.forEach((a, i) => {
    a.forEach((g, j) => {
      const n = result.numeric[i][j];
      assert.ok(
        Math.abs(g - n) <= atol + rtol * Math.abs(n),
        `${opts.name ?? 'gradcheck'}: input ${i} element ${j}: autograd ${g}, finite differences ${n}`,
      );
    });
    assert.ok(
      opts.allowZeroGradient === true || result.numeric[i].some((n) => Math.abs(n) > atol),
      `${opts.name ?? 'gradcheck'}: the gradient of input ${i} is zero everywhere, so the check proves nothing (pick other inputs)`,
    );
  });
  return result;
}
