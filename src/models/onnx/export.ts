/**
 * A Module as an ONNX model (opset 17, float32, dynamic batch): the eval-mode
 * forward() of the model, batch norm with its running statistics, dropout
 * the identity. Weights are initializers named by their state-dict names,
 * zeros included (a pruned model stays exactly as sparse).
 *
 * The input is `input` [batch, C, H, W], the output `logits` [batch, classes].
 * The dataset normalization ((pixel/255 - mean[c]) / std[c]) is, by choice,
 * either left to the caller and stated in the metadata (default: the graph
 * computes exactly what forward() does), or applied in the graph (Sub, Div:
 * the input is then pixel/255 in [0, 1]).
 *
 * @example
 * const net = createModel('convnet', { inChannels: 1, numClasses: 10, imageSize: 28 });
 * const r = exportOnnx(net, { inputShape: [1, 28, 28], normalization: { mean: [0.286], std: [0.353] } });
 * await writeFileAtomic('convnet.onnx', r.bytes);
 * // onnxruntime-node: (await InferenceSession.create('convnet.onnx')).run({ input: new Tensor('float32', x, [n, 1, 28, 28]) })
 */
import type { Module } from '../../nn/module.js';
import { zeros, noGrad } from '../../tensor/create.js';
import { tidy } from '../../tensor/scope.js';
import { OnnxExportError, SparseSoupsError } from '../../util/errors.js';
import { OnnxGraph, ONNX_OPSET, type Dim } from './graph.js';
import { ModuleConverter } from './converters.js';
import { encodeModelProto } from './proto.js';
import * as ops from './ops.js';
import './zoo.js';

/** The symbolic batch dimension of the input and output. */
export const BATCH_DIM = 'batch';
export const ONNX_INPUT_NAME = 'input';
export const ONNX_OUTPUT_NAME = 'logits';

export interface Normalization {
  /** Per-channel mean of pixel/255. */
  mean: readonly number[];
  /** Per-channel standard deviation of pixel/255. */
  std: readonly number[];
}

export interface OnnxExportOptions {
  /** The input without the batch: [C, H, W] for images. */
  inputShape: readonly number[];
  /** The dataset normalization the model was trained with, when known. */
  normalization?: Normalization;
  /** Apply the normalization in the graph (input pixel/255 in [0, 1]) instead of stating it in the metadata. */
  normalizeInGraph?: boolean;
  /** More metadata_props (e.g. the model description); the input keys below are the exporter's. */
  metadata?: Record<string, string>;
  /** The graph's name (default: the model's class). */
  graphName?: string;
  /** Check the graph's output shape against one forward() on zeros (default true). */
  checkForward?: boolean;
}

export interface OnnxExportResult {
  /** The .onnx file's bytes. */
  bytes: Uint8Array;
  opset: number;
  inputShape: Dim[];
  outputShape: Dim[];
  /** Nodes per operator type. */
  operators: Record<string, number>;
  metadata: Record<string, string>;
}

/** The metadata_props keys that say what the input is. */
export const INPUT_METADATA_KEYS = {
  layout: 'input_layout',
  range: 'input_value_range',
  normalization: 'normalization',
  mean: 'mean',
  std: 'std',
} as const;

/**
 * Converts `model` to ONNX. Throws OnnxExportError naming the module (path
 * and class) that has no converter, or whose converter does not fit its input.
 */
export function exportOnnx(model: Module, opts: OnnxExportOptions): OnnxExportResult {
  const inputShape: Dim[] = [BATCH_DIM, ...opts.inputShape];
  if (opts.normalizeInGraph && opts.normalization === undefined) {
    throw new OnnxExportError('', model.constructor.name, 'normalizeInGraph needs the normalization (mean and std of the dataset)');
  }
  const graph = new OnnxGraph(opts.graphName ?? model.constructor.name);
  let x = graph.addInput(ONNX_INPUT_NAME, inputShape);
  if (opts.normalizeInGraph) {
    try {
      x = ops.normalize(graph, x, opts.normalization!.mean, opts.normalization!.std, 'normalize');
    } catch (e) {
      if (e instanceof SparseSoupsError) throw new OnnxExportError('', model.constructor.name, e.message);
      throw e;
    }
  }
  const y = new ModuleConverter(graph, model).convert(model, x, '');
  const output = graph.addOutput(y, ONNX_OUTPUT_NAME);
  if (opts.checkForward ?? true) checkOutputShape(model, opts.inputShape, output.shape);
  const metadata = { ...opts.metadata, ...inputMetadata(opts) };
  const bytes = encodeModelProto(graph.toModelProto({ opset: ONNX_OPSET, metadata }));
  return { bytes, opset: ONNX_OPSET, inputShape, outputShape: [...output.shape], operators: graph.operatorCounts(), metadata };
}

function inputMetadata(opts: OnnxExportOptions): Record<string, string> {
  const K = INPUT_METADATA_KEYS;
  const layout = opts.inputShape.length === 3 ? 'NCHW' : `[${[BATCH_DIM, ...opts.inputShape].join(', ')}]`;
  const out: Record<string, string> = { [K.layout]: layout };
  const n = opts.normalization;
  if (n === undefined) {
    out[K.range] = 'as the model was trained on (its dataset normalization is not recorded)';
    out[K.normalization] = 'unknown';
    return out;
  }
  out[K.mean] = JSON.stringify(n.mean);
  out[K.std] = JSON.stringify(n.std);
  if (opts.normalizeInGraph) {
    out[K.range] = 'pixel / 255, in [0, 1]';
    out[K.normalization] = 'in_graph: the graph computes (input - mean[c]) / std[c]';
  } else {
    out[K.range] = 'normalized: (pixel / 255 - mean[c]) / std[c]';
    out[K.normalization] = 'by_caller: feed (pixel / 255 - mean[c]) / std[c]';
  }
  return out;
}

/** One eval-mode forward() on zeros; its output shape must be the graph's (batch 1). Restores the training flags. */
function checkOutputShape(model: Module, inputShape: readonly number[], graphShape: readonly Dim[]): void {
  const modes = model.namedModules().map(([, m]) => [m, m.training] as const);
  const device = model.parameters()[0]?.device ?? 'cpu';
  let shape: number[];
  try {
    model.eval();
    shape = noGrad(() => tidy(() => model.forward(zeros([1, ...inputShape], { device })).shape));
  } finally {
    for (const [m, training] of modes) m.training = training;
  }
  const expected = graphShape.map((d) => (d === BATCH_DIM ? 1 : d));
  if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) {
    throw new OnnxExportError(
      '',
      model.constructor.name,
      `the ONNX graph computes [${graphShape.join(', ')}] but forward() returns [${shape.join(', ')}] for one input: a converter does not match its module's forward()`,
    );
  }
}
