/**
 * Exporting a trained model, and reading it back.
 *
 * An exported file is self-describing: besides the weights, its metadata
 * records what rebuilds the model, so `eval` (or a PyTorch user) needs
 * nothing else:
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
 * A pipeline checkpoint records only `model`; the rest comes from the run's
 * `config.json` (found beside the checkpoint or one folder up), or from the
 * caller's `model` / `dataset` hints (`--model`, `--dataset` on the CLI).
 *
 * @example
 * const r = await exportModel({ checkpoint: 'run/phase-3/soup-uniform.safetensors', output: 'soup.sparse.safetensors', format: 'sparse' });
 * r.ratio; // e.g. 0.13: the sparse file is 13% of the dense one
 * const { model } = await loadModelFile('soup.sparse.safetensors'); // a ready Module
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { encodeSafetensorsChunks, loadSafetensors, type SafeMetadata, type SafeTensor } from '../io/safetensors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { fromSafeTensor, toSafeTensor } from '../checkpoints/state-dict.js';
import type { Module, StateDict } from '../nn/module.js';
import { createModel, listModels, type ModelOptions } from '../models/registry.js';
import { getDatasetDefinition } from '../data/index.js';
import { MASK_FILE_FORMAT } from '../prune/mask.js';
import { parseSmsConfig, type SmsConfig } from '../sms/config.js';
import { Generator } from '../tensor/tensor.js';
import { CheckpointError, ConfigError, DataFormatError } from '../util/errors.js';
import {
  canonicalizeZeros,
  countNonzero,
  decodeSparseStateDict,
  encodeSparseStateDict,
  isSparseFormat,
  SPARSE_STORAGES,
  type SparseStorage,
  type StoragePolicy,
} from '../checkpoints/sparse-format.js';

export type ExportFormat = 'dense' | 'sparse';

/** What rebuilds a model: its registry name and options, and the shape of its data. */
export interface ModelDescription {
  /** Model registry name ('convnet', 'resnet20'). */
  name: string;
  /** Model-specific options ({} for most). */
  options: ModelOptions;
  inChannels: number;
  numClasses: number;
  /** Side of the square input images. */
  imageSize: number;
  /** The dataset it was trained on, when known (informational). */
  dataset?: string;
}

/** Where a description comes from when the file alone does not say (the CLI's --model, --model-options, --dataset, --dir). */
export interface ModelHints {
  /** Model registry name; overrides the file's `model`. */
  model?: string;
  /** Model options; override the run config's. */
  modelOptions?: ModelOptions;
  /** Dataset whose shape and classes the model takes (when the file does not record them). */
  dataset?: string;
  /** Directory of the dataset's files (only needed for datasets without built-in shape info, e.g. npy). */
  dir?: string;
}

const KEY = {
  name: 'model',
  options: 'model_options',
  inChannels: 'in_channels',
  numClasses: 'num_classes',
  imageSize: 'image_size',
  dataset: 'dataset',
} as const;
const SHAPE_KEYS = [KEY.inChannels, KEY.numClasses, KEY.imageSize] as const;
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
    options: options as ModelOptions,
    inChannels: int(KEY.inChannels),
    numClasses: int(KEY.numClasses),
    imageSize: int(KEY.imageSize),
  };
  if (metadata[KEY.dataset] !== undefined) d.dataset = metadata[KEY.dataset];
  return d;
}

/** Input channels, classes and image size of a registered dataset (loads its test split only when the registry does not know them). */
export function datasetShape(dataset: string, dir?: string): Pick<ModelDescription, 'inChannels' | 'numClasses' | 'imageSize'> {
  const definition = getDatasetDefinition(dataset);
  const info = definition.info ?? definition.loadSplit('test', { dir });
  const [channels, height, width] = info.imageShape;
  if (height !== width)
    throw new ConfigError('--dataset', `dataset '${dataset}' has ${height}×${width} images; the models take square images`);
  return { inChannels: channels, numClasses: info.numClasses, imageSize: height };
}

/** A fresh model of the description (weights from `seed`; they are about to be overwritten). */
export function createDescribedModel(d: ModelDescription, seed = 0): Module {
  return createModel(d.name, {
    ...d.options,
    inChannels: d.inChannels,
    numClasses: d.numClasses,
    imageSize: d.imageSize,
    generator: new Generator(seed),
  });
}

/** A human-readable one-liner: `convnet {} for 1×28×28 images, 10 classes`. */
export function describeModel(d: ModelDescription): string {
  return `${d.name} ${JSON.stringify(d.options)} for ${d.inChannels}×${d.imageSize}×${d.imageSize} images, ${d.numClasses} classes`;
}

/** The SMS config of the run a checkpoint belongs to (`config.json` beside it or one folder up), or null. */
export function findRunConfig(checkpoint: string): SmsConfig | null {
  for (const dir of [dirname(checkpoint), dirname(dirname(checkpoint))]) {
    const file = join(dir, 'config.json');
    if (!existsSync(file)) continue;
    try {
      return parseSmsConfig(JSON.parse(readFileSync(file, 'utf8')), file);
    } catch {
      return null; // not a run config: ignore it rather than fail the export
    }
  }
  return null;
}

/**
 * The description of the model in `file`: the file's own (hints may
 * override name and options), else assembled from the hints, the file's
 * `model` key and the run's config.json. Throws ConfigError saying which
 * option to pass when neither says the model or the data shape.
 */
