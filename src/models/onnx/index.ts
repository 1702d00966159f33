/** ONNX export of a Module: the exporter, the converter registry (for user modules) and the operators to write converters with. */
export { exportOnnx, BATCH_DIM, ONNX_INPUT_NAME, ONNX_OUTPUT_NAME, INPUT_METADATA_KEYS } from './export.js';
export type { OnnxExportOptions, OnnxExportResult, Normalization } from './export.js';
export { registerOnnxConverter, onnxConvertibleClasses } from './converters.js';
export type { OnnxConverter, OnnxExportContext, ModuleClass } from './converters.js';
export { OnnxGraph, ONNX_OPSET } from './graph.js';
export type { Dim, OnnxValue, OnnxAttribute } from './graph.js';
export * as onnxOps from './ops.js';
export { decodeModelProto } from './proto.js';
export type { ModelProto } from './proto.js';
