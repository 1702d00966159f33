/**
 * How far apart candidates lie in weight space, each candidate taken as one
 * flat vector of its float tensors (concatenated in the first state dict's
 * order):
 *
 *   L2(i, j)    = ‖x_i - x_j‖₂
 *   angle(i, j) = arccos(⟨x_i, x_j⟩ / (‖x_i‖ ‖x_j‖)), in degrees
 *   toMean(i)   = ‖x_i - x̄‖₂, x̄ = (1/m) Σ_j x_j (the uniform soup's weights)
 *
 * Which tensors: by default (`include: 'parameters'`) the parameters only
 * (prunable weights, biases, BN affine weights), not the BN running
 * statistics, which are recomputed after merging anyway; `include: 'all'`
 * takes every float tensor, buffers included. A parameter is told from a
 * buffer by `model` when given, else by name (`running_mean`,
 * `running_var`, `num_batches_tracked` are buffers). Integer tensors never
 * count. Everything is computed in float64 from one Gram matrix G_ij =
 * ⟨x_i, x_j⟩, accumulated tensor by tensor.
 *
 * @example
 * const d = pairwiseDistances([a.stateDict(), b.stateDict(), c.stateDict()]);
 * d.pairwiseL2[0][1];            // ‖a - b‖
 * d.pairwiseAngleDegrees[0][1];  // angle between a and b
 * d.toMean;                      // [‖a - x̄‖, ‖b - x̄‖, ‖c - x̄‖]
 */
import type { Module } from '../nn/module.js';
import { isFloatingDType, type Tensor } from '../tensor/tensor.js';
import { stack } from '../tensor/create.js';
import { tidy } from '../tensor/scope.js';
import { MergeError } from '../util/errors.js';

export interface DistanceOptions {
  /** 'parameters' (default): no BN running statistics; 'all': every float tensor. */
  include?: 'parameters' | 'all';
  /** Tells parameters from buffers exactly (else: by name). */
  model?: Module;
  /** Exactly these tensors (overrides include/model). */
  names?: string[];
}

/** Distances between m candidates' weights, each flattened into one vector θ_i (`pairwiseDistances`). */
export interface CandidateDistances {
  /** The tensors the vectors are made of. */
  names: string[];
  /** Total elements per vector. */
  elements: number;
  /** m × m, ‖θ_i − θ_j‖₂. */
  pairwiseL2: number[][];
  /** m × m, arccos(θ_i·θ_j / (‖θ_i‖‖θ_j‖)) in degrees in [0, 180]; NaN where a vector is all zeros. */
  pairwiseAngleDegrees: number[][];
  /** ‖θ_i − θ̄‖₂ for each candidate, θ̄ their mean (the uniform soup's weights). */
  toMean: number[];
}

const BUFFER_SUFFIXES = ['running_mean', 'running_var', 'num_batches_tracked'];

function selectNames(first: Map<string, Tensor>, opts: DistanceOptions): string[] {
  if (opts.names !== undefined) return opts.names;
  const include = opts.include ?? 'parameters';
  const params = opts.model ? new Set(opts.model.namedParameters().map(([n]) => n)) : null;
  return [...first]
    .filter(([name, t]) => {
      if (!isFloatingDType(t.dtype)) return false;
      if (include === 'all') return true;
      if (params !== null) return params.has(name);
      const last = name.slice(name.lastIndexOf('.') + 1);
      return !BUFFER_SUFFIXES.includes(last);
    })
    .map(([name]) => name);
}

/** Pairwise L2 distances and angles between candidate state dicts, and each one's distance to their mean. */
export function pairwiseDistances(states: Map<string, Tensor>[], opts: DistanceOptions = {}): CandidateDistances {
  const m = states.length;
  if (m === 0) throw new MergeError('pairwiseDistances: no candidates given');
  const names = selectNames(states[0], opts);
  const problems: string[] = [];
  for (const name of names) {
    const shape = states[0].get(name)?.shape;
    states.forEach((s, i) => {
      const t = s.get(name);
      if (t === undefined) problems.push(`candidate ${i} has no '${name}'`);
      else if (!isFloatingDType(t.dtype)) problems.push(`'${name}' of candidate ${i} is ${t.dtype}, not a float tensor`);
      else if (shape === undefined || t.shape.join(',') !== shape.join(','))
        problems.push(`'${name}' of candidate ${i} is [${t.shape.join(', ')}], candidate 0 has [${shape?.join(', ') ?? 'none'}]`);
    });
  }
  if (problems.length > 0) throw new MergeError(`candidates cannot be compared: ${problems.slice(0, 8).join('; ')}`);

  const gram = Array.from({ length: m }, () => new Float64Array(m));
  let elements = 0;
  for (const name of names) {
    elements += states[0].get(name)!.numel;
    const g = tidy(() => {
      const x = stack(states.map((s) => s.get(name)!.detach().flatten().to('float64')));
      return x.matmul(x.transpose(0, 1)).toArray<'float64'>();
    });
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) gram[i][j] += g[i * m + j];
  }

  const rowSum = gram.map((row) => row.reduce((a, b) => a + b, 0));
  const totalSum = rowSum.reduce((a, b) => a + b, 0);
  const pairwiseL2 = gram.map((row, i) =>
    Array.from(row, (gij, j) => (i === j ? 0 : Math.sqrt(Math.max(0, gram[i][i] + gram[j][j] - 2 * gij)))),
  );
  const pairwiseAngleDegrees = gram.map((row, i) =>
    Array.from(row, (gij, j) => {
      const norms = Math.sqrt(gram[i][i] * gram[j][j]);
      if (norms === 0) return NaN;
      if (i === j) return 0;
      return (Math.acos(Math.min(1, Math.max(-1, gij / norms))) * 180) / Math.PI;
    }),
  );
  const toMean = gram.map((row, i) => Math.sqrt(Math.max(0, row[i] - (2 * rowSum[i]) / m + totalSum / (m * m))));
  return { names, elements, pairwiseL2, pairwiseAngleDegrees, toMean };
}
