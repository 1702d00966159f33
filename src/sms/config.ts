/**
 * The experiment configuration: one typed record, validated by a schema whose
 * fields document themselves, with defaults filled in. The normalized config
 * (defaults applied, keys sorted) names the run directory by its hash.
 *
 * @example
 * const config = parseSmsConfig({ data: { dataset: 'fashion-mnist' }, model: { name: 'convnet' } });
 * config.pruning.phases; // 3
 */
import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ConfigError } from '../util/errors.js';
import { closestName } from '../util/suggest.js';
import { IMAGE_FOLDER_DEFAULTS } from '../data/imagefolder.js';

const positiveInt = z.number().int().positive();
const nonNegative = z.number().nonnegative();
const fraction = z.number().gt(0).lte(1);

const augmentSchema = z
  .object({
    cropPadding: z.number().int().nonnegative().default(0).describe('zero padding before the random crop (0: no crop)'),
    horizontalFlip: z.boolean().default(false).describe('flip images left-right with probability 1/2'),
    rotationDegrees: nonNegative.default(0).describe('random rotation in [-d, d] degrees (0: none)'),
  })
  .strict();

export const smsConfigSchema = z
  .object({
    name: z.string().default('sms').describe('a label for reports'),
    seed: z.number().int().default(0).describe('seed of the dense model and default candidate seeds'),
    seeds: z
      .array(z.number().int())
      .min(1)
      .nullable()
      .default(null)
      .describe(
        'replicates: run the experiment once per seed (each a run with `seed: s` in its own run directory; `seed` is ignored), then compare them with confidence intervals (docs/compare.md; null: one run with `seed`)',
      ),
    threads: z.number().int().nonnegative().default(0).describe('libtorch threads per process (0: cores / workers)'),
    device: z
      .string()
      .regex(/^(cpu|cuda|cuda:\d+)$/, "expected 'cpu', 'cuda' or 'cuda:N'")
      .default('cpu')
      .describe(
        "where models, masks, optimizer state, soups, BN recalibration and evaluation compute: 'cpu', 'cuda' (= cuda:0) or 'cuda:N' (needs a CUDA libtorch and a GPU; checked before any work)",
      ),
    // Left out of the normalized config when fp32 (normalizedConfigJson), so configs from before the key keep their hash.
    precision: z
      .enum(['fp32', 'bf16', 'fp16'])
      .default('fp32')
      .describe(
        "'fp32', or mixed precision as torch.autocast: 'bf16' (bfloat16; CPU or GPU) or 'fp16' (float16 with dynamic loss scaling; a CUDA device) for the forward passes of training, BN recalibration and evaluation; weights, optimizer and soups stay float32",
      ),
    data: z
      .object({
        dataset: z.string().describe('dataset registry name: fashion-mnist, mnist, cifar10, cifar100, npy, imagefolder'),
        dir: z.string().nullable().default(null).describe("directory of the dataset's files (null: the dataset's default)"),
        // Optional without a default: a config that does not set them keeps its normalized JSON (and run hash).
        numClasses: positiveInt
          .optional()
          .describe('npy: number of classes (labels outside 0..numClasses-1 are an error; default: largest training label + 1)'),
        classNames: z
          .array(z.string())
          .optional()
          .describe('npy: class names, index = label (default: classes.txt, else the label numbers)'),
        validationFraction: z.number().gt(0).lt(1).default(0.1).describe('fraction of the training set held out for validation'),
        splitSeed: z.number().int().default(42).describe('seed of the validation split'),
        trainSubset: positiveInt.nullable().default(null).describe('use only this many training images (after the split)'),
        testSubset: positiveInt.nullable().default(null).describe('evaluate on only this many test images'),
        batchSize: positiveInt.default(128).describe('images per training batch'),
        augment: augmentSchema.default({}),
        // imagefolder's decoding options. `.default(d).optional()` documents d but leaves an
        // omitted key out of the parsed config (the data layer applies d), so configs that do
        // not set these keys keep the hash they had before the keys existed.
        imageSize: positiveInt
          .default(IMAGE_FOLDER_DEFAULTS.imageSize)
          .optional()
          .describe('imagefolder: side of the square images the files are decoded to, in pixels'),
        resize: z
          .enum(['center-crop', 'resize'])
          .default(IMAGE_FOLDER_DEFAULTS.resize)
          .optional()
          .describe(
            "imagefolder: 'center-crop' scales the shorter side to imageSize and crops the centre (torchvision Resize + CenterCrop); 'resize' scales to the square (aspect ratio changes)",
          ),
        channels: z
          .number()
          .int()
          .refine((c): c is 1 | 3 => c === 1 || c === 3, 'expected 1 (grayscale) or 3 (RGB)')
          .default(IMAGE_FOLDER_DEFAULTS.channels)
          .optional()
          .describe("imagefolder: 3 (RGB) or 1 (grayscale, as PIL convert('L'))"),
        skipUnreadable: z
          .boolean()
          .default(IMAGE_FOLDER_DEFAULTS.skipUnreadable)
          .optional()
          .describe('imagefolder: skip image files that cannot be decoded (counted in a warning) instead of failing'),
      })
      .strict(),
    model: z
      .object({
        name: z.string().optional().describe('model registry name: mlp, convnet, resnet20, resnet56, wrn-16-4, vgg16 (or module instead)'),
        module: z
          .string()
          .optional()
          .describe(
            "your own ES module (.js, .mjs, .ts) exporting a Module subclass or a factory (instead of name); a relative path is resolved against the config file's directory",
          ),
        export: z.string().optional().describe("with module: the export to build ('default' if not given)"),
        options: z
          .record(z.unknown())
          .default({})
          .describe(
            'model-specific options (module: passed to the constructor or factory beside inChannels, numClasses, imageSize, generator)',
          ),
      })
      .strict(),
    dense: z
      .object({
        checkpoint: z.string().nullable().default(null).describe('start from this trained dense checkpoint instead of training one'),
        epochs: positiveInt.default(10).describe('dense training epochs'),
        maxLr: z.number().positive().default(0.1).describe('peak learning rate of the dense schedule (also the retraining peak)'),
        schedule: z.string().default('linear').describe('dense LR schedule: linear, cosine, step, constant'),
        warmupFraction: z.number().min(0).lt(1).default(0.1).describe('fraction of dense steps with linear warm-up'),
        weightDecay: nonNegative.default(5e-4).describe('dense weight decay (Nesterov momentum when > 0)'),
        momentum: z.number().min(0).lt(1).default(0.9).describe('SGD momentum'),
        labelSmoothing: z.number().min(0).lt(1).default(0).describe('label smoothing of the dense training loss'),
      })
      .strict()
      .default({}),
    pruning: z
      .object({
        variant: z
          .enum(['imp', 'gmp'])
          .default('imp')
          .describe(
            "'imp': prune a trained dense model, geometric phases; 'gmp': SMS during training, cubic phases, one global LR schedule",
          ),
        goalSparsity: z.number().gt(0).lt(1).default(0.9).describe('sparsity after the last phase'),
        phases: positiveInt.default(3).describe('P: prune-retrain phases'),
        criterion: z.string().default('global').describe('global, uniform or random'),
        exclude: z.array(z.string()).default([]).describe('parameter names (or module prefixes) never pruned'),
        includeFirst: z.boolean().default(true).describe('prune the first conv/linear layer'),
        includeLast: z.boolean().default(true).describe('prune the last (classifier) layer'),
      })
      .strict()
      .default({}),
    retrain: z
      .object({
        epochs: positiveInt.default(3).describe('retraining epochs per phase and candidate'),
        schedule: z.string().default('LLR').describe('LLR, CLR, SLR, LRW, FT or ALLR'),
        maxLr: z.number().positive().nullable().default(null).describe('peak LR (null: the dense peak)'),
        minLr: nonNegative.default(0).describe('CLR: the learning rate reached at the end'),
        weightDecay: nonNegative.default(5e-4).describe('retraining weight decay (unless varied per candidate)'),
        momentum: z.number().min(0).lt(1).default(0.9).describe('SGD momentum'),
        labelSmoothing: z.number().min(0).lt(1).default(0).describe('retraining label smoothing (unless varied)'),
      })
      .strict()
      .default({}),
    candidates: z
      .object({
        count: positiveInt.default(3).describe('m: candidates retrained per phase'),
        grid: z
          .boolean()
          .default(false)
          .describe('vary: all combinations (count must equal their number) instead of one value per candidate'),
        vary: z
          .object({
            seed: z.array(z.number().int()).optional().describe('per-candidate seeds (batch order, augmentation)'),
            weightDecay: z.array(nonNegative).optional().describe('per-candidate weight decay'),
            epochs: z.array(positiveInt).optional().describe('per-candidate retraining epochs'),
            maxLr: z.array(z.number().positive()).optional().describe('per-candidate peak learning rate'),
            labelSmoothing: z.array(z.number().min(0).lt(1)).optional().describe('per-candidate label smoothing'),
          })
          .strict()
          .default({})
          .describe('per-candidate values; unlisted hyperparameters are shared; seeds default to seed·1000 + i + 1'),
      })
      .strict()
      .default({}),
    merge: z
      .object({
        method: z.enum(['uniform', 'greedy']).default('uniform').describe('the soup that becomes the next parent'),
        bnRecalibrationFraction: fraction.default(0.2).describe('fraction of the training data forwarded to recalibrate BN of a soup'),
      })
      .strict()
      .default({}),
    evaluation: z
      .object({
        batchSize: positiveInt.default(1000).describe('images per evaluation batch'),
        oodCorruptions: z
          .array(z.string())
          .default(['gaussian_noise', 'defocus_blur', 'fog', 'contrast'])
          .describe('corruptions of the OOD test sets (docs/corruptions.md)'),
        oodSeverities: z.array(z.number().int().min(1).max(5)).default([1, 3, 5]).describe('severities 1..5 of each corruption'),
        oodSeed: z.number().int().default(1234).describe('seed of the corruption noise'),
        oodSubset: positiveInt.nullable().default(2000).describe('corrupt only the first n test images (null: all)'),
        oodDir: z
          .string()
          .nullable()
          .default(null)
          .describe(
            'a CIFAR-10-C style directory (<corruption>.npy with severities 1..5 stacked, labels.npy) to evaluate on instead of generating the corruptions (null: generate)',
          ),
        recalibrateBn: z
          .boolean()
          .default(true)
          .describe(
            'recalibrate the BN of every scored model (dense, candidates, IMP, pruned parent) as the soups are, before scoring it (like for like; greedy ranks by it)',
          ),
      })
      .strict()
      .default({}),
    baselines: z
      .object({
        imp: z.boolean().default(true).describe('m independent IMP chains (mean and best by validation)'),
        impLonger: z.boolean().default(false).describe('one IMP chain retrained m times longer'),
        ensemble: z.boolean().default(true).describe('prediction ensemble of the candidates'),
      })
      .strict()
      .default({}),
  })
  .strict();

