/**
 * Pruning criteria: which weights a pruning step removes. A registry by name
 * (`getCriterion`, `listCriteria`), each entry a pure function
 *
 *   (params, current, targetSparsity, { seed }) → PruningMask
 *
 * where `targetSparsity` is the fraction of all prunable weights that are
 * zero after the step. Weights already pruned by `current` stay pruned: they
 * count toward the target and are removed first, so masks only ever shrink.
 *
 * - `global` (default): one magnitude threshold over all prunable weights;
 *   prunes the round(s·N) weights with the smallest |w|.
 * - `uniform`: the same fraction in every layer; prunes round(s·n_l) weights
 *   of smallest |w| in each layer l.
 * - `random`: round(s·N) weights chosen uniformly at random over all
 *   prunable weights, from the seeded Rng (not libtorch's global RNG), so the
 *   same seed gives the same mask on every machine.
 *
 * Ties are broken by position (the parameter order, then row-major index:
 * the earlier weight is pruned first), so the pruned count is exact to the
 * weight even when many weights are equal (e.g. all zeros). The work runs in
 * libtorch on one flat score vector: one kthvalue for the threshold, then
 * elementwise comparisons; no JS loop over the weights.
 *
 * @example
 * const params = prunableParameters(model);
 * const mask = getCriterion('global')(params, null, 0.5358, {});
 * const next = getCriterion('global')(params, mask, 0.7846, {}); // keeps mask's zeros
 */
import type { Tensor } from '../tensor/tensor.js';
import { tensor, zeros, ones, cat, arange } from '../tensor/create.js';
import { tidy } from '../tensor/scope.js';
import { Rng } from '../util/rng.js';
import { CheckpointError, ConfigError } from '../util/errors.js';
import { PruningMask } from './mask.js';
import type { NamedTensor } from './prunable.js';

/** Options every criterion takes (a criterion ignores those it does not use). */
export interface CriterionOptions {
  /** Seed for `random` (default 0); ignored by the magnitude criteria. */
  seed?: number;
}

/**
 * A pruning criterion: the mask that prunes `params` to `targetSparsity`
 * (fraction of all their weights that are zero afterwards, in [0, 1)),
 * keeping every weight `current` already pruned pruned. Throws ConfigError
 * for a target outside [0, 1) or below the current sparsity, CheckpointError
 * when `current` does not fit `params`. Register your own with
 * `registerCriterion`.
 */
export type PruningCriterion = (
  params: NamedTensor[],
  current: PruningMask | null,
  targetSparsity: number,
  opts?: CriterionOptions,
) => PruningMask;

export const DEFAULT_CRITERION = 'global';

/**
 * A flat 0/1 keep-vector (float32) that prunes the k lowest `scores`, the
 * lower index first among equal scores: everything below the k-th smallest
 * score, then the earliest entries equal to it until k are pruned.
 */
export function pruneLowestScores(scores: Tensor, k: number): Tensor {
  const n = scores.numel;
  const device = scores.device;
  if (k <= 0) return ones([n], { device });
  if (k >= n) return zeros([n], { device });
  return tidy(() => {
    const threshold = scores.kthvalue(k).values; // the k-th smallest score
    const below = scores.lt(threshold);
    const atThreshold = scores.eq(threshold);
    const fromTies = k - below.countNonzero(); // >= 1 by the definition of kthvalue
    const index = arange(0, n, 1, { dtype: n < 2 ** 31 ? 'int32' : 'int64', device });
    const lastTie = index
      .maskedSelect(atThreshold)
      .select(0, fromTies - 1)
      .item();
    return below
      .logicalOr(atThreshold.logicalAnd(index.le(lastTie)))
      .logicalNot()
      .to('float32');
  });
}

function checkTarget(targetSparsity: number): void {
  if (!Number.isFinite(targetSparsity) || targetSparsity < 0 || targetSparsity > 1) {
    throw new ConfigError('prune.sparsity', `target sparsity must be a number in [0, 1], got ${targetSparsity}`);
  }
}

/** Params have distinct names; `current`, when given, masks exactly these names with the same shapes. */
function checkParams(params: NamedTensor[], current: PruningMask | null): void {
  const names = new Set<string>();
  for (const [name] of params) {
    if (names.has(name)) throw new ConfigError('prune.parameters', `parameter '${name}' is listed twice`);
    names.add(name);
  }
  if (current === null) return;
  const problems: string[] = [];
  for (const [name, p] of params) {
    const m = current.get(name);
    if (m === undefined) problems.push(`no mask for '${name}'`);
    else if (m.shape.join(',') !== p.shape.join(','))
      problems.push(`'${name}' is [${p.shape.join(', ')}], its mask [${m.shape.join(', ')}]`);
  }
  for (const name of current.names) if (!names.has(name)) problems.push(`mask has '${name}', which is not a prunable parameter`);
  if (problems.length > 0)
    throw new CheckpointError(`current pruning mask does not fit the parameters: ${problems.slice(0, 8).join('; ')}`);
}

