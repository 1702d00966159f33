/**
 * PruningMask: one 0/1 tensor per prunable parameter (1 = weight kept,
 * 0 = pruned), named like the parameter it masks (`conv1.weight`).
 *
 * Masks are float32 of the parameter's shape, so the optimizer applies them
 * with one multiply (`SGD.setMasks(mask.forParameters(names))`). A mask owns
 * its tensors (they are `keep()`-ed); `dispose()` frees them. Treat the
 * tensors `get()` returns as read-only: the hash and counts are cached.
 *
 * The content hash (`hash()`) is SHA-256 over, for each name in sorted
 * order: the name, the shape and the mask bits packed 8 per byte (most
 * significant bit first, like `numpy.packbits`). Merging refuses candidates
 * whose mask hashes differ (`assertSameMask`).
 *
 * Mask files are safetensors with one U8 tensor per name holding the packed
 * bits (1/32 of the float mask), and in the metadata the format, the shapes
 * (JSON) and the hash, which is checked on load. In Python:
 * `np.unpackbits(f.get_tensor(name).numpy())[:n].reshape(shape)`.
 *
 * @example
 * const mask = PruningMask.dense(prunableParameters(model));
 * mask.apply(model);                  // w ← w ⊙ m
 * opt.setMasks(mask.forParameters(model.namedParameters().map(([n]) => n)));
 * await mask.save('mask.safetensors');
 * const again = await PruningMask.load('mask.safetensors', { fitTo: model });
 * again.hash() === mask.hash();       // true
 */
import { createHash } from 'node:crypto';
import type { Tensor } from '../tensor/tensor.js';
import { tensor, zeros, ones, cat, noGrad } from '../tensor/create.js';
import { keep, tidy } from '../tensor/scope.js';
import type { Module } from '../nn/module.js';
import { loadSafetensors, saveSafetensors, type SafeMetadata, type SafeTensor } from '../io/safetensors.js';
import { MASK_FILE_FORMAT } from '../checkpoints/model-description.js';
import { CheckpointError, MergeError, TensorError } from '../util/errors.js';
import { prunableParameters, type NamedTensor, type PrunableOptions } from './prunable.js';

/** Value of the `format` metadata key in mask files (defined beside the model files, whose readers refuse masks). */
export { MASK_FILE_FORMAT };
const MASK_FILE_VERSION = '1';
const HASH_PREFIX = 'sparse-soups-mask-v1\n';
const BIT_WEIGHTS = [128, 64, 32, 16, 8, 4, 2, 1];

/** How much of one layer a mask prunes. */
export interface LayerSparsity {
  name: string;
  /** Weights in the layer. */
  total: number;
  /** Weights pruned (mask 0). */
  pruned: number;
  /** pruned / total. */
  sparsity: number;
}

/** Where a loaded mask must fit: a model (each name a parameter of that shape) or an exact parameter list. */
export type MaskTarget = Module | NamedTensor[];

export interface MaskLoadOptions {
  /** File name for error messages. */
  origin?: string;
  /** Refuse a mask whose names or shapes do not fit this model or parameter list; tensors go to its device. */
  fitTo?: MaskTarget;
  /** Device of the mask tensors (default: the fitTo parameters' device, else cpu). */
  device?: string;
}

const sameShape = (a: number[], b: number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);
const fmtShape = (s: number[]): string => `[${s.join(', ')}]`;
const numelOf = (shape: number[]): number => shape.reduce((n, d) => n * d, 1);

/** Mask bits packed 8 per byte, most significant bit first; the last byte is zero-padded. */
export function packMaskBits(mask: Tensor): Uint8Array {
  const n = mask.numel;
  if (n === 0) return new Uint8Array(0);
  const nBytes = Math.ceil(n / 8);
  return tidy(() => {
    let flat = mask.flatten().to('float32');
    if (nBytes * 8 > n) flat = cat([flat, zeros([nBytes * 8 - n], { device: mask.device })]);
    const weights = tensor(BIT_WEIGHTS, [1, 8], { device: mask.device });
    return flat.view([nBytes, 8]).mul(weights).sum([1]).to('uint8').toArray<'uint8'>();
  });
}

/** The inverse of packMaskBits: a float32 0/1 tensor of `shape`. Throws TensorError if the padding bits are not zero. */
export function unpackMaskBits(bytes: Uint8Array, shape: number[], device?: string): Tensor {
  const n = numelOf(shape);
  const nBytes = Math.ceil(n / 8);
  if (bytes.length !== nBytes) throw new TensorError(`unpackMaskBits: ${fmtShape(shape)} needs ${nBytes} bytes, got ${bytes.length}`);
  if (n === 0) return zeros(shape, { device });
  return tidy(() => {
    const b = tensor(bytes, [nBytes, 1], { device }).to('float32');
    const bits = b
      .div(tensor(BIT_WEIGHTS, [1, 8], { device }))
      .floor()
      .remainder(2)
      .flatten();
    if (nBytes * 8 > n && bits.slice(0, n, nBytes * 8).countNonzero() !== 0) {
      throw new TensorError(`unpackMaskBits: padding bits after the ${n} mask bits are not zero`);
    }
    return bits.slice(0, 0, n).reshape(shape).contiguous();
  });
}

