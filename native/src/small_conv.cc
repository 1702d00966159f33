// Direct convolution of single-channel input (a grayscale network's first
// layer: Fashion-MNIST, MNIST), stride 1, on contiguous float32 NCHW CPU
// tensors, with its own autograd node.
//
// Why: libtorch 1.13 runs such a layer through oneDNN or im2col + GEMM, both
// made for many channels. Timed in PyTorch on the zoo ConvNet's conv1 (1 -> 32
// channels, 3x3, padding 1, 28x28, batch 128, 1 thread, the addon's malloc
// settings): forward 3.9 ms, weight gradient 9.6 ms, for 29 M multiply-adds
// each (6 GFLOP/s). Here each output row is a sum of shifted input rows
// times broadcast weights (forward), and each weight's gradient a dot product
// of output-gradient rows with shifted input rows (backward), eight columns
// per AVX2 vector with FMA.
//
// Results: the forward sums each output over (channel, kernel row, kernel
// column) in that order with fused multiply-adds from 0; the weight gradient
// sums, per weight, over images, rows and column chunks in eight lanes that
// are added up in a fixed order at the end. The scalar path (CPUs without
// AVX2 and FMA, or SPARSE_SOUPS_NO_AVX2=1) does the same operations in the
// same order, so both give the same bits, and neither depends on the thread
// count (threads split output planes, and weights, never one sum). libtorch
// sums in other orders, so values differ from at::conv2d in float32's last
// bits. The input gradient, when the input needs one, comes from libtorch's
// convolution_backward.
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/custom_function.h>

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "small_conv.h"

namespace ss {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// One input channel: measured faster than libtorch there (ConvNet conv1,
// bench/small-conv.bench.ts); a CIFAR first layer (3 channels, 32x32) was
// slower here than libtorch's oneDNN path for training (0.66x) and only as
// fast for evaluation, so it stays on libtorch. The kernels themselves take
// any channel count (test/tensor/small-conv.test.ts ran them with 1-4).
constexpr int64_t kMaxChannels = 1;
constexpr int64_t kMaxKernel = 7;
// Output columns per step: four AVX2 vectors.
constexpr int64_t kChunk = 32;

bool UseAvx2() {
  static const bool v = [] {
    const char* off = std::getenv("SPARSE_SOUPS_NO_AVX2");
    if (off != nullptr && off[0] == '1') return false;
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return v;
}

// The geometry of one convolution: input padded to [n, c, hp, wp], output [n, oc, ho, wo].
struct Geometry {
  int64_t n, c, hp, wp, oc, kh, kw, ho, wo;
};

// ---- forward ----

// One chunk of NV vectors of an output row (the last vector's lanes limited by
// `mask`): the sum over channels and kernel taps of the weight times the
// input row shifted by the tap.
template <int NV>
__attribute__((target("avx2,fma"))) void ForwardChunkAvx2(const float* x, const float* wt, float* out, const Geometry& g, __m256i mask) {
  __m256 acc[NV];
  for (int v = 0; v < NV; v++) acc[v] = _mm256_setzero_ps();
  for (int64_t c = 0; c < g.c; c++) {
    for (int64_t i = 0; i < g.kh; i++) {
      const float* r = x + (c * g.hp + i) * g.wp;
      const float* wr = wt + (c * g.kh + i) * g.kw;
      for (int64_t j = 0; j < g.kw; j++) {
        const __m256 wv = _mm256_broadcast_ss(wr + j);
        for (int v = 0; v < NV - 1; v++) acc[v] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(r + j + 8 * v), acc[v]);
        acc[NV - 1] = _mm256_fmadd_ps(wv, _mm256_maskload_ps(r + j + 8 * (NV - 1), mask), acc[NV - 1]);
      }
    }
  }
  for (int v = 0; v < NV - 1; v++) _mm256_storeu_ps(out + 8 * v, acc[v]);
  _mm256_maskstore_ps(out + 8 * (NV - 1), mask, acc[NV - 1]);
}

__attribute__((target("avx2"))) __m256i LaneMask(int64_t lanes) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(lanes)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

__attribute__((target("avx2,fma"))) void ForwardPlaneAvx2(const float* x, const float* wt, float* y, const Geometry& g) {
  for (int64_t h = 0; h < g.ho; h++) {
    for (int64_t w0 = 0; w0 < g.wo; w0 += kChunk) {
      const int64_t rem = std::min(kChunk, g.wo - w0);
      const int64_t nv = (rem + 7) / 8;
      const __m256i mask = LaneMask(rem - 8 * (nv - 1));
      const float* xr = x + h * g.wp + w0;
      float* out = y + h * g.wo + w0;
      switch (nv) {
        case 1: ForwardChunkAvx2<1>(xr, wt, out, g, mask); break;
        case 2: ForwardChunkAvx2<2>(xr, wt, out, g, mask); break;
        case 3: ForwardChunkAvx2<3>(xr, wt, out, g, mask); break;
        default: ForwardChunkAvx2<4>(xr, wt, out, g, mask); break;
      }
    }
  }
}

// The same sums as ForwardPlaneAvx2, one output at a time.
void ForwardPlaneScalar(const float* x, const float* wt, float* y, const Geometry& g) {
  for (int64_t h = 0; h < g.ho; h++) {
    for (int64_t w = 0; w < g.wo; w++) {
      float acc = 0.0f;
      for (int64_t c = 0; c < g.c; c++)
        for (int64_t i = 0; i < g.kh; i++)
          for (int64_t j = 0; j < g.kw; j++) acc = std::fma(wt[(c * g.kh + i) * g.kw + j], x[(c * g.hp + h + i) * g.wp + w + j], acc);
      y[h * g.wo + w] = acc;
    }
  }
}

// y [n, oc, ho, wo] from the padded input xp [n, c, hp, wp]; one task per output plane.
void Forward(const float* xp, const float* wt, float* y, const Geometry& g) {
  const bool avx2 = UseAvx2();
  at::parallel_for(0, g.n * g.oc, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; p++) {
      const int64_t n = p / g.oc, o = p % g.oc;
      const float* x = xp + n * g.c * g.hp * g.wp;
      const float* w = wt + o * g.c * g.kh * g.kw;
      float* out = y + p * g.ho * g.wo;
      if (avx2) ForwardPlaneAvx2(x, w, out, g);
      else ForwardPlaneScalar(x, w, out, g);
    }
  });
}

