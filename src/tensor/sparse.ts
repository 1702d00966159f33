/**
 * Sparse weight matrices (CSR) and the sparse × dense products of sparse
 * inference (native/src/sparse_ops.cc): multithreaded over output rows or
 * planes (libtorch's intra-op threads, `setNumThreads`), vectorized over
 * output columns. float32 on CPU only; gradients do not flow through them.
 *
 * @example
 * const csr = CsrMatrix.fromDense(weight);              // weight [out, in], mostly zeros
 * const y = sparseLinear(csr, x, bias);                 // = linear(x, weight, bias)
 * const k = CsrMatrix.fromDense(convWeight.flatten(1)); // conv weight [O, C, kh, kw] → [O, C·kh·kw]
 * const z = sparseConv2d(k, images, null, { kernel: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1] });
 * csr.dispose(); k.dispose();
 */
import { native } from './native.js';
import { Tensor } from './tensor.js';
import type { Disposable } from './scope.js';
import { TensorError } from '../util/errors.js';

/** A float32 matrix [rows, cols] in compressed sparse row form; owns its three tensors. */
export class CsrMatrix implements Disposable {
  private constructor(
    /** int64 [rows + 1]: row r's non-zeros are entries rowPtr[r] … rowPtr[r+1]-1. */
    readonly rowPtr: Tensor,
    /** int32 [nnz]: each non-zero's column. */
    readonly colIdx: Tensor,
    /** float32 [nnz]: each non-zero's value. */
    readonly values: Tensor,
    readonly rows: number,
    readonly cols: number,
  ) {}

  /** The non-zeros of a 2-D float32 CPU tensor (exact zeros are left out, -0 included). */
  static fromDense(weight: Tensor): CsrMatrix {
    if (weight.rank !== 2) throw new TensorError(`CsrMatrix.fromDense: expected a 2-D weight, got shape [${weight.shape.join(', ')}]`);
    const [rowPtr, colIdx, values] = native.denseToCsr(weight.handle).map((h) => new Tensor(h));
    return new CsrMatrix(rowPtr, colIdx, values, weight.size(0), weight.size(1));
  }

  /** Number of stored non-zeros. */
  get nnz(): number {
    return this.values.size(0);
  }

  dispose(): void {
    this.rowPtr.dispose();
    this.colIdx.dispose();
    this.values.dispose();
  }

  get isDisposed(): boolean {
    return this.values.isDisposed;
  }
}

/** y = x Wᵀ + b with W sparse: x [N, in] float32, W [out, in] in CSR, bias [out] → [N, out]. */
export function sparseLinear(weight: CsrMatrix, x: Tensor, bias: Tensor | null | undefined): Tensor {
  return new Tensor(
    native.sparseLinear(weight.rowPtr.handle, weight.colIdx.handle, weight.values.handle, x.handle, bias?.handle, weight.cols),
  );
}

/** Convolution geometry as [h, w] pairs. */
export interface SparseConvGeometry {
  kernel: number[];
  stride: number[];
  padding: number[];
  dilation: number[];
}

/**
 * Conv2d (groups 1) with a sparse weight: x [N, C, H, W] float32, weight
 * [O, C·kh·kw] in CSR (the conv weight flattened from dim 1), bias [O] →
 * [N, O, H', W'].
 */
export function sparseConv2d(weight: CsrMatrix, x: Tensor, bias: Tensor | null | undefined, g: SparseConvGeometry): Tensor {
  return new Tensor(
    native.sparseConv2d(
      weight.rowPtr.handle,
      weight.colIdx.handle,
      weight.values.handle,
      x.handle,
      bias?.handle,
      g.kernel,
      g.stride,
      g.padding,
      g.dilation,
    ),
  );
}
