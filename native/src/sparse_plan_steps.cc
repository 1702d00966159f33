// The steps of a compiled sparse inference plan (sparse_plan.h), each
// reading and writing the plan's preallocated buffers, with no libtorch op
// except the GEMM of a layer on the dense kernel.
//
// Sparse conv: the input is copied, zero-padded, into stride phases (phase
// (py, px) holds rows py, py+sh, … and columns px, px+sw, …), so each
// non-zero weight is one contiguous multiply-add over its phase plane; one
// output plane per (image, output channel) task, accumulated in vector
// registers (CombineRow), then stored with the residual and ReLU fused.
// Dense conv: im2col from the same phases and one GEMM per image (libtorch's
// BLAS), with the same fused store. Threads: at::parallel_for over output
// planes or rows (so setNumThreads applies), BLAS's own threads for a GEMM.
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "sparse_kernels.h"
#include "sparse_plan.h"

namespace ss::plan {

namespace {

const CombineRowFn CombineRow = CombineRowKernel();

// Work (multiply-adds or copies) per parallel chunk, so small layers are not
// split into chunks whose scheduling costs more than their arithmetic.
constexpr int64_t kChunkWork = 32 * 1024;

int64_t GrainFor(int64_t tasks, int64_t totalWork) {
  const int64_t perTask = std::max<int64_t>(1, totalWork / std::max<int64_t>(1, tasks));
  return std::max<int64_t>(1, kChunkWork / perTask);
}

// The padded input of a conv, in stride phases; every float of the phases
// is written (zeros included), so the buffer needs no clearing between steps.
void FillPhases(const Step& s, const Dims& in, const float* x, int64_t n, float* dst) {
  const int64_t H = in.h, W = in.w, pp = s.hq * s.wq, planes = n * s.inC;
  at::parallel_for(0, planes, GrainFor(planes, planes * s.sh * s.sw * pp), [&](int64_t p0, int64_t p1) {
    for (int64_t plane = p0; plane < p1; ++plane) {
      const float* src = x + plane * H * W;
      float* d = dst + plane * s.sh * s.sw * pp;
      if (s.sh == 1 && s.sw == 1) {
        std::fill_n(d, s.ph * s.wq, 0.f);
        for (int64_t r = 0; r < H; ++r) {
          float* row = d + (r + s.ph) * s.wq;
          std::fill_n(row, s.pw, 0.f);
          std::copy_n(src + r * W, W, row + s.pw);
          std::fill_n(row + s.pw + W, s.wq - s.pw - W, 0.f);
        }
        std::fill_n(d + (s.ph + H) * s.wq, (s.hq - s.ph - H) * s.wq, 0.f);
        continue;
      }
      for (int64_t py = 0; py < s.sh; ++py)
        for (int64_t px = 0; px < s.sw; ++px) {
          float* phase = d + (py * s.sw + px) * pp;
          for (int64_t qy = 0; qy < s.hq; ++qy) {
            const int64_t r = qy * s.sh + py - s.ph;
            float* row = phase + qy * s.wq;
            if (r < 0 || r >= H) {
              std::fill_n(row, s.wq, 0.f);
              continue;
            }
            for (int64_t qx = 0; qx < s.wq; ++qx) {
              const int64_t c = qx * s.sw + px - s.pw;
              row[qx] = c >= 0 && c < W ? src[r * W + c] : 0.f;
            }
          }
        }
    }
  });
}

// One output plane: out[oy, ox] = relu?(wide[oy·ldw + ox] + bias + residual[oy·rs, ox·rs]).
inline void StorePlane(const float* __restrict wide, int64_t ldw, float* __restrict out, int64_t hout, int64_t wout, float bias,
                       const float* __restrict res, int64_t resLd, int64_t rs, bool relu) {
  for (int64_t oy = 0; oy < hout; ++oy) {
    const float* w = wide + oy * ldw;
    float* o = out + oy * wout;
    if (res == nullptr) {
      for (int64_t ox = 0; ox < wout; ++ox) o[ox] = w[ox] + bias;
    } else if (rs == 1) {
      const float* r = res + oy * resLd;
      for (int64_t ox = 0; ox < wout; ++ox) o[ox] = w[ox] + bias + r[ox];
    } else {
      const float* r = res + oy * rs * resLd;
      for (int64_t ox = 0; ox < wout; ++ox) o[ox] = w[ox] + bias + r[ox * rs];
    }
    if (relu)
      for (int64_t ox = 0; ox < wout; ++ox) o[ox] = o[ox] < 0.f ? 0.f : o[ox];
  }
}

// The residual plane that output channel o of image img adds, or nullptr.
const float* ResidualPlane(const Step& s, const Dims* rd, const float* res, int64_t img, int64_t o) {
  if (res == nullptr) return nullptr;
  const int64_t src = o - s.residual.channelOffset;
  if (src < 0 || src >= rd->c) return nullptr;
  return res + (img * rd->c + src) * rd->h * rd->w;
}

void ConvSparse(Plan& p, const Step& s, const float* x, float* y, const float* res, int64_t n) {
  float* phases = p.scratchA.data();
  if (s.nonZeros > 0) FillPhases(s, p.dims[s.input], x, n, phases);  // a layer pruned away reads nothing
  const Dims* rd = res ? &p.dims[s.residual.value] : nullptr;
  const int64_t O = s.outC, span = (s.hout - 1) * s.wq + s.wout, inImage = s.PhaseFloats(), plane = s.hout * s.wout;
  const int64_t tasks = n * O;
  at::parallel_for(0, tasks, GrainFor(tasks, std::max<int64_t>(1, s.nonZeros) * n * plane), [&](int64_t t0, int64_t t1) {
    thread_local std::vector<float> wide;
    if (static_cast<int64_t>(wide.size()) < RoundUp(span)) wide.resize(static_cast<size_t>(RoundUp(span)));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t img = t / O, o = t % O;
      if (s.csr.rowPtr[o] == s.csr.rowPtr[o + 1]) {  // a channel pruned away: bias (+ residual) only
        const float b = s.bias.empty() ? 0.f : s.bias[o];
        std::fill_n(wide.data(), span, 0.f);
        StorePlane(wide.data(), s.wq, y + t * plane, s.hout, s.wout, b, ResidualPlane(s, rd, res, img, o), rd ? rd->w : 0, s.residual.stride, s.relu);
        continue;
      }
      CombineRow(phases + img * inImage, s.offsets.data(), s.csr.values.data(), s.csr.rowPtr[o], s.csr.rowPtr[o + 1], s.bias.empty() ? 0.f : s.bias[o],
                 wide.data(), span);
      StorePlane(wide.data(), s.wq, y + t * plane, s.hout, s.wout, 0.f, ResidualPlane(s, rd, res, img, o), rd ? rd->w : 0, s.residual.stride, s.relu);
    }
  });
}

void ConvDense(Plan& p, const Step& s, const float* x, float* y, const float* res, int64_t n) {
  float* phases = p.scratchA.data();
  FillPhases(s, p.dims[s.input], x, n, phases);
  const Dims* rd = res ? &p.dims[s.residual.value] : nullptr;
  const int64_t O = s.outC, K = s.inC * s.kh * s.kw, hw = s.hout * s.wout, inImage = s.PhaseFloats();
  float* col = p.scratchB.data();
  float* tmp = col + K * hw;
  c10::InferenceMode guard;
  at::Tensor colT = at::from_blob(col, {K, hw}, at::kFloat), tmpT = at::from_blob(tmp, {O, hw}, at::kFloat);
  for (int64_t img = 0; img < n; ++img) {
    const float* src = phases + img * inImage;
    at::parallel_for(0, K, GrainFor(K, K * hw), [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k) {
        const float* base = src + s.denseOffsets[k];
        for (int64_t oy = 0; oy < s.hout; ++oy) std::copy_n(base + oy * s.wq, s.wout, col + k * hw + oy * s.wout);
      }
    });
    at::mm_out(tmpT, s.dense, colT);
    at::parallel_for(0, O, GrainFor(O, O * hw), [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o)
        StorePlane(tmp + o * hw, s.wout, y + (img * O + o) * hw, s.hout, s.wout, s.bias.empty() ? 0.f : s.bias[o], ResidualPlane(s, rd, res, img, o),
                   rd ? rd->w : 0, s.residual.stride, s.relu);
    });
  }
}

