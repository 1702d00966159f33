/**
 * A whole network compiled for sparse inference (native/src/sparse_plan.cc):
 * a sequence of steps over preallocated native buffers, run by one call,
 * with no JavaScript between the layers. Conv steps hold their weight in CSR
 * (the sparse kernel: direct convolution over the non-zeros, vectorized,
 * multithreaded over output planes) and/or dense (im2col + BLAS GEMM), with
 * BN folded by the caller into weight and bias, and the residual add and ReLU
 * fused into the store. float32 on CPU only; no autograd.
 *
 * Values are numbered: 0 is the input, k is the output of `steps[k - 1]`.
 * A step reads earlier values only, so the plan is a straight line with
 * residual edges; buffers are reused once a value is dead.
 *
 * @example
 * // conv 3×3 (1→8) + ReLU, global average pooling, linear 8 → 10
 * const plan = SparsePlan.compile({
 *   inputShapes: [[1, 28, 28]],
 *   steps: [
 *     { op: 'conv2d', input: 0, weight: w1, bias: b1, stride: [1, 1], padding: [1, 1], dilation: [1, 1], relu: true, kernel: 'sparse' },
 *     { op: 'globalAvgPool', input: 1 },
 *     { op: 'linear', input: 2, weight: w2, bias: b2, kernel: 'sparse' },
 *   ],
 * });
 * const logits = plan.run(images); // images [N, 1, 28, 28] → [N, 10]
 * plan.dispose();
 */
import { native, type NativeSparsePlan } from './native.js';
import { Tensor } from './tensor.js';
import type { Disposable } from './scope.js';

/** The kernel of a conv or linear step: CSR over the non-zeros, or dense GEMM (libtorch's BLAS). */
export type PlanKernel = 'sparse' | 'dense';

/** Adds `value` to a conv's output before its ReLU: output channel o adds channel o - channelOffset (when in range) at rows and columns · stride. */
export interface PlanResidual {
  value: number;
  /** Zero channels before the value's (ResNet option A pads both sides). Default 0. */
  channelOffset?: number;
  /** Subsampling of the value (option A: 2). Default 1. */
  stride?: number;
}

interface StepBase {
  /** A name for errors, descriptions and profiles (the layer's name). */
  name?: string;
  /** The value read: 0 the input, k the output of steps[k - 1]. */
  input: number;
}

/** Conv2d (groups 1): weight [O, C, kh, kw], bias [O]; input [C, H, W] → [O, H', W']. */
export interface PlanConvStep extends StepBase {
  op: 'conv2d';
  weight: Tensor;
  bias?: Tensor | null;
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  relu?: boolean;
  residual?: PlanResidual | null;
  kernel: PlanKernel;
  /** calibrate() may replace `kernel` by the faster one (both weights are kept until then). */
  tunable?: boolean;
}

/** Linear: weight [out, in], bias [out]; a flat input of `in` features → [out]. */
export interface PlanLinearStep extends StepBase {
  op: 'linear';
  weight: Tensor;
  bias?: Tensor | null;
  relu?: boolean;
  kernel: PlanKernel;
  tunable?: boolean;
}

/** Max pooling, floor mode, -∞ padding (libtorch's max_pool2d with dilation 1). */
export interface PlanMaxPoolStep extends StepBase {
  op: 'maxPool2d';
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
}

/** Mean over H and W: [C, H, W] → flat [C]. */
export interface PlanGlobalAvgPoolStep extends StepBase {
  op: 'globalAvgPool';
}

/** y = x · scale[c] + shift[c] (a BN left unfolded) (+ residual), then ReLU if asked; scale and shift [C] (features, for a flat input). */
export interface PlanAffineStep extends StepBase {
  op: 'affine';
  scale?: Tensor | null;
  shift?: Tensor | null;
  relu?: boolean;
  residual?: PlanResidual | null;
}

/** [C, H, W] → flat [C·H·W], without a copy. */
export interface PlanFlattenStep extends StepBase {
  op: 'flatten';
}

/** One step of a plan: it reads value `input` (and a residual) and its output is the next value. */
export type SparsePlanStep = PlanConvStep | PlanLinearStep | PlanMaxPoolStep | PlanGlobalAvgPoolStep | PlanAffineStep | PlanFlattenStep;

