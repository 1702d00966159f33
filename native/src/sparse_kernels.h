// The vector kernel shared by the sparse ops (sparse_ops.cc) and the sparse
// inference plan (sparse_plan.cc): one sparse row times dense rows,
// accumulated in vector registers. Compiled for AVX2+FMA and for the build's
// baseline; the CPU's support is checked once (__builtin_cpu_supports), so the
// build needs no -march flag.
#pragma once

#include <cstdint>

namespace ss {

// Floats per vector register of the kernel.
constexpr int64_t kVec = 8;
// Slack after every source buffer: tiles read up to kVec·8 - 1 floats past
// the last value they keep, so the buffers are allocated that much longer.
constexpr int64_t kSlack = kVec * 8;

// Round up to whole vectors, the width CombineRow writes.
inline int64_t RoundUp(int64_t n) { return (n + kVec - 1) / kVec * kVec; }

// out[0 … len) (written up to len rounded up to 8) = b + Σ_{k0≤k<k1} values[k] · src[offsets[k] + j]:
// one sparse row times dense rows, tiled over j. src must be readable up to
// max(offsets) + RoundUp(len) (kSlack after the buffer covers it).
using CombineRowFn = void (*)(const float* src, const int64_t* offsets, const float* values, int64_t k0, int64_t k1, float b, float* out, int64_t len);

// The kernel for this CPU, chosen on the first call.
CombineRowFn CombineRowKernel();

// True when CombineRowKernel() is the AVX2+FMA build.
bool CombineRowIsAvx2();

}  // namespace ss
