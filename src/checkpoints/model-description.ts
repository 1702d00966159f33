/**
 * Self-describing model files: the metadata that says how to rebuild a
 * model, and writing and reading a state dict in the dense or sparse format.
 *
 * An exported file records, besides the weights, what rebuilds the model, so
 * `eval` (or a PyTorch user) needs nothing else:
 *
 * | key             | example               |
 * | --------------- | --------------------- |
 * | `model`         | `convnet`             |
 * | `model_options` | `{"hiddenSizes":[64]}` (JSON) |
 * | `in_channels`   | `1`                   |
 * | `num_classes`   | `10`                  |
 * | `image_size`    | `28`                  |
 * | `dataset`       | `fashion-mnist` (for information) |
 *
 * Two formats (docs/export.md): `dense`, a plain safetensors state dict
 * (`safetensors.torch.load_file` reads it), and `sparse`, the compact
 * layout of sparse-format.ts. Both hold the same bits: float32 zeros are
 * written as +0.0 in either.
 *
 * A pipeline checkpoint records only `model`; models/load.ts builds the
 * model of a file, and run/checkpoint-origin.ts finds the rest of a
 * checkpoint's description in its run's config.json.
 *
 * @example
 * const d: ModelDescription = { name: 'convnet', options: {}, inChannels: 1, numClasses: 10, imageSize: 28 };
 * const r = await exportStateDict(model.stateDict(), d, 'soup.sparse.safetensors', { format: 'sparse' });
 * r.ratio; // e.g. 0.09 at 90% sparsity: the sparse file is 9% of the dense one
 * const { state, metadata } = await readModelFile('soup.sparse.safetensors'); // the dense state dict again
 * readModelDescription(metadata, 'soup.sparse.safetensors'); // d
 */
import { encodeSafetensorsChunks, loadSafetensors, type SafeMetadata, type SafeTensor } from '../io/safetensors.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { Tensor } from '../tensor/tensor.js';
import { CheckpointError, DataFormatError } from '../util/errors.js';
import { toSafeTensor } from './state-dict.js';
import {
  canonicalizeZeros,
  countNonzero,
  decodeSparseStateDict,
  encodeSparseStateDict,
  isSparseFormat,
  SPARSE_STORAGES,
  type SparseStorage,
  type StoragePolicy,
} from './sparse-format.js';

export type ExportFormat = 'dense' | 'sparse';

/** Value of the `format` metadata key in pruning mask files (prune/mask.ts writes them); model readers refuse them. */
export const MASK_FILE_FORMAT = 'sparse-soups-mask';

/**
 * What rebuilds a model: its registry name and options, and the shape of its
 * data. `Options` is the model zoo's `ModelOptions` where models/ fills it in;
 * read from a file it is any JSON object.
 */
export interface ModelDescription<Options extends object = object> {
  /** Model registry name ('convnet', 'resnet20'). */
  name: string;
  /** Model-specific options ({} for most). */
  options: Options;
  inChannels: number;
  numClasses: number;
  /** Side of the square input images. */
  imageSize: number;
  /** The dataset it was trained on, when known (informational). */
  dataset?: string;
}

/** The metadata key of each field of a ModelDescription. */
export const DESCRIPTION_KEYS = {
  name: 'model',
  options: 'model_options',
  inChannels: 'in_channels',
  numClasses: 'num_classes',
  imageSize: 'image_size',
  dataset: 'dataset',
} as const;
const KEY = DESCRIPTION_KEYS;
/** The keys of the data shape: a file that has none of them does not describe itself (e.g. a pipeline checkpoint). */
export const SHAPE_KEYS = [KEY.inChannels, KEY.numClasses, KEY.imageSize] as const;
/** Metadata keys that describe a file's layout and are rewritten, not carried over, by an export. */
const LAYOUT_KEYS = new Set(['format', 'bit_order', 'layout', ...Object.values(KEY)]);

/** The metadata that makes a file self-describing (see the file comment). */
export function modelMetadata(d: ModelDescription): SafeMetadata {
  const out: SafeMetadata = {
    [KEY.name]: d.name,
    [KEY.options]: JSON.stringify(d.options),
    [KEY.inChannels]: String(d.inChannels),
    [KEY.numClasses]: String(d.numClasses),
    [KEY.imageSize]: String(d.imageSize),
  };
  if (d.dataset !== undefined) out[KEY.dataset] = d.dataset;
  return out;
}

/**
 * The description recorded in a file's metadata, or null when the file does
 * not record its input shape (e.g. a pipeline checkpoint). A partial or
 * malformed description is a DataFormatError naming `file` and the key.
 */
