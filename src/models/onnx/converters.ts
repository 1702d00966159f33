/**
 * Module → ONNX converters, by class. A model is exported by walking its
 * module tree from the root: each module is converted by the converter of
 * its class, which emits its operators and converts its children. The
 * standard layers of nn/ have converters here, the zoo models in zoo.ts.
 *
 * Why converters and not a trace of forward(): a forward() mixes module
 * calls with tensor operations (`x.relu()`, `.add(...)`, `.mean([2, 3])`)
 * that run in libtorch and leave no record a tracer could read without
 * hooking the tensor layer. A converter states the same computation in ONNX
 * operators; the export checks its output shape against a real forward()
 * and the tests compare the logits with onnxruntime.
 *
 * A class is converted only if its forward() is the one the converter was
 * written for: a subclass that overrides forward() needs its own converter,
 * so a custom module is never exported as something it does not compute.
 *
 * @example
 * // A user module with its own forward(): state it in ONNX operators.
 * class Scale2 extends Module { forward(x: Tensor) { return this.inner.forward(x).add(this.inner.forward(x)); } ... }
 * registerOnnxConverter(Scale2, (m, x, ctx) => ops.add(ctx.graph, ctx.module(m.inner, x), ctx.module(m.inner, x), ctx.name('add')));
 */
import type { Module } from '../../nn/module.js';
import { BatchNorm, Conv2d, Linear } from '../../nn/layers.js';
import { AdaptiveAvgPool2d, AvgPool2d, Dropout, Flatten, Identity, MaxPool2d, ReLU, Sequential } from '../../nn/containers.js';
import type { Tensor } from '../../tensor/tensor.js';
import { canonicalizeZeros } from '../../checkpoints/sparse-format.js';
import { OnnxExportError, SparseSoupsError } from '../../util/errors.js';
import type { OnnxGraph, OnnxValue } from './graph.js';
import * as ops from './ops.js';

/** What a converter gets besides its module and input. */
export interface OnnxExportContext {
  readonly graph: OnnxGraph;
  /** The dotted path of the module being converted ('' for the model itself). */
  readonly path: string;
  /** Converts a module (usually a child) on `x`; `name` is its path segment when it is not a registered child. */
  module(child: Module, x: OnnxValue, name?: string): OnnxValue;
  /** The tensor as an initializer, named by its state-dict name (the same tensor twice is stored once). */
  tensor(t: Tensor, name: string): OnnxValue;
  /** A node name under this module's path: `layer1.0/relu`. */
  name(op: string): string;
}

/** Emits the ONNX operators of `module` applied to `input` (eval mode) and returns the output. */
export type OnnxConverter<M extends Module = Module> = (module: M, input: OnnxValue, ctx: OnnxExportContext) => OnnxValue;

/** A class whose instances are modules (abstract ones included). */
export type ModuleClass<M extends Module> = abstract new (...args: never[]) => M;

interface Registered {
  converter: OnnxConverter;
  /** The forward() the converter states in ONNX. */
  forward: Module['forward'];
}

const registry = new Map<object, Registered>();

/**
 * Registers the converter of a module class (and of its subclasses that
 * keep its forward()). Registering a class again replaces its converter.
 */
export function registerOnnxConverter<M extends Module>(cls: ModuleClass<M>, converter: OnnxConverter<M>): void {
  const forward = (cls.prototype as Module).forward;
  registry.set(cls, { converter: converter as OnnxConverter, forward });
}

/** Names of the classes that have converters (for error messages and docs). */
export function onnxConvertibleClasses(): string[] {
  return [...registry.keys()].map((c) => (c as { name: string }).name);
}

/**
 * The converter for `m`, found along its class chain, or the reason there is
 * none (a class without a converter, or one that overrides the forward() of
 * the class that has one).
 */
function converterFor(m: Module): { converter: OnnxConverter } | { problem: string } {
  const cls = m.constructor.name;
  for (let proto = Object.getPrototypeOf(m) as object | null; proto !== null; proto = Object.getPrototypeOf(proto) as object | null) {
    const registered = registry.get((proto as { constructor: object }).constructor);
    if (registered === undefined) continue;
    if (m.forward === registered.forward) return { converter: registered.converter };
    const base = (proto as { constructor: { name: string } }).constructor.name;
    return {
      problem:
        `${cls} overrides the forward() of ${base}, so ${base}'s ONNX converter does not describe it; ` +
        `register one for ${cls} with registerOnnxConverter (models/onnx/converters.ts)`,
    };
  }
  return {
    problem:
      `no ONNX converter for ${cls} (a forward() is not traced: its tensor operations leave no record). ` +
      `Build the model from the supported layers (${onnxConvertibleClasses().join(', ')}) or register a converter for ${cls} with registerOnnxConverter (models/onnx/converters.ts)`,
  };
}

/** Walks a model from its root; one per export. */
export class ModuleConverter {
  private readonly paths = new Map<Module, string>();
  private readonly stateNames = new Map<Tensor, string>();
  private readonly stored = new Map<Tensor, OnnxValue>();

