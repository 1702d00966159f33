/**
 * Training: the SGD loop with masks held at zero (`trainModel`) and the
 * learning-rate schedules of dense training and retraining, by name.
 *
 * @example
 * import { trainModel, makeDenseSchedule, stepsFor } from 'sparse-soups/train';
 * const schedule = makeDenseSchedule('linear', { maxLr: 0.1, totalSteps: stepsFor(loader, 5) });
 * await trainModel(model, loader, { epochs: 5, lr: schedule.lr, weightDecay: 5e-4 });
 */
export { trainModel, stepsFor } from './trainer.js';
export type { TrainOptions, TrainProgress, TrainResult } from './trainer.js';
export {
  makeDenseSchedule,
  makeRetrainSchedule,
  listDenseSchedules,
  listRetrainSchedules,
  describeSchedule,
  sampleSchedule,
  allrPeakLr,
  warmupStepsFor,
  RETRAIN_WARMUP_FRACTION,
  DEFAULT_RETRAIN_SCHEDULE,
} from './schedules.js';
export type {
  LrSchedule,
  DenseSchedule,
  DenseScheduleName,
  RetrainScheduleName,
  DenseScheduleOptions,
  RetrainScheduleContext,
  AllrInputs,
} from './schedules.js';
