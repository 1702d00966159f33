// See sparse_kernels.h.
#include "sparse_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define SS_X86_DISPATCH 1
#endif

namespace ss {

namespace {

// Eight floats; `aligned(4)` lets it load from and store to any float address.
typedef float Vec8 __attribute__((vector_size(32), aligned(4)));

// out[j0 … j0 + 8·NV) = b + Σ_k values[k] · src[offsets[k] + j], accumulated
// in NV vector registers over all of a row's non-zeros: one load and one
// multiply-add per 8 outputs and non-zero, no stores inside the loop.
template <int NV>
__attribute__((always_inline)) inline void CombineTile(const float* __restrict src, const int64_t* __restrict offsets, const float* __restrict values,
                                                       int64_t k0, int64_t k1, float b, float* __restrict out, int64_t j0) {
  Vec8 acc[NV];
  for (int v = 0; v < NV; ++v) acc[v] = Vec8{} + b;
  for (int64_t k = k0; k < k1; ++k) {
    const float* p = src + offsets[k] + j0;
    const float v = values[k];
    const Vec8 w = {v, v, v, v, v, v, v, v};  // one broadcast from memory
    for (int v = 0; v < NV; ++v) acc[v] += w * *reinterpret_cast<const Vec8*>(p + v * kVec);
  }
  for (int v = 0; v < NV; ++v) *reinterpret_cast<Vec8*>(out + j0 + v * kVec) = acc[v];
}

__attribute__((always_inline)) inline void CombineRowBody(const float* __restrict src, const int64_t* __restrict offsets, const float* __restrict values,
                                                          int64_t k0, int64_t k1, float b, float* __restrict out, int64_t len) {
  int64_t j = 0;
  for (; j + 8 * kVec <= len; j += 8 * kVec) CombineTile<8>(src, offsets, values, k0, k1, b, out, j);
  if (j + 4 * kVec <= len) {
    CombineTile<4>(src, offsets, values, k0, k1, b, out, j);
    j += 4 * kVec;
  }
  if (j + 2 * kVec <= len) {
    CombineTile<2>(src, offsets, values, k0, k1, b, out, j);
    j += 2 * kVec;
  }
  for (; j < len; j += kVec) CombineTile<1>(src, offsets, values, k0, k1, b, out, j);
}

void CombineRowBaseline(const float* src, const int64_t* offsets, const float* values, int64_t k0, int64_t k1, float b, float* out, int64_t len) {
  CombineRowBody(src, offsets, values, k0, k1, b, out, len);
}

#ifdef SS_X86_DISPATCH
__attribute__((target("avx2,fma"))) void CombineRowAvx2(const float* src, const int64_t* offsets, const float* values, int64_t k0, int64_t k1, float b,
                                                        float* out, int64_t len) {
  CombineRowBody(src, offsets, values, k0, k1, b, out, len);
}
#endif

bool CpuHasAvx2() {
#ifdef SS_X86_DISPATCH
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

}  // namespace

bool CombineRowIsAvx2() {
  static const bool avx2 = CpuHasAvx2();
  return avx2;
}

CombineRowFn CombineRowKernel() {
#ifdef SS_X86_DISPATCH
  if (CombineRowIsAvx2()) return CombineRowAvx2;
#endif
  return CombineRowBaseline;
}

}  // namespace ss
