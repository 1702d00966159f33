/** The model zoo: MLP, ConvNet, CIFAR ResNets, WideResNets, VGG-16-BN, the registry by name, loading a model from a file, models from the user's own ES module, and ONNX export. */
export { createModel, listModels, findModel, registerModel } from './registry.js';
export type { ModelConfig, ModelOptions, CreateModelOptions, ModelEntry, ModelFactory, ModelInfo, ModelOptionName } from './registry.js';
export { Mlp } from './mlp.js';
export type { MlpOptions } from './mlp.js';
export { ConvNet } from './convnet.js';
export { CifarResNet, BasicBlock } from './resnet.js';
export type { ResNetOptions, ShortcutOption } from './resnet.js';
export { WideResNet, WideBasicBlock } from './wide-resnet.js';
export type { WideResNetOptions } from './wide-resnet.js';
export { Vgg16, VGG16_CONFIG } from './vgg.js';
export type { VggOptions, VggClassifier } from './vgg.js';
export { loadModel, buildDescribedModel, createDescribedModel } from './load.js';
export type { LoadModelHints, LoadedModel, ZooModelDescription } from './load.js';
export { loadUserModel, userModelName } from './user-module.js';
export type { UserModelConfig, UserModelFactory } from './user-module.js';
export {
  exportOnnx,
  registerOnnxConverter,
  onnxConvertibleClasses,
  onnxOps,
  OnnxGraph,
  ONNX_OPSET,
  decodeModelProto,
} from './onnx/index.js';
export type { OnnxExportOptions, OnnxExportResult, OnnxConverter, OnnxExportContext, OnnxValue, Normalization } from './onnx/index.js';
export { loadSparseModel, toSparseInference } from './sparse-infer.js';
export type { SparseInferenceModel, SparseInferenceOptions, SparseInferenceStats, LayerKernels } from './sparse-infer.js';
