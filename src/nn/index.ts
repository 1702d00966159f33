/** Modules, layers and functionals. */
export { Module } from './module.js';
export type { StateDict } from './module.js';
export { adaptStateDict, copyAdapted, describeStateDictMismatch, DATA_PARALLEL_PREFIX } from './adapt-state-dict.js';
export type { AdaptedStateDict, StateDictMismatch } from './adapt-state-dict.js';
export { Linear, Conv2d, BatchNorm, BatchNorm1d, BatchNorm2d } from './layers.js';
export type { InitOptions, Conv2dLayerOptions } from './layers.js';
export { Sequential, ReLU, Identity, Flatten, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Dropout } from './containers.js';
export * as F from './functional.js';
export { saveStateDict, loadStateDictFile, toSafeTensor, fromSafeTensor } from '../checkpoints/state-dict.js';
