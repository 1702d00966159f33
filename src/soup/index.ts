export { averageStates, assertCompatibleStates, disposeState } from './average.js';
export { recalibrateBatchNorm } from './batchnorm.js';
export type { RecalibrationOptions } from './batchnorm.js';
export { greedySoup } from './greedy.js';
export type { SoupIngredient, GreedyDecision, GreedySoupResult } from './greedy.js';
