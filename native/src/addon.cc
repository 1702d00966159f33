// Entry point of the sparse-soups native addon (libtorch through Node-API).
#include <malloc.h>

#include <cstdlib>

#include "tensor_wrap.h"

namespace ss {
void InitCreate(Napi::Object exports);
void InitMath(Napi::Object exports);
void InitNN(Napi::Object exports);
void InitSparse(Napi::Object exports);
Napi::Function InitSparsePlan(Napi::Env env);
}  // namespace ss

// glibc serves allocations above its (adaptive) mmap threshold with fresh
// mmap'd pages, so every im2col buffer and activation of a training step
// page-faults anew: measured here, a small conv forward took 22 ms instead of
// 3.5 ms. Keeping allocations up to 32 MiB (glibc's maximum) in the heap, and
// not trimming it eagerly, lets freed tensor memory be reused step after step.
// Larger buffers (an evaluation batch of 1,000 images makes 100 MB
// activations; glibc refuses thresholds above 32 MiB) are kept in the heap by
// allowing no mmap'd chunks at all: measured with one thread, a 6,000-image
// ConvNet evaluation at batch 1,000 spent 0.6 of its 2.4 s in the kernel
// zeroing fresh pages, and took 1.8 s without. (Threads other than the main
// one still get memory for their own arenas by mmap, as glibc falls back to
// it there.) SPARSE_SOUPS_SYSTEM_MALLOC=1 keeps glibc's defaults.
static void TuneAllocator() {
  const char* keep = std::getenv("SPARSE_SOUPS_SYSTEM_MALLOC");
  if (keep != nullptr && keep[0] == '1') return;
#ifdef M_MMAP_THRESHOLD
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
  mallopt(M_TOP_PAD, 64 * 1024 * 1024);
  mallopt(M_MMAP_MAX, 0);
#endif
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  TuneAllocator();
  exports.Set("NativeTensor", ss::TensorWrap::Init(env));
  exports.Set("setErrorClass", Napi::Function::New(env, ss::SetErrorClass, "setErrorClass"));
  ss::InitCreate(exports);
  ss::InitMath(exports);
  ss::InitNN(exports);
  ss::InitSparse(exports);
  exports.Set("SparsePlan", ss::InitSparsePlan(env));
  return exports;
}

NODE_API_MODULE(sparse_soups, Init)