export function resolveModelDescription(file: string, metadata: SafeMetadata, hints: ModelHints = {}): ModelDescription {
  const own = readModelDescription(metadata, file);
  if (own !== null) {
    const overridden = hints.model !== undefined && hints.model !== own.name;
    return { ...own, name: hints.model ?? own.name, options: hints.modelOptions ?? (overridden ? {} : own.options) };
  }
  const run = findRunConfig(file);
  const name = hints.model ?? metadata[KEY.name] ?? run?.model.name;
  if (name === undefined) {
    throw new ConfigError(
      '--model',
      `${file} does not say which model it holds (no '${KEY.name}' metadata, no run config.json beside it): pass --model <name> ` +
        `(${listModels()
          .map((m) => m.name)
          .join(', ')}) and --dataset <name>`,
    );
  }
  const dataset = hints.dataset ?? run?.data.dataset;
  if (dataset === undefined) {
    throw new ConfigError(
      '--dataset',
      `${file} holds a '${name}' but does not record its input shape and classes (metadata ${SHAPE_KEYS.join(', ')}): pass --dataset <name> (the dataset it was trained on)`,
    );
  }
  const options = hints.modelOptions ?? (run !== null && run.model.name === name ? (run.model.options as ModelOptions) : {});
  return { name, options, ...datasetShape(dataset, hints.dir ?? run?.data.dir ?? undefined), dataset };
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

export interface LoadedModel {
  model: Module;
  description: ModelDescription;
  format: ExportFormat;
  metadata: SafeMetadata;
}

/**
 * Builds the model a dense or sparse file describes and loads its weights.
 * A state dict that does not fit (another model, other options) is a
 * CheckpointError naming the keys. The caller disposes the model.
 */
export async function loadModelFile(path: string, hints: ModelHints = {}): Promise<LoadedModel> {
  const { format, state, metadata } = await readModelFile(path);
  const description = resolveModelDescription(path, metadata, hints);
  const model = createDescribedModel(description);
  const tensors = new Map<string, ReturnType<typeof fromSafeTensor>>();
  try {
    assertStateFits(state, model, path, description);
    for (const [name, s] of state) tensors.set(name, fromSafeTensor(name, s, path));
    model.loadStateDict(tensors, { origin: path });
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  return { model, description, format, metadata };
}

/**
 * Throws CheckpointError unless the file has exactly the model's names and
 * shapes, listing the missing, unexpected and misshapen keys by group (a
 * checkpoint of another model typically has all three).
 */
function assertStateFits(state: ReadonlyMap<string, SafeTensor>, model: Module, file: string, d: ModelDescription): void {
  const own = model.stateDict();
  const missing = [...own.keys()].filter((name) => !state.has(name));
  const unexpected = [...state.keys()].filter((name) => !own.has(name));
  const misshapen: string[] = [];
  for (const [name, t] of own) {
    const s = state.get(name);
    if (s !== undefined && (s.shape.length !== t.shape.length || s.shape.some((n, i) => n !== t.shape[i]))) {
      misshapen.push(`'${name}' is [${s.shape.join(', ')}] in the file, [${t.shape.join(', ')}] in the model`);
    }
  }
  if (missing.length + unexpected.length + misshapen.length === 0) return;
  const list = (items: string[], separator: string): string =>
    items.slice(0, 5).join(separator) + (items.length > 5 ? ` and ${items.length - 5} more` : '');
  const quoted = (names: string[]): string[] => names.map((n) => `'${n}'`);
  const groups = [
    missing.length > 0 && `${missing.length} missing: ${list(quoted(missing), ', ')}`,
    unexpected.length > 0 && `${unexpected.length} unexpected: ${list(quoted(unexpected), ', ')}`,
    misshapen.length > 0 && `${misshapen.length} of another shape: ${list(misshapen, '; ')}`,
  ].filter(Boolean);
  throw new CheckpointError(
    `${file} does not fit ${describeModel(d)}. Keys ${groups.join('. Keys ')}. Is it a checkpoint of another model? Pass the model and options it was trained with (--model, --model-options).`,
  );
}

export interface ExportResult {
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
  model: ModelDescription;
}

export interface ExportStateDictOptions {
  format: ExportFormat;
  /** Sparse format only: `auto` (default) picks the smallest storage per tensor. */
  storage?: StoragePolicy;
  /** More metadata (e.g. `kind`); the layout and model keys cannot be overridden. */
  metadata?: SafeMetadata;
}

/** Writes a state dict (e.g. `model.stateDict()`) as a self-describing dense or sparse file, atomically. */
export async function exportStateDict(
  state: StateDict,
  description: ModelDescription,
  output: string,
  opts: ExportStateDictOptions,
): Promise<ExportResult> {
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

export interface ExportOptions extends ModelHints {
  /** A pipeline checkpoint or an exported file (dense or sparse). */
  checkpoint: string;
  output: string;
  format: ExportFormat;
  /** Sparse format only: `auto` (default) or one storage for every float32 tensor. */
  storage?: StoragePolicy;
}

/**
 * Exports a checkpoint: loads it into its model (so a file that does not
 * fit the model is refused before anything is written), then writes the
 * model's state dict in `format` with the self-describing metadata. The
 * source's other metadata (kind, phase, ...) is carried over.
 */
export async function exportModel(opts: ExportOptions): Promise<ExportResult> {
  const { model, description, metadata } = await loadModelFile(opts.checkpoint, opts);
  try {
    return await exportStateDict(model.stateDict(), description, opts.output, { format: opts.format, storage: opts.storage, metadata });
  } finally {
    model.dispose();
  }
}

function byteLength(chunks: Uint8Array[]): number {
  return chunks.reduce((n, c) => n + c.byteLength, 0);
}
