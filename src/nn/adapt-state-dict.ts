/**
 * Matching a state dict to a model's tensors as PyTorch's
 * `torch.nn.Module.load_state_dict` does, so that a state dict saved from
 * PyTorch loads here as it would load there. The rules, all in this file:
 *
 * 1. **Floating dtypes are cast.** `Module._load_from_state_dict`
 *    (torch/nn/modules/module.py) copies each value with
 *    `param.copy_(input_param)`, and `copy_` casts: a float16, bfloat16 or
 *    float64 state dict loads into a float32 model. We cast between floating
 *    dtypes only; a float tensor under an integer name (a float
 *    `num_batches_tracked`) or the reverse is refused, although `copy_` would
 *    cast it too: it is more likely the wrong tensor than a conversion.
 * 2. **A scalar may be stored with shape [1].** `_load_from_state_dict`,
 *    "Backward compatibility: loading 1-dim tensor from 0.3.* to version
 *    0.4+": when the model's tensor has shape [] and the stored one is 1-D,
 *    PyTorch loads `input_param[0]`. We accept shape [1] only (PyTorch would
 *    also take the first element of a longer 1-D tensor and drop the rest).
 *    The reverse, [] for a [1] tensor, is a size mismatch there and here.
 * 3. **A missing `num_batches_tracked` is no error.** BatchNorm's
 *    `_NormBase._load_from_state_dict` (torch/nn/modules/batchnorm.py) puts
 *    one into the state dict when its version metadata is absent or below 2,
 *    which is always the case for a safetensors file (it carries no
 *    `_metadata`). PyTorch ≥ 2.2 puts the module's own value
 *    (pytorch/pytorch#110850), so the count is left as it is; PyTorch ≤ 2.1
 *    put `torch.tensor(0)`. We leave the model's value: the same 0 in a
 *    freshly built model, which is what every loader here loads into. The
 *    rule goes by the name: a `num_batches_tracked` buffer (BatchNorm's).
 * 4. **A DataParallel prefix is stripped.** `nn.DataParallel` and
 *    `DistributedDataParallel` hold the model as their child `module`, so
 *    every name of their state dict starts with `module.`. PyTorch strips it
 *    on request with `torch.nn.modules.utils.consume_prefix_in_state_dict_if_present(sd, 'module.')`;
 *    we strip it when every name has it and the model's own names do not.
 *
 * Everything else must fit exactly: every name of the model is in the state
 * dict and every name of the state dict is in the model (unless `strict` is
 * false), with the same shape. What does not fit is reported in groups
 * (missing, unexpected, of another shape, of another dtype), never partly
 * loaded.
 *
 * @example
 * const { values, mismatch } = adaptStateDict(loaded, model.stateDict());
 * if (mismatch) throw new CheckpointError(`model.safetensors does not fit. ${describeStateDictMismatch(mismatch)}.`);
 * noGrad(() => { for (const [name, value] of values) copyAdapted(model.stateDict().get(name)!, value); });
 */
