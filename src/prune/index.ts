/** Pruning: which weights are prunable, masks, criteria, sparsity schedules. */
export { prunableParameters } from './prunable.js';
export type { PrunableOptions, NamedTensor } from './prunable.js';
export { PruningMask, assertSameMask, packMaskBits, unpackMaskBits, MASK_FILE_FORMAT } from './mask.js';
export type { LayerSparsity, MaskTarget, MaskLoadOptions } from './mask.js';
export {
  getCriterion,
  listCriteria,
  describeCriterion,
  registerCriterion,
  computeMask,
  globalMagnitudeMask,
  uniformMagnitudeMask,
  randomMask,
  pruneLowestScores,
  DEFAULT_CRITERION,
} from './criteria.js';
export type { PruningCriterion, CriterionOptions, ComputeMaskOptions } from './criteria.js';
export {
  impPruneRate,
  impPhaseSparsities,
  gmpSparsity,
  gmpPhaseSparsities,
  getPhaseSchedule,
  listPhaseSchedules,
  describePhaseSchedule,
} from './schedule.js';
export type { GmpSchedule, PhaseSchedule } from './schedule.js';
