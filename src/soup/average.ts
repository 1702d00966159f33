/**
 * Weight averaging of candidates into a soup:
 *
 *   θ_soup = Σ_i w_i θ_i / Σ_i w_i      (uniform: w_i = 1)
 *
 * over every floating-point tensor of the state dicts, BN running statistics
 * included. Integer tensors (BN's num_batches_tracked) are taken from the
 * first candidate. Candidates pruned with the same mask keep every pruned
 * weight at exactly 0 in the soup: an average of zeros is zero.
 *
 * @example
 * const soup = averageStates([a.state, b.state, c.state]);       // uniform soup
 * const weighted = averageStates(states, [0.5, 0.3, 0.2]);
 */
import { noGrad } from '../tensor/create.js';
import { keep, tidy } from '../tensor/scope.js';
import { isFloatingDType, type Tensor } from '../tensor/tensor.js';
import type { StateDict } from '../nn/module.js';
import { MergeError } from '../util/errors.js';

/** Throws MergeError unless every state has the same names, shapes and dtypes as the first. */
export function assertCompatibleStates(states: StateDict[], labels: string[] = states.map((_, i) => `candidate ${i}`)): void {
  if (states.length === 0) throw new MergeError('nothing to merge: no candidates');
  const [first] = states;
  states.forEach((s, i) => {
    if (i === 0) return;
    for (const name of first.keys())
      if (!s.has(name))
        throw new MergeError(`${labels[i]} has no tensor '${name}' (${labels[0]} has it): different architectures cannot be merged`);
    for (const name of s.keys())
      if (!first.has(name))
        throw new MergeError(
          `${labels[i]} has an extra tensor '${name}' that ${labels[0]} lacks: different architectures cannot be merged`,
        );
    for (const [name, t] of first) {
      const u = s.get(name) as Tensor;
      const a = t.shape.join('x');
      const b = u.shape.join('x');
      if (a !== b) throw new MergeError(`'${name}' is [${b}] in ${labels[i]} but [${a}] in ${labels[0]}`);
      if (t.dtype !== u.dtype) throw new MergeError(`'${name}' is ${u.dtype} in ${labels[i]} but ${t.dtype} in ${labels[0]}`);
    }
  });
}

/**
 * The weighted mean of state dicts, θ = Σ_i w_i θ_i / Σ_i w_i (uniform when
 * `weights` is omitted), over every floating-point tensor, BN running
 * statistics included (integer tensors such as num_batches_tracked are
 * copied from the first); accumulated in float64. Like
 * `torch.optim.swa_utils.AveragedModel` over a fixed set of models. Returns
 * new tensors (kept outside any scope: dispose them, e.g. `disposeState`).
 * Throws MergeError when the states differ in names, shapes or dtypes, or
 * for negative, non-finite or all-zero weights; `labels` name the states in
 * those messages.
 *
 * @example
 * const soup = averageStates(candidates.map((m) => m.stateDict()));
 * model.loadStateDict(soup);
 * disposeState(soup);
 */
export function averageStates(states: StateDict[], weights?: number[], labels?: string[]): StateDict {
  assertCompatibleStates(states, labels);
  const w = weights ?? states.map(() => 1);
  if (w.length !== states.length) throw new MergeError(`got ${w.length} weights for ${states.length} candidates`);
  if (w.some((x) => !Number.isFinite(x) || x < 0)) throw new MergeError(`weights must be finite and >= 0, got [${w.join(', ')}]`);
  const total = w.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new MergeError('weights sum to 0');
  const out: StateDict = new Map();
  noGrad(() => {
    for (const [name, t0] of states[0]) {
      const merged = tidy(() => {
        if (!isFloatingDType(t0.dtype)) return t0.detach().clone();
        // Accumulate in float64 so the mean does not depend on candidate order beyond rounding once.
        const acc = t0
          .detach()
          .to('float64')
          .mul(w[0] / total);
        for (let i = 1; i < states.length; i++) acc.add_((states[i].get(name) as Tensor).detach().to('float64'), w[i] / total);
        return acc.to(t0.dtype);
      });
      out.set(name, keep(merged));
    }
  });
  return out;
}

/** Frees every tensor of a state dict. */
export function disposeState(state: StateDict): void {
  for (const t of state.values()) t.dispose();
}