/** Weights already pruned by `current` in each parameter. */
function alreadyPruned(params: NamedTensor[], current: PruningMask | null): number[] {
  if (current === null) return params.map(() => 0);
  const byName = new Map(current.perLayer().map((l) => [l.name, l.pruned]));
  return params.map(([name]) => byName.get(name) ?? 0);
}

function checkMonotone(k: number, pruned: number, total: number, target: number, where: string): void {
  if (k < pruned) {
    throw new ConfigError(
      'prune.sparsity',
      `target sparsity ${target} prunes ${k} of ${total} weights${where}, but the current mask already prunes ${pruned}; pruned weights stay pruned, so the target must not be below the current sparsity`,
    );
  }
}

/**
 * The prunable weights over all params and the round(s·N) of them a global
 * criterion prunes; ConfigError when `current` already prunes more.
 */
function globalPruneCount(params: NamedTensor[], current: PruningMask | null, targetSparsity: number): { total: number; k: number } {
  const total = params.reduce((n, [, p]) => n + p.numel, 0);
  const k = Math.round(targetSparsity * total);
  checkMonotone(
    k,
    alreadyPruned(params, current).reduce((a, b) => a + b, 0),
    total,
    targetSparsity,
    '',
  );
  return { total, k };
}

/** |w| flattened, with already-pruned weights scored -1 so they go first. */
function magnitudeScores(name: string, p: Tensor, mask: Tensor | undefined): Tensor {
  return tidy(() => {
    const scores = p.detach().abs().flatten();
    const nonFinite = scores.isfinite().logicalNot().countNonzero();
    if (nonFinite > 0)
      throw new ConfigError(
        'prune.parameters',
        `'${name}' has ${nonFinite} NaN or infinite weights; magnitude pruning needs finite weights`,
      );
    if (mask !== undefined) scores.maskedFill_(mask.flatten().eq(0), -1);
    return scores;
  });
}

/** Cuts a flat keep-vector into one mask per parameter. */
function splitKeep(keep: Tensor, params: NamedTensor[]): Map<string, Tensor> {
  return tidy(() => {
    const out = new Map<string, Tensor>();
    let offset = 0;
    for (const [name, p] of params) {
      out.set(
        name,
        keep
          .slice(0, offset, offset + p.numel)
          .reshape(p.shape)
          .clone(),
      );
      offset += p.numel;
    }
    return out;
  });
}

/** One score vector over all params (float64 if any parameter is). */
function concatScores(parts: Tensor[], params: NamedTensor[]): Tensor {
  const dtype = params.some(([, p]) => p.dtype === 'float64') ? 'float64' : 'float32';
  return cat(parts.map((s) => (s.dtype === dtype ? s : s.to(dtype))));
}

/**
 * Global magnitude pruning (the default of SMS; `torch.nn.utils.prune.
 * global_unstructured` with `L1Unstructured` in PyTorch): prunes
 * the round(s·N) weights of smallest |w| over all N prunable weights, one
 * threshold for every layer; weights `current` pruned count first. `params`:
 * `[name, weight]` pairs, e.g. `prunableParameters(model)`; s =
 * `targetSparsity` in [0, 1). The returned mask is new (dispose it when done).
 * Errors as for {@link PruningCriterion}.
 *
 * @example
 * const mask = globalMagnitudeMask(prunableParameters(model), null, 0.9);
 * mask.sparsity(); // 0.9
 * mask.apply(model);
 */
export function globalMagnitudeMask(params: NamedTensor[], current: PruningMask | null, targetSparsity: number): PruningMask {
  checkTarget(targetSparsity);
  checkParams(params, current);
  const { k } = globalPruneCount(params, current, targetSparsity);
  if (params.length === 0) return new PruningMask(new Map());
  const masks = tidy(() => {
    const scores = concatScores(
      params.map(([name, p]) => magnitudeScores(name, p, current?.get(name))),
      params,
    );
    return splitKeep(pruneLowestScores(scores, k), params);
  });
  return new PruningMask(masks);
}

/**
 * Layer-uniform magnitude pruning: prunes the round(s·n_l) weights of
 * smallest |w| in each layer l of n_l weights (the same fraction everywhere;
 * `torch.nn.utils.prune.l1_unstructured` per layer). Errors as for
 * {@link PruningCriterion}.
 */
