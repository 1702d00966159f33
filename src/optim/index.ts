export { SGD } from './sgd.js';
export type { SgdOptions } from './sgd.js';
export { GradScaler } from './grad-scaler.js';
export type { GradScalerOptions, ScaledOptimizer } from './grad-scaler.js';