  constructor(
    readonly graph: OnnxGraph,
    root: Module,
  ) {
    for (const [path, m] of root.namedModules()) if (!this.paths.has(m)) this.paths.set(m, path);
    for (const [name, t] of root.stateDict()) if (!this.stateNames.has(t)) this.stateNames.set(t, name);
  }

  /** Converts `m` (at `path`) on `x`; any failure inside is an OnnxExportError naming the innermost module. */
  convert(m: Module, x: OnnxValue, path: string): OnnxValue {
    const found = converterFor(m);
    if ('problem' in found) throw new OnnxExportError(path, m.constructor.name, found.problem);
    const ctx: OnnxExportContext = {
      graph: this.graph,
      path,
      module: (child, input, name) => this.convert(child, input, this.paths.get(child) ?? join(path, name ?? child.constructor.name)),
      tensor: (t, name) => this.initializer(t, join(path, name)),
      name: (op) => (path === '' ? op : `${path}/${op}`),
    };
    try {
      return found.converter(m, x, ctx);
    } catch (e) {
      if (e instanceof OnnxExportError || !(e instanceof SparseSoupsError)) throw e;
      throw new OnnxExportError(path, m.constructor.name, e.message);
    }
  }

  private initializer(t: Tensor, fallbackName: string): OnnxValue {
    const known = this.stored.get(t);
    if (known !== undefined) return known;
    const source = t.toArray();
    let data: Float32Array;
    if (source instanceof Float32Array) data = source;
    else if (source instanceof Float64Array) data = Float32Array.from(source);
    else throw new OnnxExportError(fallbackName, 'Tensor', `a ${t.dtype} tensor cannot be a float32 ONNX weight`);
    canonicalizeZeros(data); // -0.0 from masking is written +0.0, as in the safetensors exports
    const value = this.graph.addInitializer(this.stateNames.get(t) ?? fallbackName, data, t.shape);
    this.stored.set(t, value);
    return value;
  }
}

const join = (path: string, name: string): string => (path === '' ? name : `${path}.${name}`);

// ---- the standard layers of nn/ ----

registerOnnxConverter(Linear, (m, x, ctx) =>
  ops.linear(ctx.graph, x, ctx.tensor(m.weight, 'weight'), m.bias && ctx.tensor(m.bias, 'bias'), ctx.name('linear')),
);

registerOnnxConverter(Conv2d, (m, x, ctx) =>
  ops.conv(ctx.graph, x, ctx.tensor(m.weight, 'weight'), m.bias && ctx.tensor(m.bias, 'bias'), m, ctx.name('conv')),
);

// BatchNorm1d and BatchNorm2d share BatchNorm's forward(); exported in eval mode (running statistics).
registerOnnxConverter(BatchNorm, (m, x, ctx) => {
  const c = m.numFeatures;
  const constant = (value: number, name: string): OnnxValue =>
    ctx.graph.addInitializer(ctx.name(name), new Float32Array(c).fill(value), [c]);
  return ops.batchNorm(
    ctx.graph,
    x,
    {
      scale: m.weight ? ctx.tensor(m.weight, 'weight') : constant(1, 'scale'),
      bias: m.bias ? ctx.tensor(m.bias, 'bias') : constant(0, 'bias'),
      mean: ctx.tensor(m.runningMean, 'running_mean'),
      variance: ctx.tensor(m.runningVar, 'running_var'),
      eps: m.eps,
    },
    ctx.name('batchnorm'),
  );
});

registerOnnxConverter(Sequential, (m, x, ctx) => {
  let y = x;
  for (let i = 0; i < m.length; i++) y = ctx.module(m.at(i), y, String(i));
  return y;
});

registerOnnxConverter(ReLU, (_m, x, ctx) => ops.relu(ctx.graph, x, ctx.name('relu')));
registerOnnxConverter(Identity, (_m, x) => x);
// Dropout is the identity in eval mode.
registerOnnxConverter(Dropout, (_m, x) => x);
registerOnnxConverter(Flatten, (m, x, ctx) => ops.flatten(ctx.graph, x, m.startDim, m.endDim, ctx.name('flatten')));
registerOnnxConverter(MaxPool2d, (m, x, ctx) =>
  ops.maxPool(ctx.graph, x, { kernel: m.kernelSize, stride: m.stride, padding: m.padding }, ctx.name('maxpool')),
);
registerOnnxConverter(AvgPool2d, (m, x, ctx) =>
  ops.avgPool(ctx.graph, x, { kernel: m.kernelSize, stride: m.stride, padding: m.padding }, ctx.name('avgpool')),
);
registerOnnxConverter(AdaptiveAvgPool2d, (m, x, ctx) => {
  const size: [number, number] = typeof m.outputSize === 'number' ? [m.outputSize, m.outputSize] : m.outputSize;
  return ops.adaptiveAvgPool(ctx.graph, x, size, ctx.name('avgpool'));
});
