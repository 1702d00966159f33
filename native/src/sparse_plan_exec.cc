// Runs a compiled sparse inference plan (sparse_plan.h): each step reads and
// writes preallocated buffers, with no libtorch op between steps except the
// GEMM of a layer on the dense kernel.
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
#include <chrono>
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

bool HasSparse(const Step& s) { return !s.csr.rowPtr.empty(); }
bool HasDense(const Step& s) { return s.dense.defined(); }

// Floats of one image's padded stride phases.
int64_t PhaseFloats(const Step& s) { return s.inC * s.sh * s.sw * s.hq * s.wq; }

struct ScratchNeed {
  int64_t a = 0, b = 0;
};

ScratchNeed ScratchFor(const Step& s, int64_t n) {
  ScratchNeed need;
  if (s.op == Op::Conv) {
    need.a = n * PhaseFloats(s) + kSlack;
    if (HasDense(s)) need.b = (s.inC * s.kh * s.kw + s.outC) * s.hout * s.wout;
  } else if (s.op == Op::Linear && HasSparse(s) && n >= kLargeBatch) {
    need.a = s.inC * n + kSlack;
    need.b = s.outC * RoundUp(n);
  }
  return need;
}

void EnsureBuffers(Plan& p, int64_t n) {
  if (n <= p.bufferBatch) return;
  ScratchNeed need;
  for (const Step& s : p.steps) {
    const ScratchNeed one = ScratchFor(s, n);
    need.a = std::max(need.a, one.a);
    need.b = std::max(need.b, one.b);
  }
  p.arena.assign(static_cast<size_t>(p.arenaPerImage * n + kSlack), 0.f);
  p.scratchA.assign(static_cast<size_t>(need.a), 0.f);
  p.scratchB.assign(static_cast<size_t>(need.b), 0.f);
  p.bufferBatch = n;
}

float* ValuePtr(Plan& p, int v, const float* x, int64_t n) {
  const int s = p.storage[v];
  return s < 0 ? const_cast<float*>(x) : p.arena.data() + p.storageOffset[s] * n;
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
  const int64_t O = s.outC, span = (s.hout - 1) * s.wq + s.wout, inImage = PhaseFloats(s), plane = s.hout * s.wout;
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
  const int64_t O = s.outC, K = s.inC * s.kh * s.kw, hw = s.hout * s.wout, inImage = PhaseFloats(s);
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

using Clock = std::chrono::steady_clock;

double MicrosSince(Clock::time_point t0) { return std::chrono::duration<double, std::micro>(Clock::now() - t0).count(); }

// The fastest of a step's timed runs: on a shared machine noise only adds
// time (preemption, another process's cache traffic), so the minimum is the
// steadiest estimate of what a kernel costs.
double Fastest(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }

}  // namespace

int64_t Plan::WeightBytes() const {
  int64_t bytes = 0;
  for (const Step& s : steps) {
    bytes += s.csr.bytes() + (s.dense.defined() ? s.dense.numel() * 4 : 0);
    bytes += static_cast<int64_t>((s.bias.size() + s.scale.size() + s.shift.size()) * 4);
    bytes += static_cast<int64_t>((s.offsets.size() + s.denseOffsets.size() + s.rowOffsets.size()) * 8);
  }
  return bytes;
}

int64_t Plan::BufferBytes() const { return static_cast<int64_t>((arena.size() + scratchA.size() + scratchB.size()) * 4); }

void AssignStorage(Plan& p) {
  const int values = static_cast<int>(p.dims.size()), steps = static_cast<int>(p.steps.size());
  // Storage ids: one per step output, except that a flatten shares its input's.
  p.storage.assign(values, -1);
  std::vector<int64_t> size;
  for (const Step& s : p.steps) {
    if (s.op == Op::Flatten) {
      p.storage[s.output] = p.storage[s.input];
      continue;
    }
    p.storage[s.output] = static_cast<int>(size.size());
    size.push_back((p.dims[s.output].numel() + 15) / 16 * 16);  // 64-byte multiples
  }
  // A storage lives from its step to the last step that reads it (the output to the end).
  std::vector<int> born(size.size(), 0), last(size.size(), 0);
  auto use = [&](int v, int step) {
    if (v >= 0 && p.storage[v] >= 0) last[p.storage[v]] = std::max(last[p.storage[v]], step);
  };
  for (int i = 0; i < steps; ++i) {
    const Step& s = p.steps[i];
    if (s.op != Op::Flatten) born[p.storage[s.output]] = i;
    use(s.output, i);
    use(s.input, i);
    use(s.residual.value, i);
  }
  use(values - 1, steps);
  // First fit over the live blocks, in step order; a step's inputs stay live while its output is placed.
  struct Block {
    int64_t offset, size;
    int storage;
  };
  std::vector<Block> live;
  p.storageOffset.assign(size.size(), 0);
  p.arenaPerImage = 0;
  for (int i = 0; i < steps; ++i) {
    const Step& s = p.steps[i];
    if (s.op != Op::Flatten) {
      const int st = p.storage[s.output];
      std::sort(live.begin(), live.end(), [](const Block& a, const Block& b) { return a.offset < b.offset; });
      int64_t at = 0;
      for (const Block& b : live) {
        if (b.offset - at >= size[st]) break;
        at = std::max(at, b.offset + b.size);
      }
      live.push_back({at, size[st], st});
      p.storageOffset[st] = at;
      p.arenaPerImage = std::max(p.arenaPerImage, at + size[st]);
    }
    live.erase(std::remove_if(live.begin(), live.end(), [&](const Block& b) { return last[b.storage] <= i; }), live.end());
  }
  int64_t scratch = 0;
  for (const Step& s : p.steps)
    if (s.op == Op::Conv) scratch = std::max(scratch, PhaseFloats(s));
  p.maxChunk = std::clamp<int64_t>(kChunkBytes / (4 * (p.arenaPerImage + scratch) + 1), 1, kMaxChunk);
}