import { isFloatingDType, type DType, type Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/scope.js';

/** The prefix `nn.DataParallel` and `DistributedDataParallel` put before every name. */
export const DATA_PARALLEL_PREFIX = 'module.';

/**
 * What does not fit, by group. `missing` has the model's names; the others
 * the state dict's names as stored (a stripped prefix included).
 */
export interface StateDictMismatch {
  missing: string[];
  unexpected: string[];
  otherShape: { name: string; shape: number[]; expected: number[] }[];
  otherDtype: { name: string; dtype: DType; expected: DType }[];
}

export interface AdaptedStateDict {
  /**
   * The value for each of the model's names that gets one, by the model's
   * name; copy it with {@link copyAdapted}. A name left out (a missing
   * `num_batches_tracked`, or any missing name when not strict) keeps the
   * model's value.
   */
  values: Map<string, Tensor>;
  /** Null when everything fits. */
  mismatch: StateDictMismatch | null;
}

/**
 * Matches `source` to the model's state dict `own` by the rules of the file
 * comment. Creates no tensors. With `strict: false` missing and unexpected
 * names are allowed; shapes and dtypes are still checked.
 */
export function adaptStateDict(
  source: ReadonlyMap<string, Tensor>,
  own: ReadonlyMap<string, Tensor>,
  opts: { strict?: boolean } = {},
): AdaptedStateDict {
  const strict = opts.strict ?? true;
  const byOwnName = withoutDataParallelPrefix(source, own);
  const values = new Map<string, Tensor>();
  const mismatch: StateDictMismatch = { missing: [], unexpected: [], otherShape: [], otherDtype: [] };
  for (const [name, target] of own) {
    const entry = byOwnName.get(name);
    if (entry === undefined) {
      if (strict && !isBatchCount(name)) mismatch.missing.push(name);
      continue;
    }
    const value = entry.tensor;
    if (!shapesFit(value.shape, target.shape)) {
      mismatch.otherShape.push({ name: entry.stored, shape: value.shape, expected: target.shape });
    } else if (!dtypesFit(value.dtype, target.dtype)) {
      mismatch.otherDtype.push({ name: entry.stored, dtype: value.dtype, expected: target.dtype });
    } else {
      values.set(name, value);
    }
  }
  if (strict) for (const [name, { stored }] of byOwnName) if (!own.has(name)) mismatch.unexpected.push(stored);
  const fits = Object.values(mismatch).every((group: unknown[]) => group.length === 0);
  return { values, mismatch: fits ? null : mismatch };
}

/**
 * Copies an adapted value into the model's tensor: a [1] scalar reshaped to
 * [], the dtype cast by libtorch's `copy_` (as PyTorch's). Call it inside
 * `noGrad` when `target` is a parameter.
 */
export function copyAdapted(target: Tensor, value: Tensor): void {
  tidy(() => {
    target.copy_(value.rank === target.rank ? value : value.reshape(target.shape));
  });
}

/**
 * The groups of a mismatch as sentences, without the final period:
 * `Keys 2 missing: 'bn1.weight', 'bn1.bias'. Keys 1 of another shape: 'fc.weight' is [5, 4] in the file, [2, 4] in the model`.
 * Each group lists its first `shown` names and counts the rest. `where`
 * names the source in the shape and dtype groups.
 */
export function describeStateDictMismatch(m: StateDictMismatch, where = 'the file', shown = 5): string {
  const list = (items: string[], separator: string): string =>
    items.slice(0, shown).join(separator) + (items.length > shown ? ` and ${items.length - shown} more` : '');
  const quoted = (names: string[]): string[] => names.map((n) => `'${n}'`);
  const dims = (shape: number[]): string => `[${shape.join(', ')}]`;
  const shapes = m.otherShape.map((s) => `'${s.name}' is ${dims(s.shape)} in ${where}, ${dims(s.expected)} in the model`);
  const dtypes = m.otherDtype.map((d) => `'${d.name}' is ${d.dtype} in ${where}, ${d.expected} in the model`);
  const groups: [number, string][] = [
    [m.missing.length, `missing: ${list(quoted(m.missing), ', ')}`],
    [m.unexpected.length, `unexpected: ${list(quoted(m.unexpected), ', ')}`],
    [shapes.length, `of another shape: ${list(shapes, '; ')}`],
    [dtypes.length, `of another dtype: ${list(dtypes, '; ')}`],
  ];
  return groups
    .filter(([count]) => count > 0)
    .map(([count, text]) => `Keys ${count} ${text}`)
    .join('. ');
}

/** The source by the model's names, with the name as stored (rule 4). */
function withoutDataParallelPrefix(
  source: ReadonlyMap<string, Tensor>,
  own: ReadonlyMap<string, Tensor>,
): Map<string, { tensor: Tensor; stored: string }> {
  const everyName = (names: Iterable<string>): boolean => [...names].every((n) => n.startsWith(DATA_PARALLEL_PREFIX));
  const strip = source.size > 0 && everyName(source.keys()) && !(own.size > 0 && everyName(own.keys()));
  const out = new Map<string, { tensor: Tensor; stored: string }>();
  for (const [stored, tensor] of source) out.set(strip ? stored.slice(DATA_PARALLEL_PREFIX.length) : stored, { tensor, stored });
  return out;
}

/** Rule 3: BatchNorm's batch count may be absent. */
function isBatchCount(name: string): boolean {
  return name === 'num_batches_tracked' || name.endsWith('.num_batches_tracked');
}

/** Equal shapes, or rule 2: a [1] value for a [] tensor. */
function shapesFit(shape: number[], expected: number[]): boolean {
  if (expected.length === 0 && shape.length === 1 && shape[0] === 1) return true;
  return shape.length === expected.length && shape.every((d, i) => d === expected[i]);
}

/** Equal dtypes, or rule 1: floating into floating. */
function dtypesFit(dtype: DType, expected: DType): boolean {
  return dtype === expected || (isFloatingDType(dtype) && isFloatingDType(expected));
}