// ---- weight gradient ----

// The fixed order in which both paths add up the eight lanes of a sum.
inline float SumLanes(const float* l) { return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7])); }

// Lane sums, for every kernel column j, of go[h, w] * x[h + i, w + j] over one
// (image, channel) pair's rows and the columns of a chunk of NV vectors; `acc`
// holds kw vectors (kw <= 7) carried across chunks and images.
template <int NV>
__attribute__((target("avx2,fma"))) void WeightChunkAvx2(const float* go, const float* x, const Geometry& g, int64_t w0, __m256i mask,
                                                        __m256* acc) {
  for (int64_t h = 0; h < g.ho; h++) {
    const float* gr = go + h * g.wo + w0;
    const float* xr = x + h * g.wp + w0;
    __m256 gv[NV];
    for (int v = 0; v < NV - 1; v++) gv[v] = _mm256_loadu_ps(gr + 8 * v);
    gv[NV - 1] = _mm256_maskload_ps(gr + 8 * (NV - 1), mask);
    for (int64_t j = 0; j < g.kw; j++) {
      __m256 a = acc[j];
      for (int v = 0; v < NV - 1; v++) a = _mm256_fmadd_ps(gv[v], _mm256_loadu_ps(xr + j + 8 * v), a);
      a = _mm256_fmadd_ps(gv[NV - 1], _mm256_maskload_ps(xr + j + 8 * (NV - 1), mask), a);
      acc[j] = a;
    }
  }
}

