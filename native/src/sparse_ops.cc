// Sparse inference kernels: a weight matrix in CSR form (rowPtr int64 [rows+1],
// colIdx int32 [nnz], values float32 [nnz]) times dense activations, for
// Linear layers and for Conv2d (direct convolution over a zero-padded input
// split into stride phases, one output plane per (image, output channel) task).
//
// Threads: at::parallel_for over output rows/planes, so libtorch's intra-op
// pool and at::get_num_threads() apply. Vectorization: the inner loops run
// over contiguous output columns, accumulated in vector registers
// (CombineRow, sparse_kernels.h: AVX2+FMA or the build's baseline, picked
// for the CPU at load time).
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>

#include "sparse_kernels.h"
#include "tensor_wrap.h"

namespace ss {

namespace {

struct Csr {
  const int64_t* rowPtr;
  const int32_t* colIdx;
  const float* values;
  int64_t rows;
};

// Checks the CSR triple (shapes, dtypes, row pointers, column range) so that
// no user input can index out of bounds inside the kernels.
Csr ArgCsr(const Napi::CallbackInfo& info, int64_t cols, const char* op) {
  Napi::Env env = info.Env();
  at::Tensor& rowPtr = ArgTensor(info, 0, "rowPtr");
  at::Tensor& colIdx = ArgTensor(info, 1, "colIdx");
  at::Tensor& values = ArgTensor(info, 2, "values");
  const std::string o(op);
  if (rowPtr.scalar_type() != at::kLong || rowPtr.dim() != 1 || rowPtr.numel() < 1 || !rowPtr.is_contiguous() || !rowPtr.device().is_cpu())
    TypeError(env, o + ": rowPtr must be a contiguous 1-D int64 CPU tensor [rows + 1], got " + DTypeName(rowPtr.scalar_type()) + " " + c10::str(rowPtr.sizes()));
  if (colIdx.scalar_type() != at::kInt || colIdx.dim() != 1 || !colIdx.is_contiguous() || !colIdx.device().is_cpu())
    TypeError(env, o + ": colIdx must be a contiguous 1-D int32 CPU tensor [nnz], got " + DTypeName(colIdx.scalar_type()) + " " + c10::str(colIdx.sizes()));
  if (values.scalar_type() != at::kFloat || values.dim() != 1 || !values.is_contiguous() || !values.device().is_cpu())
    TypeError(env, o + ": values must be a contiguous 1-D float32 CPU tensor [nnz], got " + DTypeName(values.scalar_type()) + " " + c10::str(values.sizes()));
  const int64_t nnz = colIdx.numel();
  if (values.numel() != nnz) TypeError(env, o + ": colIdx has " + std::to_string(nnz) + " entries, values " + std::to_string(values.numel()));
  Csr csr{rowPtr.data_ptr<int64_t>(), colIdx.data_ptr<int32_t>(), values.data_ptr<float>(), rowPtr.numel() - 1};
  if (csr.rowPtr[0] != 0 || csr.rowPtr[csr.rows] != nnz) TypeError(env, o + ": rowPtr must start at 0 and end at nnz = " + std::to_string(nnz));
  for (int64_t r = 0; r < csr.rows; ++r)
    if (csr.rowPtr[r + 1] < csr.rowPtr[r]) TypeError(env, o + ": rowPtr must not decrease (row " + std::to_string(r) + ")");
  for (int64_t k = 0; k < nnz; ++k)
    if (csr.colIdx[k] < 0 || csr.colIdx[k] >= cols)
      TypeError(env, o + ": column index " + std::to_string(csr.colIdx[k]) + " is outside the weight's " + std::to_string(cols) + " columns");
  return csr;
}

at::Tensor FloatInput(const Napi::CallbackInfo& info, size_t i, const char* op) {
  at::Tensor& x = ArgTensor(info, i, "input");
  if (x.scalar_type() != at::kFloat || !x.device().is_cpu())
    TypeError(info.Env(), std::string(op) + ": input must be a float32 CPU tensor, got " + DTypeName(x.scalar_type()) + " on " + x.device().str());
  return x.contiguous();
}

c10::optional<at::Tensor> BiasArg(const Napi::CallbackInfo& info, size_t i, int64_t rows, const char* op) {
  auto b = ArgOptTensor(info, i);
  if (b && (b->scalar_type() != at::kFloat || b->dim() != 1 || b->size(0) != rows || !b->device().is_cpu()))
    TypeError(info.Env(), std::string(op) + ": bias must be a float32 CPU tensor [" + std::to_string(rows) + "], got " + DTypeName(b->scalar_type()) + " " + c10::str(b->sizes()));
  if (b) return b->contiguous();
  return b;
}

// Work (multiply-adds) per parallel chunk, so small layers are not split into
// chunks whose scheduling costs more than their arithmetic.
constexpr int64_t kChunkWork = 32 * 1024;

int64_t GrainFor(int64_t tasks, int64_t totalWork) {
  const int64_t perTask = std::max<int64_t>(1, totalWork / std::max<int64_t>(1, tasks));
  return std::max<int64_t>(1, kChunkWork / perTask);
}

// y[n, r] = b[r] + Σ_k W[r, k] x[n, k], rows [r0, r1), for a few images: dot products.
void LinearRowsDot(const Csr& w, const float* __restrict x, int64_t n, int64_t in, const float* bias, float* __restrict y, int64_t r0, int64_t r1) {
  const int64_t out = w.rows;
  for (int64_t i = 0; i < n; ++i) {
    const float* xi = x + i * in;
    for (int64_t r = r0; r < r1; ++r) {
      float acc = bias ? bias[r] : 0.f;
      for (int64_t k = w.rowPtr[r]; k < w.rowPtr[r + 1]; ++k) acc += w.values[k] * xi[w.colIdx[k]];
      y[i * out + r] = acc;
    }
  }
}

// The vector kernel for this CPU (sparse_kernels.cc), chosen once.
const CombineRowFn CombineRow = CombineRowKernel();

// denseToCsr(weight [rows, cols] float32) → [rowPtr int64, colIdx int32, values float32]
Napi::Value DenseToCsr(const Napi::CallbackInfo& info) {
  at::Tensor& w0 = ArgTensor(info, 0, "weight");
  if (w0.dim() != 2 || w0.scalar_type() != at::kFloat || !w0.device().is_cpu())
    TypeError(info.Env(), "denseToCsr: weight must be a 2-D float32 CPU tensor [rows, cols], got " + DTypeName(w0.scalar_type()) + " " + c10::str(w0.sizes()));
  if (w0.size(1) > INT32_MAX) TypeError(info.Env(), "denseToCsr: more than 2^31 columns");
  at::Tensor w = w0.contiguous();
  const int64_t rows = w.size(0), cols = w.size(1);
  const float* p = w.data_ptr<float>();
  at::Tensor rowPtr = at::empty({rows + 1}, at::kLong);
  int64_t* rp = rowPtr.data_ptr<int64_t>();
  rp[0] = 0;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t c = 0;
    for (int64_t k = 0; k < cols; ++k) c += p[r * cols + k] != 0.f;
    rp[r + 1] = rp[r] + c;
  }
  at::Tensor colIdx = at::empty({rp[rows]}, at::kInt);
  at::Tensor values = at::empty({rp[rows]}, at::kFloat);
  int32_t* ci = colIdx.data_ptr<int32_t>();
  float* vs = values.data_ptr<float>();
  int64_t at_ = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < cols; ++k)
      if (p[r * cols + k] != 0.f) {
        ci[at_] = static_cast<int32_t>(k);
        vs[at_++] = p[r * cols + k];
      }
  return WrapList(info.Env(), {rowPtr, colIdx, values});
}