/**
 * One float32 0/1 tensor per prunable parameter (1 kept, 0 pruned), named
 * like the parameter (`conv1.weight`); the explicit, named state of
 * `torch.nn.utils.prune`'s `weight_mask` buffers. Build one with a criterion
 * (`globalMagnitudeMask`, `computeMask`), `PruningMask.dense`, `fromZeros` or
 * `load`; apply it with `apply(model)` (w ← w ⊙ m) and keep it applied while
 * training with `trainModel(..., { masks: mask.forParameters(names) })`.
 * `hash()` identifies its content; `save`/`load` use safetensors (see the
 * file comment above for the format). It owns its tensors: `dispose()`.
 */
export class PruningMask {
  private readonly masks: Map<string, Tensor>;
  private hashCache: string | undefined;
  private layerCache: LayerSparsity[] | undefined;

  /**
   * Takes ownership of `masks` (float32 tensors of 0s and 1s, one per
   * parameter name); they are freed by `dispose()`.
   */
  constructor(masks: Map<string, Tensor>) {
    for (const [name, t] of masks) {
      if (t.dtype !== 'float32') throw new TensorError(`PruningMask: mask '${name}' has dtype ${t.dtype}, expected float32 0/1`);
      const bad = tidy(() => t.ne(0).logicalAnd(t.ne(1)).countNonzero());
      if (bad > 0) throw new TensorError(`PruningMask: mask '${name}' has ${bad} values other than 0 and 1`);
    }
    this.masks = new Map([...masks].map(([name, t]): [string, Tensor] => [name, keep(t)]));
  }

  /** A mask keeping every weight of `params`. */
  static dense(params: NamedTensor[]): PruningMask {
    return new PruningMask(new Map(params.map(([name, p]): [string, Tensor] => [name, ones(p.shape, { device: p.device })])));
  }

  /** A mask pruning exactly the weights of `params` that are 0. */
  static fromZeros(params: NamedTensor[]): PruningMask {
    return new PruningMask(new Map(params.map(([name, p]): [string, Tensor] => [name, tidy(() => p.ne(0).to('float32'))])));
  }

  /**
   * The mask of a (pruned) model: its prunable weights that are exactly 0.
   * `params` is the parameter list, or the options that select it (default:
   * all prunable weights).
   */
  static fromModelZeros(model: Module, params: NamedTensor[] | PrunableOptions = {}): PruningMask {
    const list = Array.isArray(params) ? params : prunableParameters(model, params);
    if (Array.isArray(params))
      checkFits(
        list.map(([n, t]) => [n, t.shape]),
        model,
        `${model.constructor.name}`,
      );
    return PruningMask.fromZeros(list);
  }

  /** Masked parameter names, in insertion order. */
  get names(): string[] {
    return [...this.masks.keys()];
  }
  get size(): number {
    return this.masks.size;
  }
  has(name: string): boolean {
    return this.masks.has(name);
  }
  /** The live mask tensor for `name` (read-only by convention). */
  get(name: string): Tensor | undefined {
    return this.masks.get(name);
  }
  entries(): [string, Tensor][] {
    return [...this.masks];
  }

  /** SHA-256 hex of the names, shapes and packed bits (see the file comment). Cached. */
  hash(): string {
    if (this.hashCache === undefined) {
      const h = createHash('sha256');
      h.update(HASH_PREFIX);
      for (const name of [...this.masks.keys()].sort()) {
        const t = this.masks.get(name)!;
        h.update(`${name}\0${JSON.stringify(t.shape)}\0`);
        h.update(packMaskBits(t));
      }
      this.hashCache = h.digest('hex');
    }
    return this.hashCache;
  }

  /** Per masked parameter: weights, pruned weights, and their ratio. Cached. */
  perLayer(): LayerSparsity[] {
    if (this.layerCache === undefined) {
      this.layerCache = [...this.masks].map(([name, t]) => {
        const total = t.numel;
        const pruned = total - t.countNonzero();
        return { name, total, pruned, sparsity: total === 0 ? 0 : pruned / total };
      });
    }
    return this.layerCache.map((l) => ({ ...l }));
  }

  /** Weights under the mask. */
  totalCount(): number {
    return this.perLayer().reduce((n, l) => n + l.total, 0);
  }
  /** Weights pruned. */
  prunedCount(): number {
    return this.perLayer().reduce((n, l) => n + l.pruned, 0);
  }
  /** Fraction of masked weights that are pruned (0 for an empty mask). */
  sparsity(): number {
    const total = this.totalCount();
    return total === 0 ? 0 : this.prunedCount() / total;
  }

