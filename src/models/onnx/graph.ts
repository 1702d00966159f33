/**
 * An ONNX graph under construction: named values with their shapes (the
 * batch dimension symbolic), nodes in topological order (the order they are
 * added), and initializers. ops.ts adds the operators with their shape
 * rules; converters.ts walks a Module tree with it.
 *
 * @example
 * const g = new OnnxGraph('convnet');
 * const x = g.addInput('input', ['batch', 1, 28, 28]);
 * const y = g.addNode('Relu', [x], x.shape, {}, 'relu');
 * g.addOutput(y, 'logits');
 * const model = g.toModelProto({ opset: 17, metadata: { model: 'convnet' } });
 */
import {
  OnnxAttributeType,
  OnnxDataType,
  ONNX_IR_VERSION,
  type AttributeProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './proto.js';
import { TensorError } from '../../util/errors.js';

/** A dimension: a size, or the name of a dimension only known at run time (the batch). */
export type Dim = number | string;

/** A value of the graph: a graph input, an initializer or a node's output. */
export interface OnnxValue {
  readonly name: string;
  readonly shape: readonly Dim[];
}

/** A node attribute, typed as ONNX types it (an integer and a float are not told apart by a JS number). */
export type OnnxAttribute =
  { int: number } | { ints: readonly number[] } | { float: number } | { floats: readonly number[] } | { string: string };

/** The opset the exporter targets: 17 (ONNX 1.12); every operator used is unchanged since. */
export const ONNX_OPSET = 17;

export interface ModelProtoOptions {
  /** Default ONNX_OPSET. */
  opset?: number;
  /** Stored as the model's metadata_props, in this order. */
  metadata?: Record<string, string>;
  docString?: string;
  producerVersion?: string;
}

export class OnnxGraph {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly names = new Set<string>();

  constructor(readonly name: string) {}

  /** `base`, or `base_1`, `base_2`, ... when taken: every value and node name is unique. */
  uniqueName(base: string): string {
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  /** A float32 graph input. */
  addInput(name: string, shape: readonly Dim[]): OnnxValue {
    const value = { name: this.uniqueName(name), shape: [...shape] };
    this.inputs.push(valueInfo(value));
    return value;
  }

  /** A constant tensor stored in the file (a weight, or an operator's shape argument). */
  addInitializer(name: string, data: Float32Array | BigInt64Array, dims: readonly number[]): OnnxValue {
    const count = dims.reduce((n, d) => n * d, 1);
    if (count !== data.length) throw new TensorError(`initializer '${name}': ${data.length} values for dims [${dims.join(', ')}]`);
    const value = { name: this.uniqueName(name), shape: [...dims] };
    this.initializers.push({
      name: value.name,
      dims: [...dims],
      data_type: data instanceof Float32Array ? OnnxDataType.FLOAT : OnnxDataType.INT64,
      raw_data: littleEndianBytes(data),
    });
    return value;
  }

  /** An int64 vector initializer (shapes, pads, slice bounds). */
  addInt64s(name: string, values: readonly number[]): OnnxValue {
    return this.addInitializer(
      name,
      BigInt64Array.from(values, (v) => BigInt(v)),
      [values.length],
    );
  }

  /**
   * A node of `opType` with one output of `shape`, named after `name`. An
   * input given as null is an omitted optional input ('' in ONNX).
   */
  addNode(
    opType: string,
    inputs: readonly (OnnxValue | null)[],
    shape: readonly Dim[],
    attributes: Record<string, OnnxAttribute>,
    name: string,
  ): OnnxValue {
    const output = { name: this.uniqueName(name), shape: [...shape] };
    this.nodes.push({
      name: output.name,
      op_type: opType,
      input: trimOptional(inputs.map((v) => v?.name ?? '')),
      output: [output.name],
      attribute: Object.entries(attributes).map(([key, a]) => attribute(key, a)),
    });
    return output;
  }

  /** Declares `value` a graph output called `name` (through an Identity node when it needs renaming). */
  addOutput(value: OnnxValue, name: string): OnnxValue {
    const isInput = this.inputs.some((i) => i.name === value.name);
    const isInitializer = this.initializers.some((i) => i.name === value.name);
    let out = value;
    if (value.name !== name || isInput || isInitializer) {
      const node = this.nodes.find((n) => n.output[0] === value.name);
      if (node !== undefined && !isInput && !isInitializer && !this.names.has(name)) {
        // Rename the producing node's output instead of adding an Identity node.
        for (const n of this.nodes) n.input = n.input.map((i) => (i === value.name ? name : i));
        node.output = [name];
        this.names.add(name);
        out = { name, shape: value.shape };
      } else {
        out = this.addNode('Identity', [value], value.shape, {}, name);
      }
    }
    this.outputs.push(valueInfo(out));
    return out;
  }

  get nodeCount(): number {
    return this.nodes.length;
  }

  /** Nodes per operator type, e.g. { Conv: 19, BatchNormalization: 19, Add: 9, ... }. */
  operatorCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const n of this.nodes) counts[n.op_type] = (counts[n.op_type] ?? 0) + 1;
    return counts;
  }

  toModelProto(opts: ModelProtoOptions = {}): ModelProto {
    return {
      ir_version: ONNX_IR_VERSION,
      opset_import: [{ domain: '', version: opts.opset ?? ONNX_OPSET }],
      producer_name: 'sparse-soups',
      producer_version: opts.producerVersion ?? '',
      doc_string: opts.docString ?? '',
      graph: { name: this.name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
      metadata_props: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
    };
  }
}

function valueInfo(v: OnnxValue): ValueInfoProto {
  return {
    name: v.name,
    type: {
      tensor_type: {
        elem_type: OnnxDataType.FLOAT,
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
      },
    },
  };
}

/** Trailing omitted optional inputs are left out; inner ones stay as ''. */
function trimOptional(names: string[]): string[] {
  let end = names.length;
  while (end > 0 && names[end - 1] === '') end--;
  return names.slice(0, end);
}

function attribute(name: string, a: OnnxAttribute): AttributeProto {
  if ('int' in a) return { name, type: OnnxAttributeType.INT, i: a.int };
  if ('ints' in a) return { name, type: OnnxAttributeType.INTS, ints: [...a.ints] };
  if ('float' in a) return { name, type: OnnxAttributeType.FLOAT, f: a.float };
  if ('floats' in a) return { name, type: OnnxAttributeType.FLOATS, floats: [...a.floats] };
  return { name, type: OnnxAttributeType.STRING, s: new TextEncoder().encode(a.string) };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** raw_data is little-endian; a copy, so later changes to the source do not reach the file. */
function littleEndianBytes(data: Float32Array | BigInt64Array): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  if (!LITTLE_ENDIAN) {
    const size = data.BYTES_PER_ELEMENT;
    for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
  }
  return bytes;
}
