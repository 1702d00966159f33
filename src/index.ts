/**
 * sparse-soups: prune neural networks and merge pruned networks into Sparse
 * Model Soups (Zimmer, Spiegel & Pokutta, ICLR 2024), on libtorch.
 *
 * The package root gathers what a user's own code needs; each part also has
 * its own entry point with everything in it (`sparse-soups/tensor`, `/nn`,
 * `/optim`, `/models`, `/data`, `/data/corruptions`, `/prune`, `/soup`,
 * `/train`, `/metrics`, `/checkpoints`, `/io`, `/sms`, `/errors`).
 * docs/api.md is the guide; examples/ has runnable programs.
 *
 * @example
 * import { Module, Linear, registerModel, registerDataset, runSms, parseSmsConfig } from 'sparse-soups';
 * // the SMS pipeline on your own model and data: examples/custom-model-sms.ts
 * import { globalMagnitudeMask, prunableParameters, averageStates, recalibrateBatchNorm } from 'sparse-soups';
 * // prune, soup and recalibrate by hand: examples/prune-soup-recalibrate.ts
 */

// The SMS pipeline, its config, progress events and results.
export {
  runSms,
  parseSmsConfig,
  /** The zod schema of the run config: every key with its default and a one-line description (docs/config.md is generated from it). */
  smsConfigSchema,
  configHash,
  InlineExecutor,
  retrainCandidate,
  runLayout,
  meanScores,
  candidateSpecs,
} from './sms/index.js';
export type {
  /** A validated run config with every default filled in, as `parseSmsConfig` returns it (keys: docs/config.md). */
  SmsConfig,
  /** What `parseSmsConfig` accepts: the run config with every defaulted key optional (a YAML file's shape). */
  SmsConfigInput,
  SmsResults,
  SmsRunOptions,
  SmsEvent,
  PhaseResult,
  CandidateRecord,
  SoupRecord,
  BaselineRecords,
  CandidateSpec,
  ModelMetrics,
  PredictionMetrics,
  OodScore,
  RetrainExecutor,
  RetrainJob,
  RetrainResult,
  RetrainProgress,
  RunLayout,
} from './sms/index.js';

// Pruning: prunable weights, masks, criteria, sparsity schedules (like torch.nn.utils.prune).
export {
  prunableParameters,
  PruningMask,
  assertSameMask,
  computeMask,
  globalMagnitudeMask,
  uniformMagnitudeMask,
  randomMask,
  registerCriterion,
  listCriteria,
  impPruneRate,
  impPhaseSparsities,
  gmpSparsity,
  gmpPhaseSparsities,
} from './prune/index.js';
export type {
  PrunableOptions,
  NamedTensor,
  LayerSparsity,
  PruningCriterion,
  CriterionOptions,
  ComputeMaskOptions,
  GmpSchedule,
} from './prune/index.js';

// Soups: weight averaging, greedy soups, batch-norm recalibration (like torch.optim.swa_utils).
export { averageStates, assertCompatibleStates, disposeState, greedySoup, recalibrateBatchNorm } from './soup/index.js';
export type { RecalibrationOptions, SoupIngredient, GreedyDecision, GreedySoupResult } from './soup/index.js';

// Training: the masked SGD loop and learning-rate schedules.
export { trainModel, stepsFor, makeDenseSchedule, makeRetrainSchedule, describeSchedule } from './train/index.js';
export type {
  TrainOptions,
  TrainProgress,
  TrainResult,
  LrSchedule,
  DenseSchedule,
  DenseScheduleOptions,
  RetrainScheduleContext,
} from './train/index.js';

// Metrics.
export {
  predictLogits,
  softmax,
  accuracy,
  meanCrossEntropy,
  worstClassAccuracy,
  perClassAccuracy,
  expectedCalibrationError,
  ensembleProbabilities,
  modelSparsity,
  nonzeroParameterCount,
  countFlops,
  pairwiseDistances,
} from './metrics/index.js';
export type { CalibrationReport, ModelSparsity, ModelFlops, CandidateDistances } from './metrics/index.js';

// Models: the zoo and its registry (register your own Module under a name the pipeline can build).
export { createModel, registerModel, listModels, loadModel, Mlp, ConvNet, CifarResNet, WideResNet, Vgg16 } from './models/index.js';
export type {
  ModelConfig,
  ModelOptions,
  CreateModelOptions,
  ModelEntry,
  ModelFactory,
  ModelInfo,
  LoadedModel,
  LoadModelHints,
} from './models/index.js';

// Data: in-memory datasets and their registry, files, splits, the seeded loader.
export {
  createImageDataset,
  registerDataset,
  loadDataset,
  listDatasets,
  computeChannelStats,
  hwcToChw,
  loadNpyImageDataset,
  splitTrainValidation,
  subsetDataset,
  randomSubset,
  DataLoader,
  batchToTensors,
} from './data/index.js';
export type {
  ImageDataset,
  DatasetInfo,
  DatasetDefinition,
  DatasetLoadOptions,
  DatasetSplitName,
  ImageShape,
  LoaderOptions,
  Batch,
  TensorBatch,
  AugmentOptions,
  TrainValidationSplit,
} from './data/index.js';

// Networks: modules, layers, functionals (F), the optimizer.
export {
  /**
   * The base class of layers and networks, like torch.nn.Module: register
   * parameters, buffers and child modules under PyTorch names, implement
   * `forward`; `stateDict()`, `loadStateDict()`, `train()`/`eval()`,
   * `namedParameters()`, `to({ device })`, `dispose()`.
   */
  Module,
  Linear,
  Conv2d,
  BatchNorm,
  BatchNorm1d,
  BatchNorm2d,
  Sequential,
  ReLU,
  Identity,
  Flatten,
  MaxPool2d,
  AvgPool2d,
  AdaptiveAvgPool2d,
  Dropout,
  /** Functionals, like torch.nn.functional: linear, conv2d, batchNorm, pooling, relu, softmax, crossEntropy, nllLoss, mseLoss, dropout. */
  F,
} from './nn/index.js';
export type { StateDict } from './nn/index.js';
export { SGD, GradScaler } from './optim/index.js';
export type { SgdOptions, GradScalerOptions, ScaledOptimizer } from './optim/index.js';

// Tensors and memory scopes.
export * from './tensor/index.js';

// Checkpoint files (safetensors, PyTorch-readable).
export {
  saveStateDict,
  loadStateDictFile,
  saveCheckpoint,
  loadCheckpoint,
  verifiedCheckpoint,
  exportStateDict,
} from './checkpoints/index.js';
export type { CheckpointRef } from './checkpoints/index.js';

// Errors: every error the library throws is a SparseSoupsError.
export * from './util/errors.js';
