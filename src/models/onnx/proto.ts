/**
 * The part of the ONNX protobuf schema that an exported model uses, as a
 * protobufjs descriptor, and the encoder of a ModelProto.
 *
 * Message, field names and field numbers follow `onnx/onnx.proto` of the
 * ONNX project (github.com/onnx/onnx, Apache-2.0); they are the ONNX file
 * format itself. Only the messages and fields this exporter writes are
 * declared (a message encodes the same bytes whatever other fields its
 * schema has), so this is a subset written for the exporter, not a copy of
 * the schema. It lives in code, not in a .proto file, so the build (tsc to
 * dist/) needs no asset copying and no schema is parsed at run time.
 *
 * @example
 * const bytes = encodeModelProto({ ir_version: ONNX_IR_VERSION, opset_import: [{ domain: '', version: 17 }], graph });
 */
import protobuf from 'protobufjs';

/** IR version 8 (ONNX 1.12), the one that introduced opset 17. */
export const ONNX_IR_VERSION = 8;

/** TensorProto.DataType values used here. */
export const OnnxDataType = { FLOAT: 1, INT64: 7 } as const;
export type OnnxDataTypeCode = (typeof OnnxDataType)[keyof typeof OnnxDataType];

/** AttributeProto.AttributeType values used here. */
export const OnnxAttributeType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

/** TensorProto: name, dims and the data as little-endian raw bytes. */
export interface TensorProto {
  name: string;
  dims: number[];
  data_type: OnnxDataTypeCode;
  raw_data: Uint8Array;
  doc_string?: string;
}

export interface AttributeProto {
  name: string;
  type: (typeof OnnxAttributeType)[keyof typeof OnnxAttributeType];
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
}

export interface NodeProto {
  input: string[];
  output: string[];
  name: string;
  op_type: string;
  domain?: string;
  attribute: AttributeProto[];
  doc_string?: string;
}

/** A dimension: a size, or a symbol (`dim_param`) such as the batch. */
export type DimensionProto = { dim_value: number } | { dim_param: string };

export interface ValueInfoProto {
  name: string;
  type: { tensor_type: { elem_type: OnnxDataTypeCode; shape: { dim: DimensionProto[] } } };
  doc_string?: string;
}

export interface GraphProto {
  name: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  value_info?: ValueInfoProto[];
  doc_string?: string;
}

export interface ModelProto {
  ir_version: number;
  opset_import: { domain: string; version: number }[];
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: number;
  doc_string?: string;
  graph: GraphProto;
  metadata_props?: { key: string; value: string }[];
}

const field = (id: number, type: string, rule?: 'repeated') => (rule ? { id, type, rule } : { id, type });

/** protobufjs JSON descriptor of the subset (package `onnx`). */
const SCHEMA = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: {
          fields: {
            name: field(1, 'string'),
            doc_string: field(13, 'string'),
            type: field(20, 'int32'),
            f: field(2, 'float'),
            i: field(3, 'int64'),
            s: field(4, 'bytes'),
            t: field(5, 'TensorProto'),
            floats: field(7, 'float', 'repeated'),
            ints: field(8, 'int64', 'repeated'),
            strings: field(9, 'bytes', 'repeated'),
          },
        },
        ValueInfoProto: {
          fields: { name: field(1, 'string'), type: field(2, 'TypeProto'), doc_string: field(3, 'string') },
        },
        NodeProto: {
          fields: {
            input: field(1, 'string', 'repeated'),
            output: field(2, 'string', 'repeated'),
            name: field(3, 'string'),
            op_type: field(4, 'string'),
            domain: field(7, 'string'),
            attribute: field(5, 'AttributeProto', 'repeated'),
            doc_string: field(6, 'string'),
          },
        },
        ModelProto: {
          fields: {
            ir_version: field(1, 'int64'),
            opset_import: field(8, 'OperatorSetIdProto', 'repeated'),
            producer_name: field(2, 'string'),
            producer_version: field(3, 'string'),
            domain: field(4, 'string'),
            model_version: field(5, 'int64'),
            doc_string: field(6, 'string'),
            graph: field(7, 'GraphProto'),
            metadata_props: field(14, 'StringStringEntryProto', 'repeated'),
          },
        },
        StringStringEntryProto: { fields: { key: field(1, 'string'), value: field(2, 'string') } },
        GraphProto: {
          fields: {
            node: field(1, 'NodeProto', 'repeated'),
            name: field(2, 'string'),
            initializer: field(5, 'TensorProto', 'repeated'),
            doc_string: field(10, 'string'),
            input: field(11, 'ValueInfoProto', 'repeated'),
            output: field(12, 'ValueInfoProto', 'repeated'),
            value_info: field(13, 'ValueInfoProto', 'repeated'),
          },
        },
        TensorProto: {
          fields: {
            dims: field(1, 'int64', 'repeated'),
            data_type: field(2, 'int32'),
            name: field(8, 'string'),
            doc_string: field(12, 'string'),
            raw_data: field(9, 'bytes'),
          },
        },
        TensorShapeProto: {
          fields: { dim: field(1, 'Dimension', 'repeated') },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dim_value', 'dim_param'] } },
              fields: { dim_value: field(1, 'int64'), dim_param: field(2, 'string'), denotation: field(3, 'string') },
            },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ['tensor_type'] } },
          fields: { tensor_type: field(1, 'Tensor'), denotation: field(6, 'string') },
          nested: {
            Tensor: { fields: { elem_type: field(1, 'int32'), shape: field(2, 'TensorShapeProto') } },
          },
        },
        OperatorSetIdProto: { fields: { domain: field(1, 'string'), version: field(2, 'int64') } },
      },
    },
  },
};

let modelType: protobuf.Type | undefined;

/** The ModelProto message type (built once). */
export function modelProtoType(): protobuf.Type {
  modelType ??= protobuf.Root.fromJSON(SCHEMA).lookupType('onnx.ModelProto');
  return modelType;
}

/** The bytes of an .onnx file. */
export function encodeModelProto(model: ModelProto): Uint8Array {
  const type = modelProtoType();
  return type.encode(type.fromObject(model as unknown as Record<string, unknown>)).finish();
}

/** Reads an .onnx file's ModelProto back (int64 as numbers, bytes as Uint8Array); for tests and tools. */
export function decodeModelProto(bytes: Uint8Array): ModelProto {
  const type = modelProtoType();
  return type.toObject(type.decode(bytes), { longs: Number, arrays: true }) as unknown as ModelProto;
}