// Adds, to the lane sums `sums` [kw][8] of dw[o, c, i, :], images [n0, n1)
// of output channel `o`: for each image, each column chunk, the chunk's rows.
__attribute__((target("avx2,fma"))) void WeightRowAvx2(const float* xp, const float* go, float* sums, const Geometry& g, int64_t o, int64_t c,
                                                      int64_t i, int64_t n0, int64_t n1) {
  __m256 acc[kMaxKernel];
  for (int64_t j = 0; j < g.kw; j++) acc[j] = _mm256_loadu_ps(sums + 8 * j);
  for (int64_t n = n0; n < n1; n++) {
    const float* gp = go + (n * g.oc + o) * g.ho * g.wo;
    const float* x = xp + ((n * g.c + c) * g.hp + i) * g.wp;
    for (int64_t w0 = 0; w0 < g.wo; w0 += kChunk) {
      const int64_t rem = std::min(kChunk, g.wo - w0);
      const int64_t nv = (rem + 7) / 8;
      const __m256i mask = LaneMask(rem - 8 * (nv - 1));
      switch (nv) {
        case 1: WeightChunkAvx2<1>(gp, x, g, w0, mask, acc); break;
        case 2: WeightChunkAvx2<2>(gp, x, g, w0, mask, acc); break;
        case 3: WeightChunkAvx2<3>(gp, x, g, w0, mask, acc); break;
        default: WeightChunkAvx2<4>(gp, x, g, w0, mask, acc); break;
      }
    }
  }
  for (int64_t j = 0; j < g.kw; j++) _mm256_storeu_ps(sums + 8 * j, acc[j]);
}

// WeightRowAvx2's operations in its order, lane by lane (masked lanes add 0 * 0).
void WeightRowScalar(const float* xp, const float* go, float* sums, const Geometry& g, int64_t o, int64_t c, int64_t i, int64_t n0, int64_t n1) {
  for (int64_t n = n0; n < n1; n++) {
    const float* gp = go + (n * g.oc + o) * g.ho * g.wo;
    const float* x = xp + ((n * g.c + c) * g.hp + i) * g.wp;
    for (int64_t w0 = 0; w0 < g.wo; w0 += kChunk) {
      const int64_t rem = std::min(kChunk, g.wo - w0);
      const int64_t nv = (rem + 7) / 8;
      for (int64_t h = 0; h < g.ho; h++) {
        for (int64_t j = 0; j < g.kw; j++) {
          for (int64_t v = 0; v < nv; v++) {
            for (int64_t l = 0; l < 8; l++) {
              const int64_t w = w0 + 8 * v + l;
              const bool in = w < w0 + rem;
              const float gv = in ? gp[h * g.wo + w] : 0.0f;
              const float xv = in ? x[h * g.wp + w + j] : 0.0f;
              sums[8 * j + l] = std::fma(gv, xv, sums[8 * j + l]);
            }
          }
        }
      }
    }
  }
}

// Images per block of the weight gradient: a block's output-gradient and
// input planes (about 16 x 3 KB each for a 28x28 layer) stay in the core's
// cache while every (channel, kernel row) pass reads them again.
constexpr int64_t kImageBlock = 16;

// dw [oc, c, kh, kw]; one task per output channel, so no sum is split between threads.
void WeightGrad(const float* xp, const float* go, float* dw, const Geometry& g) {
  const bool avx2 = UseAvx2();
  at::parallel_for(0, g.oc, 1, [&](int64_t begin, int64_t end) {
    // Lane sums of one output channel's weights, [c][kh][kw][8].
    std::vector<float> sums(static_cast<size_t>(g.c * g.kh * g.kw * 8));
    for (int64_t o = begin; o < end; o++) {
      std::fill(sums.begin(), sums.end(), 0.0f);
      for (int64_t n0 = 0; n0 < g.n; n0 += kImageBlock) {
        const int64_t n1 = std::min(g.n, n0 + kImageBlock);
        for (int64_t c = 0; c < g.c; c++)
          for (int64_t i = 0; i < g.kh; i++) {
            float* row = sums.data() + (c * g.kh + i) * g.kw * 8;
            if (avx2) WeightRowAvx2(xp, go, row, g, o, c, i, n0, n1);
            else WeightRowScalar(xp, go, row, g, o, c, i, n0, n1);
          }
      }
      float* d = dw + o * g.c * g.kh * g.kw;
      for (int64_t k = 0; k < g.c * g.kh * g.kw; k++) d[k] = SumLanes(sums.data() + 8 * k);
    }
  });
}