inline float Relu(float v, bool on) { return on && v < 0.f ? 0.f : v; }

void LinearSparse(Plan& p, Step& s, const float* x, float* y, int64_t n) {
  const int64_t in = s.inC, out = s.outC;
  const int64_t* rp = s.csr.rowPtr.data();
  const int32_t* ci = s.csr.colIdx.data();
  const float* vs = s.csr.values.data();
  const int64_t grain = GrainFor(out, std::max<int64_t>(1, s.nonZeros) * n);
  if (n < kLargeBatch) {
    // A few images: one dot product per output.
    at::parallel_for(0, out, grain, [&](int64_t r0, int64_t r1) {
      for (int64_t i = 0; i < n; ++i) {
        const float* xi = x + i * in;
        for (int64_t r = r0; r < r1; ++r) {
          // Four chains, so consecutive multiply-adds do not wait on each other.
          float acc[4] = {0.f, 0.f, 0.f, 0.f};
          int64_t k = rp[r];
          for (; k + 4 <= rp[r + 1]; k += 4)
            for (int j = 0; j < 4; ++j) acc[j] += vs[k + j] * xi[ci[k + j]];
          for (; k < rp[r + 1]; ++k) acc[0] += vs[k] * xi[ci[k]];
          y[i * out + r] = Relu((s.bias.empty() ? 0.f : s.bias[r]) + ((acc[0] + acc[1]) + (acc[2] + acc[3])), s.relu);
        }
      }
    });
    return;
  }
  // Each output row is a sparse combination of rows of xᵀ: the inner loop runs over the batch.
  float* xT = p.scratchA.data();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < in; ++k) xT[k * n + i] = x[i * in + k];
  if (s.rowOffsetsBatch != n) {
    s.rowOffsets.resize(s.csr.colIdx.size());
    for (size_t k = 0; k < s.csr.colIdx.size(); ++k) s.rowOffsets[k] = static_cast<int64_t>(ci[k]) * n;
    s.rowOffsetsBatch = n;
  }
  const int64_t ld = RoundUp(n);
  float* yT = p.scratchB.data();
  at::parallel_for(0, out, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) CombineRow(xT, s.rowOffsets.data(), vs, rp[r], rp[r + 1], s.bias.empty() ? 0.f : s.bias[r], yT + r * ld, n);
  });
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < out; ++r) y[i * out + r] = Relu(yT[r * ld + i], s.relu);
}