void PrepareConvOffsets(Step& s) {
  const int64_t pp = s.hq * s.wq, taps = s.kh * s.kw;
  auto offsetOf = [&](int64_t col) {
    const int64_t ch = col / taps, i = (col / s.kw) % s.kh, j = col % s.kw;
    const int64_t dy = i * s.dh, dx = j * s.dw;
    return ((ch * s.sh + dy % s.sh) * s.sw + dx % s.sw) * pp + (dy / s.sh) * s.wq + dx / s.sw;
  };
  s.offsets.clear();
  if (HasSparse(s)) {
    s.offsets.resize(s.csr.colIdx.size());
    for (size_t k = 0; k < s.csr.colIdx.size(); ++k) s.offsets[k] = offsetOf(s.csr.colIdx[k]);
  }
  s.denseOffsets.clear();
  if (HasDense(s)) {
    s.denseOffsets.resize(static_cast<size_t>(s.inC * taps));
    for (int64_t k = 0; k < s.inC * taps; ++k) s.denseOffsets[k] = offsetOf(k);
  }
}

void DropUnusedWeights(Step& s) {
  bool sparse = false, dense = false;
  for (Kernel k : s.kernel) (k == Kernel::Sparse ? sparse : dense) = true;
  if (!sparse) {
    s.csr = Csr{};
    std::vector<int64_t>().swap(s.offsets);
    std::vector<int64_t>().swap(s.rowOffsets);
    s.rowOffsetsBatch = 0;
  }
  if (!dense) {
    s.dense = at::Tensor();
    std::vector<int64_t>().swap(s.denseOffsets);
  }
  s.tunable = false;
}

void Run(Plan& p, const float* x, int64_t n, float* y, std::vector<double>* stepMicros) {
  const int64_t inPer = p.dims.front().numel(), outPer = p.dims.back().numel();
  if (stepMicros) stepMicros->assign(p.steps.size(), 0.0);
  for (int64_t start = 0; start < n; start += p.maxChunk) {
    const int64_t m = std::min(p.maxChunk, n - start);
    const float* xc = x + start * inPer;
    EnsureBuffers(p, m);
    const int regime = RegimeOf(m);
    for (size_t i = 0; i < p.steps.size(); ++i) {
      const Clock::time_point t0 = stepMicros ? Clock::now() : Clock::time_point{};
      RunStep(p, p.steps[i], xc, m, p.steps[i].kernel[regime]);
      if (stepMicros) (*stepMicros)[i] += MicrosSince(t0);
    }
    std::copy_n(ValuePtr(p, static_cast<int>(p.dims.size()) - 1, xc, m), m * outPer, y + start * outPer);
  }
}

std::vector<Timing> Calibrate(Plan& p, int64_t largeBatch, int reps) {
  std::vector<Timing> timings;
  const int64_t inPer = p.dims.front().numel();
  // Chunks never reach kLargeBatch images: the small-batch kernels serve every batch.
  const int regimes = p.maxChunk < kLargeBatch ? 1 : kRegimes;
  for (int regime = 0; regime < regimes; ++regime) {
    const int64_t n = regime == 0 ? 1 : std::clamp(largeBatch, kLargeBatch, p.maxChunk);
    at::Tensor x = at::randn({n * inPer}, at::kFloat);
    const float* xp = x.data_ptr<float>();
    EnsureBuffers(p, n);
    // Step by step, so each step's inputs hold real activations when it is timed.
    for (size_t i = 0; i < p.steps.size(); ++i) {
      Step& s = p.steps[i];
      if (!s.tunable || !HasSparse(s) || !HasDense(s)) {
        RunStep(p, s, xp, n, s.kernel[regime]);
        continue;
      }
      RunStep(p, s, xp, n, Kernel::Sparse);  // warm-up
      RunStep(p, s, xp, n, Kernel::Dense);
      std::vector<double> sparse, dense;
      for (int r = 0; r < reps; ++r) {
        Clock::time_point t0 = Clock::now();
        RunStep(p, s, xp, n, Kernel::Sparse);
        sparse.push_back(MicrosSince(t0));
        t0 = Clock::now();
        RunStep(p, s, xp, n, Kernel::Dense);
        dense.push_back(MicrosSince(t0));
      }
      const double ms = Fastest(sparse) / 1000, md = Fastest(dense) / 1000;
      s.kernel[regime] = ms <= md ? Kernel::Sparse : Kernel::Dense;
      if (regimes == 1) s.kernel[1] = s.kernel[0];
      timings.push_back({static_cast<int>(i), n, ms, md});
    }
  }
  for (Step& s : p.steps)
    if (s.tunable) DropUnusedWeights(s);
  return timings;
}

}  // namespace ss::plan
