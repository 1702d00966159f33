// Max pooling with non-overlapping windows (kernel == stride, no padding,
// dilation 1) on contiguous float32 NCHW CPU tensors, with its own autograd
// node.
//
// Why: libtorch 1.13's CPU max_pool2d_with_indices, which autograd uses for
// NCHW input, walks each window through generic index arithmetic; profiled in
// PyTorch on the zoo ConvNet (batch 128, 1 thread) it took 23% of a training
// step (12.7 ms per call), more than the forward convolutions. This kernel
// computes exactly the same function (the same maximum, the same index:
// libtorch's rule, `val > max || isnan(val)` in row-major window order, so
// the first of equal maxima and the last NaN), and its backward puts each
// output gradient on that index as max_pool2d_with_indices_backward does;
// windows do not overlap, so no input receives two gradients and the sums are
// the same bit for bit. Anything else (overlapping windows, padding,
// dilation, ceil mode with leftover rows or columns, another dtype or device,
// channels-last memory) goes to at::max_pool2d.
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/custom_function.h>

#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <algorithm>
#include <limits>

#include "max_pool.h"

namespace ss {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// One step of libtorch's window scan: take `v` when it is greater or NaN.
// Branch-free (selects, not jumps): on real activations the comparison is a
// coin toss, and mispredicted branches made the scan cost ~20 ns per output.
inline void Take(float v, int at, float& best, int& best_at) {
  // Bit selects: compilers turn a float `take ? v : best` into a jump.
  const uint32_t take = 0u - static_cast<uint32_t>((v > best) | (v != v));
  uint32_t vb, bb;
  std::memcpy(&vb, &v, 4);
  std::memcpy(&bb, &best, 4);
  bb = (vb & take) | (bb & ~take);
  std::memcpy(&best, &bb, 4);
  best_at = static_cast<int>((static_cast<uint32_t>(at) & take) | (static_cast<uint32_t>(best_at) & ~take));
}

// One output row of 2x2 windows, eight at a time with AVX2: the four
// window elements as four vectors (even and odd columns of the two input
// rows), scanned in libtorch's order with compare-and-blend. Returns the
// number of outputs done (a multiple of 8); the caller finishes the row.
// Columns 0 .. 15 from r, split into the even and the odd ones, in order.
__attribute__((target("avx2"))) inline void SplitEvenOdd(const float* r, __m256& even, __m256& odd) {
  const __m256 a = _mm256_loadu_ps(r), b = _mm256_loadu_ps(r + 8);
  even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))), _MM_SHUFFLE(3, 1, 2, 0)));
  odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))), _MM_SHUFFLE(3, 1, 2, 0)));
}

// Take's rule on eight lanes: where v > best or v is NaN, best = v; returns where it took v.
__attribute__((target("avx2"))) inline __m256 TakeMaskAvx2(__m256 v, __m256& best) {
  const __m256 t = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  best = _mm256_blendv_ps(best, v, t);
  return t;
}

__attribute__((target("avx2"))) inline void TakeAvx2(__m256 v, __m256& best) { TakeMaskAvx2(v, best); }

