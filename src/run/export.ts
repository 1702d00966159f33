/**
 * Exporting a checkpoint as a self-describing dense or sparse file (the
 * formats: checkpoints/model-description.ts, docs/export.md), behind
 * `sparse-soups export`.
 *
 * @example
 * const r = await exportModel({ checkpoint: 'run/phase-3/soup-uniform.safetensors', output: 'soup.sparse.safetensors', format: 'sparse' });
 * r.ratio; // e.g. 0.13: the sparse file is 13% of the dense one
 * const { model } = await loadModel('soup.sparse.safetensors'); // a ready Module (models/load.ts)
 */
import { exportStateDict, type ExportFormat, type ExportResult } from '../checkpoints/model-description.js';
import type { StoragePolicy } from '../checkpoints/sparse-format.js';
import { loadModel } from '../models/load.js';
import type { ModelOptions } from '../models/registry.js';
import { checkpointLoadHints, type CheckpointHints } from './checkpoint-origin.js';

export interface ExportOptions extends CheckpointHints {
  /** A pipeline checkpoint or an exported file (dense or sparse). */
  checkpoint: string;
  output: string;
  format: ExportFormat;
  /** Sparse format only: `auto` (default) or one storage for every float32 tensor. */
  storage?: StoragePolicy;
}

/**
 * Exports a checkpoint: loads it into its model (so a file that does not
 * fit the model is refused before anything is written; run/checkpoint-origin.ts
 * says how the model is found), then writes the model's state dict in
 * `format` with the self-describing metadata. The source's other metadata
 * (kind, phase, ...) is carried over.
 */
export async function exportModel(opts: ExportOptions): Promise<ExportResult<ModelOptions>> {
  const { model, description, metadata } = await loadModel(opts.checkpoint, checkpointLoadHints(opts));
  try {
    return await exportStateDict(model.stateDict(), description, opts.output, { format: opts.format, storage: opts.storage, metadata });
  } finally {
    model.dispose();
  }
}