export type SmsConfig = z.infer<typeof smsConfigSchema>;
export type SmsConfigInput = z.input<typeof smsConfigSchema>;

function describeReceived(input: unknown, path: (string | number)[]): string {
  let v: unknown = input;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<string | number, unknown>)[k] : undefined;
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** The keys the schema knows at `path` (for suggesting one in place of an unknown key). */
function knownKeys(path: (string | number)[]): string[] {
  let s: z.ZodTypeAny | undefined = smsConfigSchema;
  for (const key of [...path, null]) {
    while (s instanceof z.ZodDefault || s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s._def.innerType as z.ZodTypeAny;
    if (!(s instanceof z.ZodObject)) return [];
    if (key === null) return Object.keys(s.shape as object);
    s = (s.shape as Record<string, z.ZodTypeAny>)[key];
  }
  return [];
}

/** "; did you mean 'uniform'?" for a misspelled enum value or key, else ''. */
function suggestion(issue: z.ZodIssue): string {
  let closest: string | undefined;
  if (issue.code === 'invalid_enum_value' && typeof issue.received === 'string')
    closest = closestName(issue.received, issue.options.map(String));
  if (issue.code === 'unrecognized_keys' && issue.keys.length === 1) closest = closestName(issue.keys[0], knownKeys(issue.path));
  return closest === undefined ? '' : `; did you mean '${closest}'?`;
}

function expectation(issue: z.ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.received === 'undefined'
        ? `required ${issue.expected} is missing`
        : `expected ${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}`;
    case 'too_small':
      if (issue.type === 'array') return `expected at least ${issue.minimum} entries`;
      return `expected a number ${issue.inclusive ? '>=' : '>'} ${issue.minimum}`;
    case 'too_big':
      if (issue.type === 'array') return `expected at most ${issue.maximum} entries`;
      return `expected a number ${issue.inclusive ? '<=' : '<'} ${issue.maximum}`;
    case 'invalid_enum_value':
      return `expected one of ${issue.options.map((o) => `'${String(o)}'`).join(', ')}`;
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
    default:
      return issue.message.charAt(0).toLowerCase() + issue.message.slice(1);
  }
}

