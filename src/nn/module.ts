/**
 * Module: a layer or network with named parameters, buffers and children.
 *
 * Names are PyTorch's: own parameters, then own buffers, then each child's
 * under `child.` in registration order (`conv1.weight`, `bn1.running_mean`,
 * `layer1.0.conv1.weight`), so state dicts map one to one onto PyTorch models.
 *
 * @example
 * class Net extends Module {
 *   fc = this.registerModule('fc', new Linear(784, 10));
 *   forward(x: Tensor) { return this.fc.forward(x.flatten(1)); }
 * }
 */
import { Tensor, isFloatingDType } from '../tensor/tensor.js';
import { keep, tidy } from '../tensor/scope.js';
import { noGrad } from '../tensor/create.js';
import { CheckpointError, ModelDefinitionError } from '../util/errors.js';
import type { StateDict } from '../checkpoints/state-dict.js';
import { adaptStateDict, copyAdapted, describeStateDictMismatch } from './adapt-state-dict.js';

export type { StateDict };

export abstract class Module {
  training = true;
  private readonly ownParams = new Map<string, Tensor>();
  private readonly ownBuffers = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  abstract forward(x: Tensor): Tensor;

  /** Registers a trainable tensor; it requires grad and is exempt from tidy scopes. */
  protected registerParameter(name: string, t: Tensor): Tensor {
    this.checkName(name);
    keep(t);
    t.requireGrad(true);
    this.ownParams.set(name, t);
    return t;
  }

  /** Registers persistent state that is not trained (e.g. running statistics). */
  protected registerBuffer(name: string, t: Tensor): Tensor {
    this.checkName(name);
    keep(t);
    this.ownBuffers.set(name, t);
    return t;
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    this.checkName(name);
    this.children.set(name, m);
    return m;
  }

  private checkName(name: string): void {
    if (name === '' || name.includes('.')) {
      throw new ModelDefinitionError(
        `${this.constructor.name}: invalid member name '${name}': must be non-empty without '.' (dots separate the levels of state-dict names)`,
      );
    }
    if (this.ownParams.has(name) || this.ownBuffers.has(name) || this.children.has(name)) {
      throw new ModelDefinitionError(
        `${this.constructor.name} already has a member named '${name}'; register each parameter, buffer and child under its own name`,
      );
    }
  }

  /** Child modules in registration order. */
  namedChildren(): [string, Module][] {
    return [...this.children];
  }

  /** This module and all descendants, with dotted names ('' for this one). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.children) out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [name, m] of this.namedModules(prefix)) {
      for (const [p, t] of m.ownParams) out.push([name ? `${name}.${p}` : p, t]);
    }
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [name, m] of this.namedModules(prefix)) {
      for (const [b, t] of m.ownBuffers) out.push([name ? `${name}.${b}` : b, t]);
    }
    return out;
  }

  /** Parameters and buffers by name, in PyTorch's state_dict order. The tensors are live, not copies. */
  stateDict(): StateDict {
    const out: StateDict = new Map();
    const visit = (m: Module, prefix: string): void => {
      for (const [p, t] of m.ownParams) out.set(prefix + p, t);
      for (const [b, t] of m.ownBuffers) out.set(prefix + b, t);
      for (const [c, child] of m.children) visit(child, `${prefix}${c}.`);
    };
    visit(this, '');
    return out;
  }

  /**
   * Copies tensors into this module's parameters and buffers by name, as
   * PyTorch's `load_state_dict` does (the rules are in adapt-state-dict.ts):
   * floating dtypes are cast to the model's, a scalar stored as [1] is
   * accepted, a missing BatchNorm `num_batches_tracked` keeps the model's
   * value, and a `module.` prefix on every name (nn.DataParallel) is
   * stripped. Anything else that does not fit (missing or unexpected names
   * when strict, other shapes or dtypes) is a CheckpointError listing the
   * keys by group, and nothing is copied. `origin` names the file in it.
   *
   * @example
   * const { state } = await loadStateDictFile('dense.safetensors'); // saved from PyTorch, e.g. in bfloat16
   * model.loadStateDict(state, { origin: 'dense.safetensors' });
   */
  loadStateDict(source: StateDict | Record<string, Tensor>, opts: { strict?: boolean; origin?: string } = {}): void {
    const src = source instanceof Map ? source : new Map(Object.entries(source));
    const own = this.stateDict();
    const { values, mismatch } = adaptStateDict(src, own, { strict: opts.strict });
    if (mismatch !== null) {
      const origin = opts.origin ? ` (from ${opts.origin})` : '';
      const where = opts.origin ? 'the file' : 'the state dict';
      throw new CheckpointError(
        `state dict${origin} does not fit ${this.constructor.name}. ${describeStateDictMismatch(mismatch, where)}.`,
      );
    }
    noGrad(() => {
      for (const [name, value] of values) copyAdapted(own.get(name)!, value);
    });
  }

  /** Deep copies of the state dict (safe to keep while the model trains on). */
  cloneStateDict(): StateDict {
    const out: StateDict = new Map();
    for (const [name, t] of this.stateDict()) out.set(name, keep(tidy(() => t.detach().clone())));
    return out;
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * Moves every parameter and buffer to `device` and/or converts the
   * floating-point ones to `dtype`, in place (like PyTorch's `module.to`):
   * the tensors keep their identity, so references to them stay valid.
   * Gradients are dropped. Create the optimizer after moving the model (its
   * momentum buffers live where the parameters were at the first step).
   *
   * @example
   * const net = createModel('resnet20', { inChannels: 3, numClasses: 10, imageSize: 32 }).to({ device: 'cuda' });
   */
  to(opts: { device?: string; dtype?: 'float32' | 'float64' }): this {
    for (const t of this.stateDict().values()) {
      const dtype = isFloatingDType(t.dtype) ? opts.dtype : undefined;
      if ((dtype === undefined || dtype === t.dtype) && (opts.device === undefined || opts.device === t.device)) continue;
      t.moveTo_(dtype, opts.device);
    }
    return this;
  }

  /** Drops every parameter's gradient (like `zero_grad(set_to_none=True)`). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.clearGrad();
  }

  /** Number of parameter elements (buffers excluded). */
  parameterCount(): number {
    return this.parameters().reduce((n, p) => n + p.numel, 0);
  }

  /** Frees every parameter and buffer. The module is unusable afterwards. */
  dispose(): void {
    for (const t of this.stateDict().values()) t.dispose();
  }
}