export function readModelDescription(metadata: SafeMetadata, file: string): ModelDescription | null {
  const present = SHAPE_KEYS.filter((k) => metadata[k] !== undefined);
  if (present.length === 0) return null;
  const missing = [KEY.name, ...SHAPE_KEYS].filter((k) => metadata[k] === undefined);
  if (missing.length > 0)
    throw new DataFormatError(
      file,
      `metadata has ${present.join(', ')} but not ${missing.join(', ')}: the model description is incomplete`,
    );
  const int = (key: string): number => {
    const value = Number(metadata[key]);
    if (!/^\d+$/.test(metadata[key]) || !Number.isSafeInteger(value) || value < 1)
      throw new DataFormatError(file, `metadata '${key}' must be a positive integer, got '${metadata[key]}'`);
    return value;
  };
  let options: unknown = {};
  if (metadata[KEY.options] !== undefined) {
    try {
      options = JSON.parse(metadata[KEY.options]);
    } catch {
      throw new DataFormatError(file, `metadata '${KEY.options}' is not JSON: '${metadata[KEY.options]}'`);
    }
    if (typeof options !== 'object' || options === null || Array.isArray(options))
      throw new DataFormatError(file, `metadata '${KEY.options}' must be a JSON object`);
  }
  const d: ModelDescription = {
    name: metadata[KEY.name],
    options: options as object,
    inChannels: int(KEY.inChannels),
    numClasses: int(KEY.numClasses),
    imageSize: int(KEY.imageSize),
  };
  if (metadata[KEY.dataset] !== undefined) d.dataset = metadata[KEY.dataset];
  return d;
}

/** A human-readable one-liner: `convnet {} for 1×28×28 images, 10 classes`. */
export function describeModel(d: ModelDescription): string {
  return `${d.name} ${JSON.stringify(d.options)} for ${d.inChannels}×${d.imageSize}×${d.imageSize} images, ${d.numClasses} classes`;
}

/** A model file's dense state dict (decoded if sparse) and metadata. */
export interface ModelFileContents {
  format: ExportFormat;
  state: Map<string, SafeTensor>;
  metadata: SafeMetadata;
}

/** Reads a dense or sparse model file (detected by its `format` metadata). */
export async function readModelFile(path: string): Promise<ModelFileContents> {
  const { tensors, metadata } = await loadSafetensors(path);
  if (metadata.format === MASK_FILE_FORMAT) throw new CheckpointError(`${path} is a pruning mask file, not a model`);
  if (isSparseFormat(metadata)) return { format: 'sparse', state: decodeSparseStateDict(tensors, metadata, path), metadata };
  return { format: 'dense', state: tensors, metadata };
}

export interface ExportResult<Options extends object = object> {
  path: string;
  format: ExportFormat;
  /** Size of the written file. */
  bytes: number;
  /** Size of the same model in the dense format. */
  denseBytes: number;
  /** bytes / denseBytes. */
  ratio: number;
  /** Non-zero float32 elements of the state dict (weights, biases, BN parameters and statistics). */
  nonzero: number;
  /** All float32 elements of the state dict. */
  total: number;
  /** Tensors per storage (all `dense` in the dense format). */
  storage: Record<SparseStorage, number>;
  model: ModelDescription<Options>;
}

export interface ExportStateDictOptions {
  format: ExportFormat;
  /** Sparse format only: `auto` (default) picks the smallest storage per tensor. */
  storage?: StoragePolicy;
  /** More metadata (e.g. `kind`); the layout and model keys cannot be overridden. */
  metadata?: SafeMetadata;
}

/** Writes a state dict (e.g. `model.stateDict()`) as a self-describing dense or sparse file, atomically. */
export async function exportStateDict<Options extends object>(
  state: ReadonlyMap<string, Tensor>,
  description: ModelDescription<Options>,
  output: string,
  opts: ExportStateDictOptions,
): Promise<ExportResult<Options>> {
  const dense = new Map<string, SafeTensor>();
  let nonzero = 0;
  let total = 0;
  for (const [name, t] of state) {
    const s = toSafeTensor(name, t); // a copy: safe to rewrite -0.0 in place
    if (s.dtype === 'F32') {
      canonicalizeZeros(s.data);
      nonzero += countNonzero(s);
      total += s.data.length;
    }
    dense.set(name, s);
  }
  const extra = Object.fromEntries(Object.entries(opts.metadata ?? {}).filter(([k]) => !LAYOUT_KEYS.has(k)));
  const describing = modelMetadata(description);
  const denseChunks = encodeSafetensorsChunks(dense, { format: 'pt', ...extra, ...describing }, output);
  const denseBytes = byteLength(denseChunks);
  const storage = Object.fromEntries(SPARSE_STORAGES.map((s) => [s, 0])) as Record<SparseStorage, number>;
  let chunks = denseChunks;
  if (opts.format === 'sparse') {
    const sparse = encodeSparseStateDict(dense, opts.storage ?? 'auto');
    for (const entry of sparse.layout) storage[entry.storage]++;
    chunks = encodeSafetensorsChunks(sparse.tensors, { ...extra, ...describing, ...sparse.metadata }, output);
  } else {
    storage.dense = dense.size;
  }
  await writeFileAtomic(output, chunks);
  const bytes = byteLength(chunks);
  return { path: output, format: opts.format, bytes, denseBytes, ratio: bytes / denseBytes, nonzero, total, storage, model: description };
}

function byteLength(chunks: Uint8Array[]): number {
  return chunks.reduce((n, c) => n + c.byteLength, 0);
}
