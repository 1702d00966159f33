/**
 * Exporting a checkpoint as a self-describing dense or sparse file (the
 * formats: checkpoints/model-description.ts, docs/export.md) or as an ONNX
 * model (models/onnx/), behind `sparse-soups export`.
 *
 * @example
 * const r = await exportModel({ checkpoint: 'run/phase-3/soup-uniform.safetensors', output: 'soup.sparse.safetensors', format: 'sparse' });
 * r.ratio; // e.g. 0.09 at 90% sparsity: the sparse file is 9% of the dense one
 * const { model } = await loadModel('soup.sparse.safetensors'); // a ready Module (models/load.ts)
 * const o = await exportModel({ checkpoint: 'soup.sparse.safetensors', output: 'soup.onnx', format: 'onnx' });
 * o.normalization; // { mean: [0.286], std: [0.353] }: stated in the file's metadata (or in the graph with normalizeInGraph)
 */
import { exportStateDict, modelMetadata, type ExportFormat, type ExportResult } from '../checkpoints/model-description.js';
import type { StoragePolicy } from '../checkpoints/sparse-format.js';
import { writeFileAtomic } from '../io/atomic.js';
import { isFloatingDType } from '../tensor/tensor.js';
import { loadModel, type ZooModelDescription } from '../models/load.js';
import type { ModelOptions } from '../models/registry.js';
import { exportOnnx, type Normalization } from '../models/onnx/index.js';
import { getDatasetDefinition } from '../data/index.js';
import { ConfigError, SparseSoupsError } from '../util/errors.js';
import { checkpointLoadHints, type CheckpointHints } from './checkpoint-origin.js';

export interface ExportOptions extends CheckpointHints {
  /** A pipeline checkpoint or an exported file (dense or sparse). */
  checkpoint: string;
  output: string;
  format: ExportFormat;
  /** Sparse format only: `auto` (default) or one storage for every float32 tensor. */
  storage?: StoragePolicy;
}

export interface OnnxModelExportOptions extends CheckpointHints {
  /** A pipeline checkpoint or an exported file (dense or sparse). */
  checkpoint: string;
  output: string;
  format: 'onnx';
  /** Apply the dataset normalization in the graph (input pixel/255 in [0, 1]); default: stated in the metadata. */
  normalizeInGraph?: boolean;
}

export interface OnnxModelExportResult {
  path: string;
  format: 'onnx';
  /** Size of the written file. */
  bytes: number;
  opset: number;
  /** Nodes per ONNX operator. */
  operators: Record<string, number>;
  /** Non-zero float32 elements of the state dict (the zeros are in the file too). */
  nonzero: number;
  /** All float32 elements of the state dict. */
  total: number;
  /** The dataset normalization, when the dataset is known; where it is applied says `normalizeInGraph`. */
  normalization: Normalization | null;
  normalizeInGraph: boolean;
  /** The file's metadata_props. */
  metadata: Record<string, string>;
  model: ZooModelDescription;
}

/** Metadata of a source file that describes its layout, not the model: not carried into an ONNX file. */
const LAYOUT_KEYS = new Set(['format', 'bit_order', 'layout']);

/**
 * Exports a checkpoint: loads it into its model (so a file that does not
 * fit the model is refused before anything is written; run/checkpoint-origin.ts
 * says how the model is found), then writes the model's state dict in
 * `format` with the self-describing metadata, or the model as ONNX. The
 * source's other metadata (kind, phase, ...) is carried over.
 */
export async function exportModel(opts: OnnxModelExportOptions): Promise<OnnxModelExportResult>;
export async function exportModel(opts: ExportOptions): Promise<ExportResult<ModelOptions>>;
export async function exportModel(
  opts: ExportOptions | OnnxModelExportOptions,
): Promise<ExportResult<ModelOptions> | OnnxModelExportResult> {
  const { model, description, metadata } = await loadModel(opts.checkpoint, checkpointLoadHints(opts));
  try {
    if (opts.format !== 'onnx') {
      return await exportStateDict(model.stateDict(), description, opts.output, { format: opts.format, storage: opts.storage, metadata });
    }
    const normalizeInGraph = opts.normalizeInGraph ?? false;
    const normalization = datasetNormalization(description.dataset ?? opts.dataset, opts.dir, normalizeInGraph);
    const carried = Object.fromEntries(Object.entries(metadata).filter(([k]) => !LAYOUT_KEYS.has(k)));
    const onnx = exportOnnx(model, {
      inputShape: [description.inChannels, description.imageSize, description.imageSize],
      normalization: normalization ?? undefined,
      normalizeInGraph,
      metadata: { ...carried, ...modelMetadata(description) },
      graphName: description.name,
    });
    await writeFileAtomic(opts.output, onnx.bytes);
    let nonzero = 0;
    let total = 0;
    for (const t of model.stateDict().values()) {
      if (!isFloatingDType(t.dtype)) continue;
      nonzero += t.countNonzero();
      total += t.numel;
    }
    return {
      path: opts.output,
      format: 'onnx',
      bytes: onnx.bytes.byteLength,
      opset: onnx.opset,
      operators: onnx.operators,
      nonzero,
      total,
      normalization,
      normalizeInGraph,
      metadata: onnx.metadata,
      model: description,
    };
  } finally {
    model.dispose();
  }
}

/**
 * The per-channel mean and std of a registered dataset (loading its test
 * split when the registry does not know them, as for npy). Null when no
 * dataset is named or it cannot be read, unless the graph needs it
 * (`required`): then a ConfigError saying to pass --dataset (and --dir).
 */
function datasetNormalization(dataset: string | undefined, dir: string | undefined, required: boolean): Normalization | null {
  if (dataset === undefined) {
    if (!required) return null;
    throw new ConfigError(
      '--dataset',
      'normalizing in the graph needs the mean and std of the training data: pass --dataset <name> (and --dir)',
    );
  }
  try {
    const definition = getDatasetDefinition(dataset);
    const info = definition.info ?? definition.loadSplit('test', { dir });
    return { mean: [...info.mean], std: [...info.std] };
  } catch (e) {
    if (required || !(e instanceof SparseSoupsError)) throw e;
    return null;
  }
}