  /**
   * Zeroes the pruned weights in place (w ← w ⊙ m, without autograd), in a
   * model's parameters or a state dict. Checks every name and shape first,
   * so a mask that does not fit changes nothing (CheckpointError).
   */
  apply(target: Module | Map<string, Tensor>): void {
    const tensors = target instanceof Map ? target : new Map(target.namedParameters());
    const where = target instanceof Map ? 'state dict' : target.constructor.name;
    checkFits(this.shapes(), tensors, where);
    noGrad(() => {
      for (const [name, m] of this.masks) tensors.get(name)!.mul_(m);
    });
  }

  /**
   * One entry per name in `names` (e.g. an optimizer's parameter order): the
   * mask tensor, or null for unmasked parameters. Every masked name must be
   * among `names`, else the mask would silently not be enforced.
   */
  forParameters(names: string[]): (Tensor | null)[] {
    const given = new Set(names);
    const missing = this.names.filter((n) => !given.has(n));
    if (missing.length > 0) {
      throw new CheckpointError(
        `PruningMask.forParameters: masked parameter(s) ${listNames(missing)} are not among the ${names.length} given names`,
      );
    }
    return names.map((n) => this.masks.get(n) ?? null);
  }

  /** Same names, shapes and bits. */
  equals(other: PruningMask): boolean {
    if (other === this) return true;
    if (other.size !== this.size) return false;
    for (const [name, t] of this.masks) {
      const o = other.masks.get(name);
      if (o === undefined || !sameShape(o.shape, t.shape) || !o.equal(t)) return false;
    }
    return true;
  }

  /** An independent copy. */
  clone(): PruningMask {
    return new PruningMask(new Map([...this.masks].map(([n, t]): [string, Tensor] => [n, t.clone()])));
  }

  /** The mask as bit-packed safetensors entries plus metadata (format, shapes, hash; `extra` keys added). */
  toSafeTensors(extra: SafeMetadata = {}): { tensors: Map<string, SafeTensor>; metadata: SafeMetadata } {
    const tensors = new Map<string, SafeTensor>();
    const shapes: Record<string, number[]> = {};
    for (const [name, t] of this.masks) {
      const data = packMaskBits(t);
      tensors.set(name, { dtype: 'U8', shape: [data.length], data });
      shapes[name] = t.shape;
    }
    const metadata: SafeMetadata = {
      ...extra,
      format: MASK_FILE_FORMAT,
      version: MASK_FILE_VERSION,
      bit_order: 'big',
      shapes: JSON.stringify(shapes),
      hash: this.hash(),
      sparsity: String(this.sparsity()),
    };
    return { tensors, metadata };
  }