Geometry GeometryOf(const at::Tensor& xp, const at::Tensor& w) {
  Geometry g{xp.size(0), xp.size(1), xp.size(2), xp.size(3), w.size(0), w.size(2), w.size(3), 0, 0};
  g.ho = g.hp - g.kh + 1;
  g.wo = g.wp - g.kw + 1;
  return g;
}

at::Tensor Padded(const at::Tensor& x, int64_t ph, int64_t pw) {
  if (ph == 0 && pw == 0) return x;
  return at::constant_pad_nd(x, {pw, pw, ph, ph}, 0).contiguous();
}

at::Tensor ForwardOf(const at::Tensor& x, const at::Tensor& w, int64_t ph, int64_t pw) {
  const at::Tensor xp = Padded(x, ph, pw);
  const Geometry g = GeometryOf(xp, w);
  at::Tensor y = at::empty({g.n, g.oc, g.ho, g.wo}, x.options());
  Forward(xp.data_ptr<float>(), w.data_ptr<float>(), y.data_ptr<float>(), g);
  return y;
}

struct SmallConv : public torch::autograd::Function<SmallConv> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w, int64_t ph, int64_t pw) {
    ctx->save_for_backward({x, w});
    ctx->saved_data["ph"] = ph;
    ctx->saved_data["pw"] = pw;
    return ForwardOf(x, w, ph, pw);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& w = saved[1];
    const int64_t ph = ctx->saved_data["ph"].toInt(), pw = ctx->saved_data["pw"].toInt();
    const at::Tensor go = grads[0].contiguous();
    at::Tensor dx, dw;
    if (ctx->needs_input_grad(1)) {
      const at::Tensor xp = Padded(x, ph, pw);
      dw = at::empty(w.sizes(), w.options());
      WeightGrad(xp.data_ptr<float>(), go.data_ptr<float>(), dw.data_ptr<float>(), GeometryOf(xp, w));
    }
    if (ctx->needs_input_grad(0)) {
      dx = std::get<0>(at::convolution_backward(go, x, w, c10::nullopt, {1, 1}, {ph, pw}, {1, 1}, false, {0, 0}, 1, {true, false, false}));
    }
    return {dx, dw, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

bool SmallConvApplies(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& bias, at::IntArrayRef stride,
                      at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups) {
  if (bias.has_value() && bias->defined()) return false;
  if (x.dim() != 4 || w.dim() != 4 || groups != 1) return false;
  if (!x.device().is_cpu() || !w.device().is_cpu() || x.scalar_type() != at::kFloat || w.scalar_type() != at::kFloat) return false;
  if (!x.is_contiguous() || !w.is_contiguous() || x.numel() == 0 || w.numel() == 0) return false;
  if (at::autocast::is_cpu_enabled()) return false;
  if (stride.size() != 2 || padding.size() != 2 || dilation.size() != 2) return false;
  if (stride[0] != 1 || stride[1] != 1 || dilation[0] != 1 || dilation[1] != 1) return false;
  const int64_t c = x.size(1), kh = w.size(2), kw = w.size(3);
  if (c > kMaxChannels || w.size(1) != c || kh > kMaxKernel || kw > kMaxKernel) return false;
  if (padding[0] < 0 || padding[1] < 0 || padding[0] >= kh || padding[1] >= kw) return false;
  return x.size(2) + 2 * padding[0] >= kh && x.size(3) + 2 * padding[1] >= kw;
}

at::Tensor Conv2dOrLibtorch(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& bias, at::IntArrayRef stride,
                            at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups) {
  if (!SmallConvApplies(x, w, bias, stride, padding, dilation, groups)) return at::conv2d(x, w, bias, stride, padding, dilation, groups);
  if (at::GradMode::is_enabled() && (x.requires_grad() || w.requires_grad())) return SmallConv::apply(x, w, padding[0], padding[1]);
  return ForwardOf(x, w, padding[0], padding[1]);
}

}  // namespace ss
