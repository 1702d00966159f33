/**
 * Loading a model from a file: a pipeline checkpoint or an export, dense or
 * sparse. The file's description (checkpoints/model-description.ts) names
 * the zoo model and its input shape; the model is built from it and the
 * weights are loaded, refused with a CheckpointError when they do not fit.
 *
 * A file that does not record its input shape (a pipeline checkpoint, a bare
 * state dict) needs `hints.describe`; run/checkpoint-origin.ts makes one
 * from the run's config.json or a dataset.
 *
 * @example
 * const { model, description } = await loadModel('soup.sparse.safetensors'); // a ready Module
 * description; // { name: 'convnet', options: {}, inChannels: 1, numClasses: 10, imageSize: 28, dataset: 'fashion-mnist' }
 * model.dispose();
 */
import type { SafeMetadata, SafeTensor } from '../io/safetensors.js';
import type { Module } from '../nn/module.js';
import { adaptStateDict, describeStateDictMismatch } from '../nn/adapt-state-dict.js';
import type { Tensor } from '../tensor/tensor.js';
import { Generator } from '../tensor/tensor.js';
import { fromSafeTensor, loadedDType } from '../checkpoints/state-dict.js';
import {
  DESCRIPTION_KEYS,
  SHAPE_KEYS,
  describeModel,
  readModelDescription,
  readModelFile,
  type ExportFormat,
  type ModelDescription,
} from '../checkpoints/model-description.js';
import { CheckpointError } from '../util/errors.js';
import { createModel, type ModelOptions } from './registry.js';
import { loadUserModel, parseUserModelName } from './user-module.js';

/** A description of a zoo model. */
export type ZooModelDescription = ModelDescription<ModelOptions>;

/** What the file alone may not say (the CLI's --model and --model-options). */
export interface LoadModelHints {
  /** Model registry name; overrides the file's `model` (and then its options, unless `modelOptions` is given). */
  model?: string;
  /** Model options; override the file's. */
  modelOptions?: ModelOptions;
  /**
   * The description of a file that does not record its input shape, asked
   * only for such a file. `name` is `model` above or the file's `model` key,
   * when either says.
   */
  describe?: (file: string, name: string | undefined) => ZooModelDescription;
}

/** A model built from a file's description with its weights loaded (`loadModel`). */
export interface LoadedModel {
  model: Module;
  /** Which zoo model, its options and input shape. */
  description: ZooModelDescription;
  /** 'dense' (a state dict) or 'sparse' (values + bitmask, docs/export.md). */
  format: ExportFormat;
  /** The file's safetensors metadata. */
  metadata: SafeMetadata;
}

/**
 * Builds the model a dense or sparse file describes and loads its weights.
 * A state dict that does not fit (another model, other options) is a
 * CheckpointError naming the keys. The caller disposes the model.
 */
export async function loadModel(path: string, hints: LoadModelHints = {}): Promise<LoadedModel> {
  // A malformed or inconsistent file (sparse: every count, position and entry checked) fails here, before any model is built.
  const { format, state, metadata } = await readModelFile(path);
  const description = resolveDescription(path, metadata, hints);
  const model = await buildDescribedModel(description);
  const tensors = new Map<string, Tensor>();
  try {
    // A file of another model fails here, from its names, shapes and dtypes, before any of its tensors is made.
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
 * A fresh model of the description, a registry model or a user module's
 * (`module:<file>#<export>`, imported first; a missing file or export is a
 * UserModelError naming both). Weights from `seed`.
 */
export async function buildDescribedModel(d: ZooModelDescription, seed = 0): Promise<Module> {
  const user = parseUserModelName(d.name);
  if (user === null) return createDescribedModel(d, seed);
  const factory = await loadUserModel(user.file, user.exportName);
  return factory({
    ...d.options,
    inChannels: d.inChannels,
    numClasses: d.numClasses,
    imageSize: d.imageSize,
    generator: new Generator(seed),
  });
}

/** A fresh registry model of the description (weights from `seed`; they are about to be overwritten). */
export function createDescribedModel(d: ZooModelDescription, seed = 0): Module {
  return createModel(d.name, {
    ...d.options,
    inChannels: d.inChannels,
    numClasses: d.numClasses,
    imageSize: d.imageSize,
    generator: new Generator(seed),
  });
}

/** The file's own description (hints may override name and options), else `hints.describe`'s. */
function resolveDescription(file: string, metadata: SafeMetadata, hints: LoadModelHints): ZooModelDescription {
  const own = readModelDescription(metadata, file);
  if (own !== null) {
    const overridden = hints.model !== undefined && hints.model !== own.name;
    return { ...own, name: hints.model ?? own.name, options: hints.modelOptions ?? (overridden ? {} : (own.options as ModelOptions)) };
  }
  const name = hints.model ?? metadata[DESCRIPTION_KEYS.name];
  if (hints.describe === undefined) {
    throw new CheckpointError(
      `${file} does not record ${name === undefined ? 'which model it holds and ' : ''}its input shape and classes ` +
        `(metadata ${SHAPE_KEYS.join(', ')}): pass hints.describe, or load an export (exportStateDict writes them)`,
    );
  }
  return hints.describe(file, name);
}

/**
 * Throws CheckpointError unless the state dict fits the model by the rules of
 * nn/adapt-state-dict.ts (PyTorch's: floating dtypes cast, a [1] scalar, a
 * missing num_batches_tracked, a `module.` prefix), listing the missing,
 * unexpected and misshapen keys by group (a checkpoint of another model
 * typically has all three).
 */
function assertStateFits(state: ReadonlyMap<string, SafeTensor>, model: Module, file: string, d: ModelDescription): void {
  // adaptStateDict reads a source tensor's shape and dtype only: the entries' suffice (an unloadable dtype fails in fromSafeTensor).
  const described = new Map(
    [...state].map(([name, s]) => [name, { shape: s.shape, dtype: loadedDType(s.dtype) ?? 'float32' } as unknown as Tensor]),
  );
  const { mismatch } = adaptStateDict(described, model.stateDict());
  if (mismatch === null) return;
  throw new CheckpointError(
    `${file} does not fit ${describeModel(d)}. ${describeStateDictMismatch(mismatch)}. Is it a checkpoint of another model? Pass the model and options it was trained with (--model, --model-options).`,
  );
}