  /**
   * A mask from `toSafeTensors()` output (or a loaded mask file). Refuses
   * (CheckpointError) another file format, a corrupted entry or hash, and,
   * with `fitTo`, names or shapes that do not fit the model.
   */
  static fromSafeTensors(tensors: ReadonlyMap<string, SafeTensor>, metadata: SafeMetadata, opts: MaskLoadOptions = {}): PruningMask {
    const origin = opts.origin ?? 'mask';
    if (metadata.format !== MASK_FILE_FORMAT) {
      throw new CheckpointError(
        `${origin}: not a pruning mask file (metadata format is '${metadata.format ?? '(none)'}', expected '${MASK_FILE_FORMAT}')`,
      );
    }
    let shapes: Record<string, number[]>;
    try {
      shapes = JSON.parse(metadata.shapes ?? '') as Record<string, number[]>;
    } catch {
      throw new CheckpointError(`${origin}: metadata 'shapes' is missing or not JSON`);
    }
    const problems: string[] = [];
    for (const name of tensors.keys()) if (!(name in shapes)) problems.push(`'${name}' has no shape in the metadata`);
    for (const name of Object.keys(shapes)) if (!tensors.has(name)) problems.push(`'${name}' is in the metadata but has no tensor`);
    for (const [name, s] of tensors) {
      const shape = shapes[name];
      if (shape === undefined) continue;
      if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) problems.push(`'${name}' has an invalid shape`);
      else if (s.dtype !== 'U8' || s.shape.length !== 1 || s.shape[0] !== Math.ceil(numelOf(shape) / 8)) {
        problems.push(
          `'${name}' is ${s.dtype} ${fmtShape(s.shape)}, expected U8 [${Math.ceil(numelOf(shape) / 8)}] for mask shape ${fmtShape(shape)}`,
        );
      }
    }
    if (problems.length > 0) throw new CheckpointError(`${origin}: corrupted mask file: ${problems.slice(0, 8).join('; ')}`);
    const devices = new Map<string, string>();
    if (opts.fitTo !== undefined) {
      const params = Array.isArray(opts.fitTo) ? opts.fitTo : opts.fitTo.namedParameters();
      const target = new Map(params);
      const where = Array.isArray(opts.fitTo) ? 'the prunable parameters' : opts.fitTo.constructor.name;
      checkFits(Object.entries(shapes), target, where, origin);
      if (Array.isArray(opts.fitTo)) {
        const extra = params.map(([n]) => n).filter((n) => !(n in shapes));
        if (extra.length > 0) throw new CheckpointError(`${origin}: mask does not fit ${where}: no mask for ${listNames(extra)}`);
      }
      for (const [name, t] of target) devices.set(name, t.device);
    }
    const masks = new Map<string, Tensor>();
    try {
      for (const [name, s] of tensors) {
        try {
          masks.set(name, unpackMaskBits(s.data as Uint8Array, shapes[name], opts.device ?? devices.get(name)));
        } catch (e) {
          throw e instanceof TensorError ? new CheckpointError(`${origin}: mask '${name}': ${e.message}`) : e;
        }
      }
    } catch (e) {
      for (const t of masks.values()) t.dispose();
      throw e;
    }
    const mask = new PruningMask(masks);
    if (metadata.hash !== undefined && metadata.hash !== mask.hash()) {
      mask.dispose();
      throw new CheckpointError(
        `${origin}: mask content hash ${mask.hash()} differs from the recorded ${metadata.hash}; the file is corrupted`,
      );
    }
    return mask;
  }

  /** Writes the mask file atomically; `metadata` adds keys (e.g. phase, criterion). */
  async save(path: string, metadata: SafeMetadata = {}): Promise<void> {
    const { tensors, metadata: meta } = this.toSafeTensors(metadata);
    await saveSafetensors(path, tensors, meta);
  }

  /** Reads a mask file (see fromSafeTensors for the checks). */
  static async load(path: string, opts: Omit<MaskLoadOptions, 'origin'> = {}): Promise<{ mask: PruningMask; metadata: SafeMetadata }> {
    const { tensors, metadata } = await loadSafetensors(path);
    return { mask: PruningMask.fromSafeTensors(tensors, metadata, { ...opts, origin: path }), metadata };
  }

  /** Frees the mask tensors. */
  dispose(): void {
    for (const t of this.masks.values()) t.dispose();
  }
  get isDisposed(): boolean {
    return [...this.masks.values()].every((t) => t.isDisposed);
  }

  private shapes(): [string, number[]][] {
    return [...this.masks].map(([n, t]) => [n, t.shape]);
  }
}

function listNames(names: string[]): string {
  const shown = names
    .slice(0, 8)
    .map((n) => `'${n}'`)
    .join(', ');
  return names.length > 8 ? `${shown} and ${names.length - 8} more` : shown;
}

/** Every (name, shape) must name a tensor of that shape in `target`. */
function checkFits(shapes: [string, number[]][], target: Module | Map<string, Tensor>, where: string, origin = 'mask'): void {
  const tensors = target instanceof Map ? target : new Map(target.namedParameters());
  const problems: string[] = [];
  for (const [name, shape] of shapes) {
    const t = tensors.get(name);
    if (t === undefined) problems.push(`no parameter '${name}'`);
    else if (!sameShape(t.shape, shape)) problems.push(`'${name}' is ${fmtShape(t.shape)} in ${where}, the mask has ${fmtShape(shape)}`);
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 8).join('; ') + (problems.length > 8 ? `; and ${problems.length - 8} more` : '');
    throw new CheckpointError(`${origin} does not fit ${where}: ${shown}`);
  }
}

/**
 * Throws MergeError unless all masks have the same hash, naming which
 * candidates (by label) have which mask hash.
 */
export function assertSameMask(masks: PruningMask[], labels: string[]): void {
  if (masks.length !== labels.length) {
    throw new MergeError(`assertSameMask: ${masks.length} masks but ${labels.length} labels; pass one label per candidate mask`);
  }
  const groups = new Map<string, string[]>();
  masks.forEach((m, i) => {
    const h = m.hash();
    groups.set(h, [...(groups.get(h) ?? []), labels[i]]);
  });
  if (groups.size <= 1) return;
  const described = [...groups]
    .sort((a, b) => b[1].length - a[1].length)
    .map(([h, ls]) => `${ls.join(', ')} ${ls.length === 1 ? 'has' : 'have'} mask ${h.slice(0, 16)}`)
    .join('; ');
  throw new MergeError(
    `candidates do not share one pruning mask (${groups.size} different masks): ${described}. ` +
      'A soup merges only candidates retrained from the same parent and mask; retrain the odd ones with the phase mask.',
  );
}