// Stores a0 b0 a1 b1 ... a7 b7 (16 floats) at d.
__attribute__((target("avx2"))) inline void InterleaveStore(float* d, __m256 a, __m256 b) {
  const __m256 lo = _mm256_unpacklo_ps(a, b), hi = _mm256_unpackhi_ps(a, b);
  _mm256_storeu_ps(d, _mm256_permute2f128_ps(lo, hi, 0x20));
  _mm256_storeu_ps(d + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
}

__attribute__((target("avx2"))) int64_t Row2x2Avx2(const float* r0, const float* r1, float* o, int64_t ow) {
  int64_t j = 0;
  for (; j + 8 <= ow; j += 8) {
    __m256 e0, o0, e1, o1;
    SplitEvenOdd(r0 + 2 * j, e0, o0);
    SplitEvenOdd(r1 + 2 * j, e1, o1);
    __m256 best = e0;
    TakeAvx2(o0, best);
    TakeAvx2(e1, best);
    TakeAvx2(o1, best);
    _mm256_storeu_ps(o + j, best);
  }
  return j;
}

// The input gradient of one row of 2x2 windows, eight at a time with AVX2:
// the same scan as Row2x2Avx2, then each window's gradient goes to the last
// position that took the maximum, 0 to the other three. Returns the outputs done.
__attribute__((target("avx2"))) int64_t Row2x2BackwardAvx2(const float* r0, const float* r1, const float* g, float* d0, float* d1, int64_t ow) {
  int64_t j = 0;
  for (; j + 8 <= ow; j += 8) {
    __m256 e0, o0, e1, o1;
    SplitEvenOdd(r0 + 2 * j, e0, o0);
    SplitEvenOdd(r1 + 2 * j, e1, o1);
    __m256 best = e0;
    const __m256 t1 = TakeMaskAvx2(o0, best), t2 = TakeMaskAvx2(e1, best), t3 = TakeMaskAvx2(o1, best);
    const __m256 gv = _mm256_loadu_ps(g + j);
    const __m256 w3 = t3, w2 = _mm256_andnot_ps(t3, t2), w1 = _mm256_andnot_ps(_mm256_or_ps(t2, t3), t1);
    const __m256 w0 = _mm256_andnot_ps(_mm256_or_ps(t1, _mm256_or_ps(t2, t3)), _mm256_castsi256_ps(_mm256_set1_epi32(-1)));
    InterleaveStore(d0 + 2 * j, _mm256_and_ps(gv, w0), _mm256_and_ps(gv, w1));
    InterleaveStore(d1 + 2 * j, _mm256_and_ps(gv, w2), _mm256_and_ps(gv, w3));
  }
  return j;
}

bool HasAvx2() {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  return avx2;
}

// libtorch's scan of the 2x2 window whose top-left element is r0[2j] (r1: the next row): its maximum and that element's window position.
inline void Scan2x2(const float* r0, const float* r1, int64_t j, float& best, int& at) {
  best = r0[2 * j];
  at = 0;
  Take(r0[2 * j + 1], 1, best, at);
  Take(r1[2 * j], 2, best, at);
  Take(r1[2 * j + 1], 3, best, at);
}

// The same for a kh x kw window starting at win in rows of w floats.
inline void ScanWindow(const float* win, int64_t w, int64_t kh, int64_t kw, float& best, int& at) {
  best = win[0];
  at = 0;
  for (int64_t a = 0; a < kh; a++)
    for (int64_t b = (a == 0 ? 1 : 0); b < kw; b++) Take(win[a * w + b], static_cast<int>(a * kw + b), best, at);
}

// out[N, C, OH, OW] for the planes [begin, end). The scan starts from each
// window's first element, which libtorch's scan from -inf also ends on when
// nothing beats it (-inf itself, or a NaN there).
void PoolPlanes(const float* src, float* dst, int64_t begin, int64_t end, int64_t h, int64_t w, int64_t kh, int64_t kw) {
  const int64_t oh = h / kh, ow = w / kw;
  const bool avx2 = HasAvx2();
  for (int64_t p = begin; p < end; p++) {
    const float* plane = src + p * h * w;
    float* o = dst + p * oh * ow;
    for (int64_t i = 0; i < oh; i++) {
      const float* r0 = plane + i * kh * w;
      float* orow = o + i * ow;
      if (kh == 2 && kw == 2) {
        const float* r1 = r0 + w;
        for (int64_t j = avx2 ? Row2x2Avx2(r0, r1, orow, ow) : 0; j < ow; j++) {
          int at;
          Scan2x2(r0, r1, j, orow[j], at);
        }
        continue;
      }
      for (int64_t j = 0; j < ow; j++) {
        int at;
        ScanWindow(r0 + j * kw, w, kh, kw, orow[j], at);
      }
    }
  }
}

void PoolForward(const at::Tensor& x, int64_t kh, int64_t kw, at::Tensor& out) {
  const float* src = x.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  const int64_t h = x.size(2), w = x.size(3);
  at::parallel_for(0, x.size(0) * x.size(1), 1, [&](int64_t begin, int64_t end) { PoolPlanes(src, dst, begin, end, h, w, kh, kw); });
}

// The input gradient of the planes [begin, end): each output gradient goes to
// its window's maximum (found again from the saved input by the same scan),
// every other element of a window gets 0; elements outside every window (rows
// or columns left over in floor mode) get 0 too.
void PoolBackward(const float* x, const float* g, float* gin, int64_t begin, int64_t end, int64_t h, int64_t w, int64_t kh, int64_t kw) {
  const int64_t oh = h / kh, ow = w / kw;
  const bool avx2 = HasAvx2();
  for (int64_t p = begin; p < end; p++) {
    const float* plane = x + p * h * w;
    float* out = gin + p * h * w;
    if (oh * kh != h || ow * kw != w) std::fill(out, out + h * w, 0.0f);
    for (int64_t i = 0; i < oh; i++) {
      const float* gr = g + (p * oh + i) * ow;
      const float* r0 = plane + i * kh * w;
      float* d0 = out + i * kh * w;
      if (kh == 2 && kw == 2) {
        const float* r1 = r0 + w;
        float* d1 = d0 + w;
        for (int64_t j = avx2 ? Row2x2BackwardAvx2(r0, r1, gr, d0, d1, ow) : 0; j < ow; j++) {
          float best;
          int at;
          Scan2x2(r0, r1, j, best, at);
          const float v = gr[j];
          d0[2 * j] = at == 0 ? v : 0.0f;
          d0[2 * j + 1] = at == 1 ? v : 0.0f;
          d1[2 * j] = at == 2 ? v : 0.0f;
          d1[2 * j + 1] = at == 3 ? v : 0.0f;
        }
        continue;
      }
      for (int64_t j = 0; j < ow; j++) {
        float best;
        int at;
        ScanWindow(r0 + j * kw, w, kh, kw, best, at);
        for (int64_t a = 0; a < kh; a++)
          for (int64_t b = 0; b < kw; b++) d0[a * w + j * kw + b] = (a * kw + b == at) ? gr[j] : 0.0f;
      }
    }
  }
}

struct NonOverlappingMaxPool : public torch::autograd::Function<NonOverlappingMaxPool> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, int64_t kh, int64_t kw) {
    at::Tensor out = at::empty({x.size(0), x.size(1), x.size(2) / kh, x.size(3) / kw}, x.options());
    PoolForward(x, kh, kw, out);
    // The input, not the positions of the maxima: the backward finds them again. The input is
    // usually kept anyway (the ReLU before the pooling saves its result), so this costs no memory.
    ctx->save_for_backward({x});
    ctx->saved_data["kh"] = kh;
    ctx->saved_data["kw"] = kw;
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const at::Tensor x = ctx->get_saved_variables()[0];
    const int64_t kh = ctx->saved_data["kh"].toInt(), kw = ctx->saved_data["kw"].toInt();
    const at::Tensor g = grads[0].contiguous();
    at::Tensor gin = at::empty(x.sizes(), g.options());
    const float* xp = x.data_ptr<float>();
    const float* gp = g.data_ptr<float>();
    float* ip = gin.data_ptr<float>();
    const int64_t h = x.size(2), w = x.size(3);
    at::parallel_for(0, x.size(0) * x.size(1), 1, [&](int64_t begin, int64_t end) { PoolBackward(xp, gp, ip, begin, end, h, w, kh, kw); });
    return {gin, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

bool NonOverlappingMaxPoolApplies(const at::Tensor& x, at::IntArrayRef kernel, at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                                  bool ceil_mode) {
  if (x.dim() != 4 || !x.device().is_cpu() || x.scalar_type() != at::kFloat || !x.is_contiguous()) return false;
  if (kernel.size() != 2 || stride.size() != 2 || padding.size() != 2 || dilation.size() != 2) return false;
  const int64_t kh = kernel[0], kw = kernel[1];
  if (kh < 1 || kw < 1 || kh * kw > 256 || stride[0] != kh || stride[1] != kw) return false;
  if (padding[0] != 0 || padding[1] != 0 || dilation[0] != 1 || dilation[1] != 1) return false;
  if (x.size(2) < kh || x.size(3) < kw || x.numel() == 0) return false;
  // Ceil mode adds a partial window only where a row or column is left over.
  if (ceil_mode && (x.size(2) % kh != 0 || x.size(3) % kw != 0)) return false;
  return true;
}

at::Tensor MaxPool2dOrLibtorch(const at::Tensor& x, at::IntArrayRef kernel, at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                               bool ceil_mode) {
  if (!NonOverlappingMaxPoolApplies(x, kernel, stride, padding, dilation, ceil_mode))
    return at::max_pool2d(x, kernel, stride, padding, dilation, ceil_mode);
  if (at::GradMode::is_enabled() && x.requires_grad()) return NonOverlappingMaxPool::apply(x, kernel[0], kernel[1]);
  at::Tensor out = at::empty({x.size(0), x.size(1), x.size(2) / kernel[0], x.size(3) / kernel[1]}, x.options());
  PoolForward(x, kernel[0], kernel[1], out);
  return out;
}

}  // namespace ss