void LinearDense(const Step& s, const float* x, float* y, int64_t n) {
  {
    c10::InferenceMode guard;
    at::Tensor X = at::from_blob(const_cast<float*>(x), {n, s.inC}, at::kFloat), Y = at::from_blob(y, {n, s.outC}, at::kFloat);
    at::mm_out(Y, X, s.dense.t());
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < s.outC; ++r) y[i * s.outC + r] = Relu(y[i * s.outC + r] + (s.bias.empty() ? 0.f : s.bias[r]), s.relu);
}

// Integer compares, so the loop vectorizes (a float compare chain would not).
bool HasNan(const float* p, int64_t n) {
  uint32_t any = 0;
  for (int64_t k = 0; k < n; ++k) {
    uint32_t bits;
    std::memcpy(&bits, p + k, 4);
    any |= (bits & 0x7fffffffu) > 0x7f800000u;
  }
  return any != 0;
}

// A plane that holds NaN, pooled again with NaN propagating (the rare path).
void MaxPoolNan(const Step& s, const Dims& in, const Dims& out, const float* src, float* dst) {
  for (int64_t oy = 0; oy < out.h; ++oy)
    for (int64_t ox = 0; ox < out.w; ++ox) {
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t iy = std::max<int64_t>(0, oy * s.sh - s.ph); iy < std::min(in.h, oy * s.sh - s.ph + s.kh); ++iy)
        for (int64_t ix = std::max<int64_t>(0, ox * s.sw - s.pw); ix < std::min(in.w, ox * s.sw - s.pw + s.kw); ++ix) {
          const float v = src[iy * in.w + ix];
          if (v > m || std::isnan(v)) m = v;
        }
      dst[oy * out.w + ox] = m;
    }
}

// max that compiles to one branch-free instruction (random activations make
// a branch on `v > m` mispredict about every other time); NaN is tracked apart.
inline float Max(float m, float v) { return v > m ? v : m; }

