/**
 * The SGD update as one native call for all parameters (torch.optim.SGD's
 * math; see optim/SGD, which owns the buffers and the defaults).
 *
 * @example
 * buffers = sgdStep(params, buffers, { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 5e-4, nesterov: true });
 */
import { native } from './native.js';
import { Tensor } from './tensor.js';
import { keep } from './scope.js';

export interface SgdStepOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

/**
 * Updates every parameter that has a gradient in place, without autograd, and
 * returns its momentum buffer: the given Tensor when one was updated in place,
 * a new one on a parameter's first step with momentum, null without momentum
 * or gradient. New buffers are kept (exempt from every scope): they carry the
 * momentum into later steps, so a `tidy` around the step must not free them.
 * With masks (one per parameter, null for unmasked ones), each step ends with
 * p ← p⊙m and b ← b⊙m.
 */
export function sgdStep(
  params: Tensor[],
  buffers: (Tensor | null)[],
  opts: SgdStepOptions,
  masks: (Tensor | null)[] | null = null,
): (Tensor | null)[] {
  const out = native.sgdStep(
    params.map((p) => p.handle),
    buffers.map((b) => b?.handle ?? null),
    opts.lr,
    opts.momentum,
    opts.dampening,
    opts.weightDecay,
    opts.nesterov,
    masks === null ? null : masks.map((m) => m?.handle ?? null),
  );
  // The addon hands back the very handle it was given for an existing buffer.
  return out.map((h, i) => (h === null || h === buffers[i]?.handle ? (buffers[i] ?? null) : keep(new Tensor(h))));
}