// sparseLinear(rowPtr, colIdx, values, x [N, in], bias? [out], inFeatures) → [N, out]
Napi::Value SparseLinear(const Napi::CallbackInfo& info) {
  const int64_t in = ArgInt(info, 5, "inFeatures");
  const Csr w = ArgCsr(info, in, "sparseLinear");
  at::Tensor x = FloatInput(info, 3, "sparseLinear");
  if (x.dim() != 2 || x.size(1) != in)
    TypeError(info.Env(), "sparseLinear: input must be [N, " + std::to_string(in) + "], got " + c10::str(x.sizes()));
  auto bias = BiasArg(info, 4, w.rows, "sparseLinear");
  const float* b = bias ? bias->data_ptr<float>() : nullptr;
  const int64_t n = x.size(0), out = w.rows, nnz = w.rowPtr[out];
  const int64_t grain = GrainFor(out, nnz * n);
  if (n < 4) {
    at::Tensor y = at::empty({n, out}, at::kFloat);
    const float* xp = x.data_ptr<float>();
    float* yp = y.data_ptr<float>();
    at::parallel_for(0, out, grain, [&](int64_t r0, int64_t r1) { LinearRowsDot(w, xp, n, in, b, yp, r0, r1); });
    return Wrap(info.Env(), y);
  }
  // xT [in, N] with slack after it; yT rows padded to whole vectors.
  at::Tensor xTbuf = at::zeros({in * n + kSlack}, at::kFloat);
  xTbuf.narrow(0, 0, in * n).view({in, n}).copy_(x.t());
  const int64_t ld = RoundUp(n);
  at::Tensor yT = at::empty({out, ld}, at::kFloat);
  std::vector<int64_t> offsets(nnz);
  for (int64_t k = 0; k < nnz; ++k) offsets[k] = static_cast<int64_t>(w.colIdx[k]) * n;
  const float* xp = xTbuf.data_ptr<float>();
  float* yp = yT.data_ptr<float>();
  at::parallel_for(0, out, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) CombineRow(xp, offsets.data(), w.values, w.rowPtr[r], w.rowPtr[r + 1], b ? b[r] : 0.f, yp + r * ld, n);
  });
  yT = yT.narrow(1, 0, n);
  return Wrap(info.Env(), yT.t().contiguous());
}

