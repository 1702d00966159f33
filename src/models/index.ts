/** The model zoo: MLP, ConvNet, CIFAR ResNets, WideResNets, VGG-16-BN, the registry by name, and loading a model from a file. */
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
export { loadModel, createDescribedModel } from './load.js';
export type { LoadModelHints, LoadedModel, ZooModelDescription } from './load.js';
