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
   * Copies tensors into this module's parameters and buffers by name.
   * Refuses, naming every offending key, a dict with missing or unexpected
   * names (when strict) or with a different shape or dtype.
   */
  loadStateDict(source: StateDict | Record<string, Tensor>, opts: { strict?: boolean; origin?: string } = {}): void {
    const strict = opts.strict ?? true;
    const origin = opts.origin ? ` (from ${opts.origin})` : '';
    const src = source instanceof Map ? source : new Map(Object.entries(source));
    const own = this.stateDict();
    const problems: string[] = [];
    for (const [name, t] of own) {
      const s = src.get(name);
      if (s === undefined) {
        if (strict) problems.push(`missing '${name}'`);
        continue;
      }
      const ss = s.shape;
      const ts = t.shape;
      if (ss.length !== ts.length || ss.some((d, i) => d !== ts[i])) {
        problems.push(`'${name}' has shape [${ss.join(', ')}], the model expects [${ts.join(', ')}]`);
      } else if (s.dtype !== t.dtype) {
        problems.push(`'${name}' has dtype ${s.dtype}, the model expects ${t.dtype}`);
      }
    }
    if (strict) for (const name of src.keys()) if (!own.has(name)) problems.push(`unexpected '${name}'`);
    if (problems.length > 0) {
      const shown = problems.slice(0, 8).join('; ') + (problems.length > 8 ? `; and ${problems.length - 8} more` : '');
      throw new CheckpointError(`state dict${origin} does not fit ${this.constructor.name}: ${shown}`);
    }
    noGrad(() => {
      for (const [name, t] of own) {
        const s = src.get(name);
        if (s !== undefined) t.copy_(s);
      }
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