/** What SparsePlan.compile builds a plan from: the per-image input shapes and the steps, in order. */
export interface SparsePlanSpec {
  /** The per-image input shapes accepted ([C, H, W] or [features]), all with the same number of values; the first is the layout. */
  inputShapes: number[][];
  steps: SparsePlanStep[];
}

/** One tunable layer's calibration at one batch size: the fastest run (ms) of each kernel, and the one kept. */
export interface PlanTiming {
  step: number;
  name: string;
  batch: number;
  sparseMs: number;
  denseMs: number;
  kernel: PlanKernel;
}

/** A step as the compiled plan describes it (SparsePlan.describe). */
export interface PlanStepInfo {
  name: string;
  op: SparsePlanStep['op'];
  /** Kernel at batches below 4 and from 4 up (conv and linear steps), else null. */
  kernels: [PlanKernel, PlanKernel] | null;
  /** Weights of the layer (conv, linear), zeros included, and how many are non-zero. */
  weights: number;
  nonZeros: number;
  /** Per-image shape of the step's output. */
  outputShape: number[];
  tunable: boolean;
}

/** Where a run's time goes: medians over the runs profiled, in µs. */
export interface PlanProfile {
  totalMicros: number;
  steps: { name: string; op: string; micros: number }[];
}

/** A compiled plan; owns its native memory (weights and buffers): dispose() frees it, the garbage collector otherwise. */
export class SparsePlan implements Disposable {
  private constructor(private readonly handle: NativeSparsePlan) {}

  /**
   * Validates `spec` and copies its weights into the plan (the caller keeps
   * and may dispose its tensors). TypeError, naming the step, for a spec
   * that does not fit (shapes, value ids, geometry, dtypes).
   */
  static compile(spec: SparsePlanSpec): SparsePlan {
    const steps = spec.steps.map((s) => {
      const out: Record<string, unknown> = { ...s };
      for (const key of ['weight', 'bias', 'scale', 'shift'] as const) {
        const t = (s as unknown as Record<string, Tensor | null | undefined>)[key];
        if (t !== undefined) out[key] = t === null ? null : t.handle;
      }
      return out;
    });
    return new SparsePlan(new native.SparsePlan({ inputShapes: spec.inputShapes, steps }));
  }

  /**
   * Logits (the last step's output) of a batch: x [N, ...inputShape] float32
   * on CPU → [N, ...outputShape]. A batch runs in chunks of as many images
   * as fit about 512 KiB of activations (1 to 64), so that they stay in cache.
   * TensorError naming the accepted shapes for any other input.
   */
  run(x: Tensor): Tensor {
    return new Tensor(this.handle.run(x.handle));
  }

  /**
   * Times both kernels of every tunable step (the fastest of `reps`
   * alternating runs each, on random inputs: noise on a shared machine only
   * adds time) at batch 1 and at `largeBatch` (clamped to 4 … the chunk
   * size; skipped when chunks hold fewer than 4 images), keeps the faster one
   * per regime (chunks below 4 images, and from 4), and frees the weights no
   * regime uses. Call once, after compile.
   */
  calibrate(opts: { largeBatch?: number; reps?: number } = {}): PlanTiming[] {
    return this.handle.calibrate(opts.largeBatch ?? 16, opts.reps ?? 7);
  }

  /** Runs `x` `reps` times and says how long each step took (medians, µs). */
  profile(x: Tensor, reps = 50): PlanProfile {
    return this.handle.profile(x.handle, reps);
  }

  /** The steps: names, kernels, weights and output shapes. */
  describe(): PlanStepInfo[] {
    return this.handle.describe() as PlanStepInfo[];
  }

  /** Native bytes held: weights, offsets, buffers. */
  get bytes(): number {
    return this.handle.bytes;
  }

  /** Images per chunk of a run: as many as fit about 512 KiB of activations and padded input, 1 … 64 (0 once disposed). */
  get chunkImages(): number {
    return this.handle.chunkImages;
  }

  /** Frees the native memory now; run() afterwards throws. Idempotent. */
  dispose(): void {
    this.handle.dispose();
  }

  get isDisposed(): boolean {
    return this.handle.disposed;
  }
}
