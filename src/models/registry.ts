/**
 * The model zoo by name, in the manner of OpenLTH's registry: each entry
 * has a one-line description and the options it takes beyond the common
 * {inChannels, numClasses, imageSize, generator}.
 *
 * | name             | model                                                              |
 * | ---------------- | ------------------------------------------------------------------ |
 * | mlp              | C·H·W-512-classes perceptron (hiddenSizes configurable)            |
 * | convnet          | conv32-BN-pool, conv64-BN-pool, fc128, fc (for 28×28)              |
 * | resnet20/56      | CIFAR ResNet (He et al. 2016), shortcut option A (or B)            |
 * | resnet-<6n+2>    | the same at any depth: resnet-32, resnet-110, ...                  |
 * | wrn-<d>-<k>      | WideResNet-d-k (Zagoruyko & Komodakis 2016): wrn-16-4, wrn-28-10   |
 * | vgg16            | VGG-16 with BN, CIFAR style, linear (or 512-512) classifier        |
 *
 * @example
 * const net = createModel('resnet20', { inChannels: 3, numClasses: 10, imageSize: 32, generator: new Generator(0) });
 * listModels().map((m) => `${m.name}: ${m.description}`);
 */
import { Generator } from '../tensor/tensor.js';
import type { Module } from '../nn/module.js';
import { ConfigError } from '../util/errors.js';
import { Mlp } from './mlp.js';
import { ConvNet } from './convnet.js';
import { CifarResNet, type ShortcutOption } from './resnet.js';
import { WideResNet } from './wide-resnet.js';
import { Vgg16, type VggClassifier } from './vgg.js';

/** What every model needs to know about its data. */
export interface ModelConfig {
  /** Image channels C of the NCHW input (1 for MNIST, 3 for CIFAR). */
  inChannels: number;
  /** Outputs of the classifier. */
  numClasses: number;
  /** Side of the square input images (28 for MNIST, 32 for CIFAR). */
  imageSize: number;
  /** Seeded generator for the initial weights (default: libtorch's global one). */
  generator?: Generator;
}

/** Model-specific options; each model accepts only those its entry lists. */
export interface ModelOptions {
  /** mlp: hidden layer widths (default [512]). */
  hiddenSizes?: number[];
  /** resnet: 'A' zero-padding shortcut (default) or 'B' 1×1 conv projection. */
  shortcut?: ShortcutOption;
  /** wrn: dropout between the convs of each block (default 0). */
  dropout?: number;
  /** vgg16: 'linear' (default) or 'mlp' (512-512-classes) classifier. */
  classifier?: VggClassifier;
}

/** What `createModel` and a model factory receive: the data's shape, the generator, and the model-specific options. */
export type CreateModelOptions = ModelConfig & ModelOptions;
export type ModelOptionName = keyof ModelOptions;

/** A registered model (or family of models, when `pattern` has parameters). */
export interface ModelEntry {
  /** As listed: a name ('convnet') or a pattern ('wrn-<depth>-<width>'). */
  name: string;
  description: string;
  /** Matches the names this entry builds; capture groups go to `create`. */
  pattern: RegExp;
  /** The model-specific options it accepts. */
  options: readonly ModelOptionName[];
  create(match: RegExpMatchArray, config: CreateModelOptions): Module;
}

/** A model's name, description and accepted options (as `listModels` returns them). */
export interface ModelInfo {
  name: string;
  description: string;
  options: ModelOptionName[];
}

const COMMON_KEYS = new Set(['inChannels', 'numClasses', 'imageSize', 'generator']);

const entries: ModelEntry[] = [];

/**
 * Builds a model for the data it is given: `inChannels`, `numClasses` and
 * `imageSize` from the dataset, and `generator`, the seeded generator its
 * initial weights must be drawn from (pass it to the layers: `new Linear(i, o,
 * { generator })`) so a run is reproducible.
 */
export type ModelFactory = (config: CreateModelOptions) => Module;

/**
 * Adds a model to the registry, so `createModel(name, ...)` and a run
 * config's `model.name` build it.
 *
 * - `registerModel(name, factory, description?)`: a model (e.g. a user's own
 *   `Module` subclass) under an exact name, matched case-insensitively, that
 *   takes no model-specific options (close over them in `factory`).
 * - `registerModel(entry)`: a full {@link ModelEntry} (a name pattern, the
 *   options it accepts).
 *
 * Throws ConfigError (`model.name`) when a model of that name is already
 * registered (or, for a factory, when a registered pattern such as
 * `resnet-<depth>` already builds the name). The registry is per process: register before `runSms`, and run
 * the pipeline inline (the default executor), since child processes and queue
 * workers do not run the registering code.
 *
 * @example
 * registerModel('tiny-cnn', ({ inChannels, numClasses, generator }) => new TinyCnn(inChannels, numClasses, generator));
 * createModel('tiny-cnn', { inChannels: 1, numClasses: 10, imageSize: 28 });
 */
export function registerModel(entry: ModelEntry): void;
export function registerModel(name: string, factory: ModelFactory, description?: string): void;
export function registerModel(entryOrName: ModelEntry | string, factory?: ModelFactory, description?: string): void {
  const entry = typeof entryOrName === 'string' ? factoryEntry(entryOrName, factory, description) : entryOrName;
  if (entries.some((e) => e.name === entry.name)) {
    throw new ConfigError(
      'model.name',
      `registerModel: a model named '${entry.name}' is already registered; register it under another name`,
    );
  }
  entries.push(entry);
}

