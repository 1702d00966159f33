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

// Most vector registers a tile accumulates in: 12 accumulators and the
// broadcast weight fit AVX2's 16 registers, and a wide tile spreads each
// non-zero's loop overhead (offset, broadcast, branch) over more FMAs.
constexpr int64_t kMaxTile = 12;

// Splits the row into the fewest tiles of at most kMaxTile vectors, of
// near-equal widths (222 outputs, 28 vectors: tiles of 10, 9 and 9 rather
// than 8, 8, 8, 2, 1, 1), so each non-zero is visited as few times as possible.
__attribute__((always_inline)) inline void CombineRowBody(const float* __restrict src, const int64_t* __restrict offsets, const float* __restrict values,
                                                          int64_t k0, int64_t k1, float b, float* __restrict out, int64_t len) {
  const int64_t vecs = (len + kVec - 1) / kVec, tiles = (vecs + kMaxTile - 1) / kMaxTile;
  int64_t done = 0;
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t nv = (vecs - done + (tiles - t) - 1) / (tiles - t);
    const int64_t j = done * kVec;
    switch (nv) {
      case 1: CombineTile<1>(src, offsets, values, k0, k1, b, out, j); break;
      case 2: CombineTile<2>(src, offsets, values, k0, k1, b, out, j); break;
      case 3: CombineTile<3>(src, offsets, values, k0, k1, b, out, j); break;
      case 4: CombineTile<4>(src, offsets, values, k0, k1, b, out, j); break;
      case 5: CombineTile<5>(src, offsets, values, k0, k1, b, out, j); break;
      case 6: CombineTile<6>(src, offsets, values, k0, k1, b, out, j); break;
      case 7: CombineTile<7>(src, offsets, values, k0, k1, b, out, j); break;
      case 8: CombineTile<8>(src, offsets, values, k0, k1, b, out, j); break;
      case 9: CombineTile<9>(src, offsets, values, k0, k1, b, out, j); break;
      case 10: CombineTile<10>(src, offsets, values, k0, k1, b, out, j); break;
      case 11: CombineTile<11>(src, offsets, values, k0, k1, b, out, j); break;
      default: CombineTile<12>(src, offsets, values, k0, k1, b, out, j); break;
    }
    done += nv;
  }
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