/**
 * Exactly one of `name` and `module`; a module's path made absolute (against
 * the directory of `source`, the config file) and its export filled in, so
 * child processes and queue workers, which get the config as JSON, load the
 * same file. A config with `name` is returned as it is (its hash unchanged).
 */
function normalizeModelSection(model: SmsConfig['model'], source: string): SmsConfig['model'] {
  if (model.name !== undefined && model.module !== undefined) {
    throw new ConfigError('model', `give model.name (a registry model) or model.module (your own ES module), not both (in ${source})`);
  }
  if (model.module === undefined) {
    if (model.name === undefined) {
      throw new ConfigError(
        'model',
        `give model.name (a registry model: mlp, convnet, resnet20, ...) or model.module (a path to your own ES module) (in ${source})`,
      );
    }
    if (model.export !== undefined)
      throw new ConfigError('model.export', `names an export of model.module, which is not given (in ${source})`);
    return model;
  }
  if (model.module.trim() === '') throw new ConfigError('model.module', `expected a path to an ES module file, got "" (in ${source})`);
  if (model.export !== undefined && model.export.trim() === '')
    throw new ConfigError('model.export', `expected an export name, got "" (in ${source})`);
  const module = model.module.startsWith('file:') ? fileURLToPath(model.module) : resolve(dirname(resolve(source)), model.module);
  return { ...model, module, export: model.export ?? 'default' };
}

