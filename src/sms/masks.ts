/**
 * Masks on disk (bit-packed safetensors with a checksum sidecar) and the
 * pruning step of a phase: prune(parent, sparsity) → mask file.
 */
import { sha256OfFile } from '../io/atomic.js';
import { saveSafetensors, loadSafetensors } from '../io/safetensors.js';
import { PruningMask } from '../prune/mask.js';
import { getCriterion } from '../prune/criteria.js';
import { prunableParameters } from '../prune/prunable.js';
import { noGrad } from '../tensor/create.js';
import { tidy } from '../tensor/scope.js';
import type { SmsConfig } from './config.js';
import { loadModel } from './context.js';
import { computeDevice } from './device.js';
import { recordChecksum, type CheckpointRef } from '../checkpoints/store.js';
import { CheckpointError } from '../util/errors.js';

export async function saveMask(path: string, mask: PruningMask): Promise<CheckpointRef> {
  const { tensors, metadata } = mask.toSafeTensors();
  await saveSafetensors(path, tensors, { ...metadata, hash: mask.hash() });
  return recordChecksum(path);
}

/** Loads a mask file (its checksum verified first) onto `device` (default cpu: pass the run's device, where the model is). */
export async function loadMask(ref: CheckpointRef, device?: string): Promise<PruningMask> {
  const actual = await sha256OfFile(ref.path);
  if (actual !== ref.sha256)
    throw new CheckpointError(`${ref.path}: mask file checksum does not match the recorded one (corrupted or replaced)`);
  const { tensors, metadata } = await loadSafetensors(ref.path);
  return PruningMask.fromSafeTensors(tensors, metadata, { origin: ref.path, device });
}

export interface PruneResult {
  mask: CheckpointRef;
  maskHash: string;
  sparsity: number;
  /** ‖w − w⊙m‖ / ‖w‖ over the prunable weights (the norm drop ALLR uses). */
  normDrop: number;
  /** Fraction of the weights alive before this step that it removed. */
  prunedFraction: number;
}

/** Prunes the parent checkpoint to `targetSparsity` (keeping what `current` pruned) and saves the mask. */
export async function pruneCheckpoint(
  config: SmsConfig,
  parent: CheckpointRef,
  current: CheckpointRef | null,
  targetSparsity: number,
  seed: number,
  output: string,
): Promise<PruneResult> {
  const model = await loadModel(config, parent);
  let currentMask: PruningMask | null = null;
  try {
    currentMask = current ? await loadMask(current, computeDevice(config)) : null;
    const params = prunableParameters(model, {
      exclude: config.pruning.exclude,
      includeFirst: config.pruning.includeFirst,
      includeLast: config.pruning.includeLast,
    });
    const mask = getCriterion(config.pruning.criterion)(params, currentMask, targetSparsity, { seed });
    try {
      const before = currentMask ? currentMask.sparsity() : 0;
      const after = mask.sparsity();
      const normDrop = noGrad(() =>
        tidy(() => {
          let removed = 0;
          let total = 0;
          for (const [name, w] of params) {
            const m = mask.get(name);
            total += w.square().sum().item();
            if (m) removed += w.mul(m.neg().add(1)).square().sum().item();
          }
          return total > 0 ? Math.sqrt(removed / total) : 0;
        }),
      );
      const ref = await saveMask(output, mask);
      return {
        mask: ref,
        maskHash: mask.hash(),
        sparsity: after,
        normDrop,
        prunedFraction: before < 1 ? (after - before) / (1 - before) : 0,
      };
    } finally {
      mask.dispose();
    }
  } finally {
    currentMask?.dispose();
    model.dispose();
  }
}