/** The entry `registerModel(name, factory, description)` adds. */
function factoryEntry(name: string, factory: ModelFactory | undefined, description = 'a user-registered model'): ModelEntry {
  if (typeof factory !== 'function')
    throw new ConfigError('model.name', `registerModel('${name}', factory): factory must be a function (config) => Module`);
  const taken = findModel(name);
  if (taken !== null && taken.entry.name !== name)
    throw new ConfigError(
      'model.name',
      `registerModel: '${name}' is already built by the registered model '${taken.entry.name}'; choose another name`,
    );
  const pattern = new RegExp(`^${name.toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  return { name, description, pattern, options: [], create: (_match, config) => factory(config) };
}

/** Every registered model, in registration order. */
export function listModels(): ModelInfo[] {
  return entries.map((e) => ({ name: e.name, description: e.description, options: [...e.options] }));
}

/** The entry that builds `name` and its pattern match, or null. */
export function findModel(name: string): { entry: ModelEntry; match: RegExpMatchArray } | null {
  for (const entry of entries) {
    const match = name.toLowerCase().match(entry.pattern);
    if (match !== null) return { entry, match };
  }
  return null;
}

/**
 * Builds the model called `name` with freshly initialized weights.
 * Throws ConfigError for an unknown name (listing the valid ones), a bad
 * common setting, an option the model does not take, or an image size the
 * model cannot handle.
 */
export function createModel(name: string, config: CreateModelOptions): Module {
  const found = findModel(name);
  if (found === null) {
    throw new ConfigError('model.name', `unknown model '${name}'; valid names: ${entries.map((e) => e.name).join(', ')}`);
  }
  validateConfig(config);
  for (const key of Object.keys(config)) {
    if (COMMON_KEYS.has(key) || (found.entry.options as readonly string[]).includes(key)) continue;
    const takes = found.entry.options.length > 0 ? `it takes ${found.entry.options.join(', ')}` : 'it takes no model-specific options';
    throw new ConfigError(`model.${key}`, `model '${name}' has no option '${key}'; ${takes}`);
  }
  return found.entry.create(found.match, config);
}

function validateConfig(config: CreateModelOptions): void {
  if (typeof config !== 'object' || config === null)
    throw new ConfigError('model', 'createModel needs { inChannels, numClasses, imageSize }');
  for (const key of ['inChannels', 'numClasses', 'imageSize'] as const) {
    const v: unknown = config[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
      throw new ConfigError(`model.${key}`, `must be a positive integer, got ${String(v)}`);
  }
  if (config.generator !== undefined && !(config.generator instanceof Generator)) {
    throw new ConfigError('model.generator', 'must be a Generator (new Generator(seed))');
  }
}

registerModel({
  name: 'mlp',
  description: 'perceptron C·H·W-512-classes with ReLU (784-512-10 on MNIST); hidden widths set by hiddenSizes',
  pattern: /^mlp$/,
  options: ['hiddenSizes'],
  create: (_m, config) => new Mlp(config),
});
registerModel({
  name: 'convnet',
  description: 'small BN ConvNet for 28×28: conv32-BN-ReLU-pool, conv64-BN-ReLU-pool, fc128-ReLU, fc classes',
  pattern: /^convnet$/,
  options: [],
  create: (_m, config) => new ConvNet(config),
});
registerModel({
  name: 'resnet20',
  description: 'CIFAR ResNet-20 (He et al. 2016), 16/32/64 channels, shortcut option A (zero-padding; B: 1×1 conv), 0.27M params',
  pattern: /^resnet-?20$/,
  options: ['shortcut'],
  create: (_m, config) => new CifarResNet({ ...config, depth: 20 }),
});
registerModel({
  name: 'resnet56',
  description: 'CIFAR ResNet-56 (He et al. 2016), 16/32/64 channels, shortcut option A (zero-padding; B: 1×1 conv), 0.85M params',
  pattern: /^resnet-?56$/,
  options: ['shortcut'],
  create: (_m, config) => new CifarResNet({ ...config, depth: 56 }),
});
registerModel({
  name: 'resnet-<depth>',
  description: 'CIFAR ResNet of depth 6n+2 (resnet-32, resnet-110, ...), shortcut option A by default or B',
  pattern: /^resnet-?(\d+)$/,
  options: ['shortcut'],
  create: (m, config) => new CifarResNet({ ...config, depth: Number(m[1]) }),
});
registerModel({
  name: 'wrn-<depth>-<width>',
  description: 'WideResNet-d-k (Zagoruyko & Komodakis 2016), pre-activation, widths 16/16k/32k/64k, e.g. wrn-16-4, wrn-28-10',
  pattern: /^wrn-(\d+)-(\d+)$/,
  options: ['dropout'],
  create: (m, config) => new WideResNet({ ...config, depth: Number(m[1]), widthFactor: Number(m[2]) }),
});
registerModel({
  name: 'vgg16',
  description: 'VGG-16 with BN, CIFAR style (imageSize >= 32), linear 512→classes classifier (or classifier: mlp for 512-512-classes)',
  pattern: /^vgg-?16(?:[-_]?bn)?$/,
  options: ['classifier'],
  create: (_m, config) => new Vgg16(config),
});