/** Validates and fills defaults; errors name the config path and what was expected (`pruning.phases: expected a number > 0, got -1`). */
export function parseSmsConfig(input: unknown, source = 'config'): SmsConfig {
  const r = smsConfigSchema.safeParse(input);
  if (!r.success) {
    const describe = (i: z.ZodIssue): string => {
      const got =
        i.code === 'unrecognized_keys' || (i.code === 'invalid_type' && i.received === 'undefined')
          ? ''
          : `, got ${describeReceived(input, i.path)}`;
      return `${expectation(i)}${got}${suggestion(i)}`;
    };
    const [first, ...rest] = r.error.issues;
    const more = rest.map((i) => `${i.path.join('.') || '(root)'}: ${describe(i)}`);
    throw new ConfigError(
      first.path.join('.') || '(root)',
      `${describe(first)}${more.length ? `; also ${more.join('; ')}` : ''} (in ${source})`,
    );
  }
  const c = r.data;
  c.model = normalizeModelSection(c.model, source);
  const m = c.candidates.count;
  for (const [key, values] of Object.entries(c.candidates.vary)) {
    if (!c.candidates.grid && values !== undefined && values.length !== m) {
      throw new ConfigError(`candidates.vary.${key}`, `expected ${m} values (one per candidate), got ${values.length} (in ${source})`);
    }
  }
  if (c.seeds !== null) {
    const repeated = c.seeds.find((s, i) => c.seeds!.indexOf(s) !== i);
    if (repeated !== undefined)
      throw new ConfigError('seeds', `seed ${repeated} is listed twice: replicates need distinct seeds (in ${source})`);
  }
  if (c.precision === 'fp16' && c.device === 'cpu') {
    throw new ConfigError(
      'precision',
      `'fp16' needs a CUDA device (device: cuda): libtorch's CPU autocast computes in bfloat16 only; use precision: bf16 on the CPU (in ${source})`,
    );
  }
  if (c.candidates.grid) {
    const combos = Object.values(c.candidates.vary).reduce((n, v) => n * (v?.length ?? 1), 1);
    if (combos !== m)
      throw new ConfigError('candidates.count', `grid of the vary lists has ${combos} combinations, count is ${m} (in ${source})`);
  }
  return c;
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v as object)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/**
 * The config as canonical JSON (defaults applied, keys sorted). `seeds: null`
 * (one run, the default) and `precision: 'fp32'` (the default) are left out,
 * so configs written before the keys existed keep their hash and their run
 * directory.
 */
export function normalizedConfigJson(config: SmsConfig): string {
  const { seeds, precision, ...rest } = config;
  return JSON.stringify(sortKeys({ ...rest, ...(seeds !== null && { seeds }), ...(precision !== 'fp32' && { precision }) }));
}

/**
 * The single runs a config stands for: one per entry of `seeds` (the config
 * with `seed: s` and no `seeds`), or the config itself when `seeds` is null.
 *
 * @example
 * replicateConfigs(parseSmsConfig({ ...raw, seeds: [0, 1] })).map((c) => c.seed); // [0, 1]
 */
export function replicateConfigs(config: SmsConfig): SmsConfig[] {
  if (config.seeds === null) return [config];
  return config.seeds.map((seed) => ({ ...config, seed, seeds: null }));
}

/** First 12 hex digits of SHA-256 of the normalized config: the run's identity. */
export function configHash(config: SmsConfig): string {
  return createHash('sha256').update(normalizedConfigJson(config)).digest('hex').slice(0, 12);
}