// The input is stored as stride phases: phase (py, px) of a padded plane
// holds its rows py, py+sh, … and columns px, px+sw, …, each phase a
// [hq, wq] plane (hq = ⌈hp/sh⌉, wq = ⌈wp/sw⌉). Every kernel tap then reads
// one phase at a fixed offset, contiguously along output columns, so any
// stride runs as stride 1 does (for stride 1 the one phase is the padded plane).
struct ConvGeometry {
  int64_t c, sh, sw, hq, wq, hout, wout;
};

// One output plane per task t = image·O + channel, tasks [t0, t1). `offsets`
// holds each non-zero's offset into an image's phases. The output rows are
// computed wq wide, so each non-zero is one contiguous multiply-add over
// (hout-1)·wq + wout values, inside its phase plane; the extra columns are
// dropped afterwards.
void ConvPlanes(const Csr& w, const int64_t* __restrict offsets, const float* __restrict xq, const float* bias, float* __restrict y,
                float* __restrict wide, const ConvGeometry& g, int64_t t0, int64_t t1) {
  const int64_t O = w.rows, plane = g.hout * g.wout, inImage = g.c * g.sh * g.sw * g.hq * g.wq;
  const int64_t span = (g.hout - 1) * g.wq + g.wout;
  for (int64_t t = t0; t < t1; ++t) {
    const int64_t img = t / O, r = t % O;
    float* __restrict out = y + t * plane;
    CombineRow(xq + img * inImage, offsets, w.values, w.rowPtr[r], w.rowPtr[r + 1], bias ? bias[r] : 0.f, wide, span);
    for (int64_t oy = 0; oy < g.hout; ++oy)
      for (int64_t ox = 0; ox < g.wout; ++ox) out[oy * g.wout + ox] = wide[oy * g.wq + ox];
  }
}

std::vector<int64_t> ArgPair2(const Napi::CallbackInfo& info, size_t i, const char* what, int64_t min) {
  std::vector<int64_t> v = ArgIntList(info, i, what);
  if (v.size() != 2 || v[0] < min || v[1] < min)
    TypeError(info.Env(), std::string("sparseConv2d: ") + what + " must be two integers >= " + std::to_string(min));
  return v;
}