export function uniformMagnitudeMask(params: NamedTensor[], current: PruningMask | null, targetSparsity: number): PruningMask {
  checkTarget(targetSparsity);
  checkParams(params, current);
  const pruned = alreadyPruned(params, current);
  const counts = params.map(([name, p], i) => {
    const k = Math.round(targetSparsity * p.numel);
    checkMonotone(k, pruned[i], p.numel, targetSparsity, ` of '${name}'`);
    return k;
  });
  const masks = tidy(() => {
    const out = new Map<string, Tensor>();
    params.forEach(([name, p], i) => {
      out.set(name, pruneLowestScores(magnitudeScores(name, p, current?.get(name)), counts[i]).reshape(p.shape));
    });
    return out;
  });
  return new PruningMask(masks);
}

/**
 * Random pruning (the usual sanity baseline): round(s·N) weights drawn
 * uniformly over all prunable weights, those `current` pruned first, from
 * the seeded Rng(`opts.seed`, default 0), so a seed gives the same mask on
 * every machine. Errors as for {@link PruningCriterion}; ConfigError for a
 * non-finite seed.
 */
export function randomMask(
  params: NamedTensor[],
  current: PruningMask | null,
  targetSparsity: number,
  opts: CriterionOptions = {},
): PruningMask {
  checkTarget(targetSparsity);
  checkParams(params, current);
  const seed = opts.seed ?? 0;
  if (!Number.isFinite(seed)) throw new ConfigError('prune.seed', `seed must be a finite number, got ${seed}`);
  const { total, k } = globalPruneCount(params, current, targetSparsity);
  if (params.length === 0) return new PruningMask(new Map());
  // A random 32-bit score per weight (exact in float64; -1 marks the pruned).
  // Far faster than a permutation; the rare equal scores fall back to position.
  const rng = new Rng(seed);
  const draws = new Float64Array(total);
  for (let i = 0; i < total; i++) draws[i] = rng.nextUint32();
  const masks = tidy(() => {
    const device = params[0][1].device;
    const scores = tensor(draws, [total], { device });
    if (current !== null) {
      const keepNow = cat(params.map(([name]) => current.get(name)!.flatten()));
      scores.maskedFill_(keepNow.eq(0), -1);
    }
    return splitKeep(pruneLowestScores(scores, k), params);
  });
  return new PruningMask(masks);
}

interface CriterionEntry {
  description: string;
  fn: PruningCriterion;
}

const CRITERIA = new Map<string, CriterionEntry>([
  ['global', { description: 'one magnitude threshold |w| over all prunable weights (default)', fn: globalMagnitudeMask }],
  ['uniform', { description: 'the same fraction of smallest |w| in every layer', fn: uniformMagnitudeMask }],
  ['random', { description: 'weights chosen uniformly at random over all prunable weights, seeded', fn: randomMask }],
]);

/** The criterion registered under `name`; ConfigError listing the valid names otherwise. */
export function getCriterion(name: string): PruningCriterion {
  const entry = CRITERIA.get(name);
  if (entry === undefined) {
    throw new ConfigError('pruning.criterion', `unknown pruning criterion '${name}'; valid: ${listCriteria().join(', ')}`);
  }
  return entry.fn;
}

/** Registered criterion names. */
export function listCriteria(): string[] {
  return [...CRITERIA.keys()];
}

/** One-line description of a registered criterion. */
export function describeCriterion(name: string): string {
  getCriterion(name);
  return CRITERIA.get(name)!.description;
}

/** Registers a criterion (e.g. from a plugin); refuses to replace an existing name. */
export function registerCriterion(name: string, description: string, fn: PruningCriterion): void {
  if (CRITERIA.has(name)) throw new ConfigError('pruning.criterion', `a criterion named '${name}' is already registered`);
  CRITERIA.set(name, { description, fn });
}

/** Which criterion `computeMask` uses and the mask it starts from. */
export interface ComputeMaskOptions extends CriterionOptions {
  /** Registered criterion name (default 'global'). */
  criterion?: string;
  /** The mask of the previous phase; its zeros stay pruned. */
  current?: PruningMask | null;
}

/**
 * The mask that prunes `params` to `targetSparsity` with the named criterion.
 *
 * @example
 * const mask = computeMask(prunableParameters(parent), 0.9, { criterion: 'global' });
 */
export function computeMask(params: NamedTensor[], targetSparsity: number, opts: ComputeMaskOptions = {}): PruningMask {
  return getCriterion(opts.criterion ?? DEFAULT_CRITERION)(params, opts.current ?? null, targetSparsity, { seed: opts.seed });
}
