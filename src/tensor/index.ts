/** The public tensor API: one flat surface over the libtorch addon. */
export { Tensor, Generator, isDType, isFloatingDType, dtypeOfArray } from './tensor.js';
export type { DType, Device, AnyTypedArray, TypedArrayFor } from './tensor.js';
export * from './create.js';
export { tidy, keep, dispose, inScope } from './scope.js';
export { autocast, autocastDeviceType } from './amp.js';
export type { AutocastDType } from './amp.js';
export type { Disposable } from './scope.js';
export { CsrMatrix, sparseLinear, sparseConv2d } from './sparse.js';
export type { SparseConvGeometry } from './sparse.js';
export { SparsePlan } from './sparse-plan.js';
export type {
  SparsePlanSpec,
  SparsePlanStep,
  PlanKernel,
  PlanResidual,
  PlanConvStep,
  PlanLinearStep,
  PlanMaxPoolStep,
  PlanGlobalAvgPoolStep,
  PlanAffineStep,
  PlanFlattenStep,
  PlanTiming,
  PlanStepInfo,
  PlanProfile,
} from './sparse-plan.js';