// sparseConv2d(rowPtr, colIdx, values, x [N, C, H, W], bias? [O], kernel [kh, kw], stride, padding, dilation)
//   → [N, O, H', W']; the weight is [O, C·kh·kw] in CSR (groups = 1).
Napi::Value SparseConv2d(const Napi::CallbackInfo& info) {
  at::Tensor x = FloatInput(info, 3, "sparseConv2d");
  if (x.dim() != 4) TypeError(info.Env(), "sparseConv2d: input must be [N, C, H, W], got " + c10::str(x.sizes()));
  const auto kernel = ArgPair2(info, 5, "kernel", 1), stride = ArgPair2(info, 6, "stride", 1);
  const auto padding = ArgPair2(info, 7, "padding", 0), dilation = ArgPair2(info, 8, "dilation", 1);
  const int64_t n = x.size(0), c = x.size(1), kh = kernel[0], kw = kernel[1];
  const Csr w = ArgCsr(info, c * kh * kw, "sparseConv2d");
  auto bias = BiasArg(info, 4, w.rows, "sparseConv2d");
  const int64_t hp = x.size(2) + 2 * padding[0], wp = x.size(3) + 2 * padding[1];
  const int64_t effH = dilation[0] * (kh - 1) + 1, effW = dilation[1] * (kw - 1) + 1;
  if (hp < effH || wp < effW)
    TypeError(info.Env(), "sparseConv2d: input " + c10::str(x.sizes()) + " with padding is smaller than the kernel");
  const int64_t sh = stride[0], sw = stride[1], hq = (hp + sh - 1) / sh, wq = (wp + sw - 1) / sw;
  ConvGeometry g{c, sh, sw, hq, wq, (hp - effH) / sh + 1, (wp - effW) / sw + 1};
  // The padded input in stride phases, with slack after it for the vector
  // tiles (CombineRow). Plain loops, not libtorch ops: at batch 1 a layer's
  // arithmetic is a few microseconds, the order of one libtorch op's dispatch.
  const int64_t phasePlane = hq * wq;
  std::vector<float> xbuf(static_cast<size_t>(n * c * sh * sw * phasePlane + kSlack), 0.f);
  {
    const int64_t h = x.size(2), wd = x.size(3);
    const float* src = x.data_ptr<float>();
    for (int64_t plane = 0; plane < n * c; ++plane) {
      float* dst = xbuf.data() + plane * sh * sw * phasePlane;
      for (int64_t row = 0; row < h; ++row) {
        const int64_t pr = row + padding[0];
        const float* in = src + (plane * h + row) * wd;
        float* drow = dst + (pr % sh) * sw * phasePlane + (pr / sh) * wq;
        if (sw == 1) {
          std::copy_n(in, wd, drow + padding[1]);
        } else {
          for (int64_t col = 0; col < wd; ++col) {
            const int64_t pc = col + padding[1];
            drow[(pc % sw) * phasePlane + pc / sw] = in[col];
          }
        }
      }
    }
  }
  const int64_t nnz = w.rowPtr[w.rows];
  std::vector<int64_t> offsets(nnz);
  for (int64_t k = 0; k < nnz; ++k) {
    const int64_t col = w.colIdx[k], ch = col / (kh * kw), i = (col / kw) % kh, j = col % kw;
    const int64_t dy = i * dilation[0], dx = j * dilation[1];
    offsets[k] = ((ch * sh + dy % sh) * sw + dx % sw) * phasePlane + (dy / sh) * wq + dx / sw;
  }
  at::Tensor y = at::empty({n, w.rows, g.hout, g.wout}, at::kFloat);
  const float* b = bias ? bias->data_ptr<float>() : nullptr;
  const float* xp = xbuf.data();
  float* yp = y.data_ptr<float>();
  const int64_t tasks = n * w.rows, span = (g.hout - 1) * wq + g.wout;
  const int64_t grain = GrainFor(tasks, nnz * n * g.hout * g.wout);
  at::parallel_for(0, tasks, grain, [&](int64_t t0, int64_t t1) {
    std::vector<float> wide(static_cast<size_t>(RoundUp(span)));
    ConvPlanes(w, offsets.data(), xp, b, yp, wide.data(), g, t0, t1);
  });
  return Wrap(info.Env(), y);
}

}  // namespace

void InitSparse(Napi::Object exports) {
  SS_EXPORT(exports, "denseToCsr", DenseToCsr);
  SS_EXPORT(exports, "sparseLinear", SparseLinear);
  SS_EXPORT(exports, "sparseConv2d", SparseConv2d);
}

}  // namespace ss