void MaxPool(const Step& s, const Dims& in, const Dims& out, const float* x, float* y, int64_t n) {
  const int64_t planes = n * in.c;
  const bool twoByTwo = s.kh == 2 && s.kw == 2 && s.sh == 2 && s.sw == 2 && s.ph == 0 && s.pw == 0;
  at::parallel_for(0, planes, GrainFor(planes, planes * out.h * out.w * s.kh * s.kw), [&](int64_t p0, int64_t p1) {
    for (int64_t plane = p0; plane < p1; ++plane) {
      const float* src = x + plane * in.h * in.w;
      float* dst = y + plane * out.h * out.w;
      if (twoByTwo) {
        for (int64_t oy = 0; oy < out.h; ++oy) {
          const float* r0 = src + 2 * oy * in.w;
          const float* r1 = r0 + in.w;
          float* o = dst + oy * out.w;
          for (int64_t ox = 0; ox < out.w; ++ox) o[ox] = Max(Max(r0[2 * ox], r0[2 * ox + 1]), Max(r1[2 * ox], r1[2 * ox + 1]));
        }
      } else {
        for (int64_t oy = 0; oy < out.h; ++oy) {
          const int64_t y0 = std::max<int64_t>(0, oy * s.sh - s.ph), y1 = std::min(in.h, oy * s.sh - s.ph + s.kh);
          for (int64_t ox = 0; ox < out.w; ++ox) {
            const int64_t x0 = std::max<int64_t>(0, ox * s.sw - s.pw), x1 = std::min(in.w, ox * s.sw - s.pw + s.kw);
            float m = -std::numeric_limits<float>::infinity();
            for (int64_t iy = y0; iy < y1; ++iy)
              for (int64_t ix = x0; ix < x1; ++ix) m = Max(m, src[iy * in.w + ix]);
            dst[oy * out.w + ox] = m;
          }
        }
      }
      // libtorch propagates NaN through max pooling; Max drops it, so look for it apart.
      if (HasNan(src, in.h * in.w)) MaxPoolNan(s, in, out, src, dst);
    }
  });
}

void GlobalAvgPool(const Dims& in, const float* x, float* y, int64_t n) {
  const int64_t planes = n * in.c, hw = in.h * in.w;
  for (int64_t plane = 0; plane < planes; ++plane) {
    const float* p = x + plane * hw;
    double sum[4] = {0, 0, 0, 0};  // four chains, so the adds overlap
    int64_t k = 0;
    for (; k + 4 <= hw; k += 4)
      for (int j = 0; j < 4; ++j) sum[j] += p[k + j];
    for (; k < hw; ++k) sum[0] += p[k];
    y[plane] = static_cast<float>((sum[0] + sum[1] + sum[2] + sum[3]) / static_cast<double>(hw));
  }
}

void Affine(Plan& p, const Step& s, const float* x, float* y, const float* res, int64_t n) {
  const Dims& in = p.dims[s.input];
  const Dims* rd = res ? &p.dims[s.residual.value] : nullptr;
  const int64_t hw = in.h * in.w, planes = n * in.c, rs = s.residual.stride;
  at::parallel_for(0, planes, GrainFor(planes, planes * hw), [&](int64_t p0, int64_t p1) {
    for (int64_t plane = p0; plane < p1; ++plane) {
      const int64_t c = plane % in.c;
      const float a = s.scale.empty() ? 1.f : s.scale[c], b = s.shift.empty() ? 0.f : s.shift[c];
      const float* src = x + plane * hw;
      float* dst = y + plane * hw;
      for (int64_t k = 0; k < hw; ++k) dst[k] = src[k] * a + b;
      if (const float* r = ResidualPlane(s, rd, res, plane / in.c, c))
        for (int64_t oy = 0; oy < in.h; ++oy)
          for (int64_t ox = 0; ox < in.w; ++ox) dst[oy * in.w + ox] += r[oy * rs * rd->w + ox * rs];
      if (s.relu)
        for (int64_t k = 0; k < hw; ++k) dst[k] = Relu(dst[k], true);
    }
  });
}

}  // namespace

void RunStep(Plan& p, Step& s, const float* x, int64_t n, Kernel kernel) {
  const float* in = ValuePtr(p, s.input, x, n);
  float* out = ValuePtr(p, s.output, x, n);
  const float* res = s.residual.value >= 0 ? ValuePtr(p, s.residual.value, x, n) : nullptr;
  switch (s.op) {
    case Op::Conv:
      if (kernel == Kernel::Sparse) ConvSparse(p, s, in, out, res, n);
      else ConvDense(p, s, in, out, res, n);
      break;
    case Op::Linear:
      if (kernel == Kernel::Sparse) LinearSparse(p, s, in, out, n);
      else LinearDense(s, in, out, n);
      break;
    case Op::MaxPool: MaxPool(s, p.dims[s.input], p.dims[s.output], in, out, n); break;
    case Op::GlobalAvgPool: GlobalAvgPool(p.dims[s.input], in, out, n); break;
    case Op::Affine: Affine(p, s, in, out, res, n); break;
    case Op::Flatten: break;  // the output shares the input's storage
  }
}

}  // namespace ss::plan
