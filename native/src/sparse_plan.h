// A whole network compiled for sparse inference: a sequence of steps (conv
// with folded BN, bias, fused residual add and ReLU; linear; pooling;
// per-channel affine; flatten) over preallocated buffers, run by one call.
// sparse_plan.cc parses and validates the JS spec into a Plan and exposes it
// as the SparsePlan class; sparse_plan_exec.cc runs it. Nothing here sees
// user input unchecked: every index and shape was validated when the Plan
// was built.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ss::plan {

enum class Op { Conv, Linear, MaxPool, GlobalAvgPool, Affine, Flatten };
enum class Kernel { Sparse, Dense };

// Batch regimes that choose a kernel each: small batches (n < kLargeBatch)
// and large ones. Calibration measures the first at batch 1 and the second
// at the batch given to calibrate().
constexpr int kRegimes = 2;
constexpr int64_t kLargeBatch = 4;
inline int RegimeOf(int64_t n) { return n < kLargeBatch ? 0 : 1; }

// A batch runs chunk by chunk: the buffers are sized for one chunk, and a
// chunk's activations and padded inputs should stay in the core's cache
// (kChunkBytes, about a Zen 2 L2), since the sparse kernels gain nothing from
// more images at once (one output plane per task) and a dense GEMM here is
// per image anyway. So ResNet-20 and the ConvNet run one or two images at a
// time, an MLP up to kMaxChunk. Measured at batch 64 on ResNet-20 at 90%
// (load ≈ 7): chunks of 64 images gave 635 images/s, chunks of 1 1047.
constexpr int64_t kMaxChunk = 64;
constexpr int64_t kChunkBytes = 512 * 1024;

// The shape of one image's value: [c, h, w], or a flat vector of c features.
struct Dims {
  int64_t c = 1, h = 1, w = 1;
  bool flat = false;
  int64_t numel() const { return c * h * w; }
};

// A float32 matrix [rows, cols] in compressed sparse row form.
struct Csr {
  std::vector<int64_t> rowPtr;
  std::vector<int32_t> colIdx;
  std::vector<float> values;
  int64_t rows = 0, cols = 0;
  int64_t nnz() const { return static_cast<int64_t>(values.size()); }
  bool present() const { return !rowPtr.empty(); }
  int64_t bytes() const { return static_cast<int64_t>(rowPtr.size() * 8 + colIdx.size() * 4 + values.size() * 4); }
};

// A residual added before the ReLU of a conv: output channel o adds channel
// o - channelOffset of `value` (when in range) at rows and columns ·stride;
// ResNet's option-A shortcut is stride 2 with zero channels on both sides.
struct Residual {
  int value = -1;
  int64_t channelOffset = 0;
  int64_t stride = 1;
};

struct Step {
  Op op = Op::Flatten;
  std::string name;
  int input = 0, output = 0;
  // Conv and Linear: weight [outC, inC·kh·kw] (Linear: kh = kw = 1).
  int64_t outC = 0, inC = 0, kh = 1, kw = 1;
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;  // conv and pooling
  bool relu = false;
  Residual residual;
  Csr csr;                            // the sparse kernel's weight (empty once dropped)
  at::Tensor dense;                   // the dense kernel's weight [outC, K] (undefined once dropped)
  std::vector<float> bias;            // [outC] or empty
  std::vector<int64_t> offsets;       // sparse conv: each non-zero's offset into one image's padded stride phases
  std::vector<int64_t> denseOffsets;  // dense conv: every weight column's offset, for im2col
  std::vector<int64_t> rowOffsets;    // sparse linear at n >= kLargeBatch: colIdx·n, cached for rowOffsetsBatch
  int64_t rowOffsetsBatch = 0;
  Kernel kernel[kRegimes] = {Kernel::Sparse, Kernel::Sparse};
  bool tunable = false;  // calibrate() may choose the kernel (both weights are kept until then)
  int64_t weights = 0, nonZeros = 0;
  // Conv geometry: padded input in stride phases of [hq, wq], output [hout, wout].
  int64_t hq = 0, wq = 0, hout = 0, wout = 0;
  // Affine: y = x·scale[c] + shift[c] (either may be empty: 1 and 0).
  std::vector<float> scale, shift;

  bool HasSparse() const { return csr.present(); }
  bool HasDense() const { return dense.defined(); }
  // Floats of one image's padded stride phases (conv).
  int64_t PhaseFloats() const { return inC * sh * sw * hq * wq; }
};

struct Plan {
  std::vector<std::vector<int64_t>> inputShapes;  // accepted per-image input shapes (same numel)
  std::vector<Dims> dims;                          // per value; value 0 is the input, value i+1 step i's output
  std::vector<int> storage;                        // per value: its storage, -1 for the input
  std::vector<int64_t> storageOffset;              // per storage: offset into the arena, in floats per image
  int64_t arenaPerImage = 0;
  int64_t maxChunk = 1;  // images per chunk (kChunkBytes / bytes per image, in 1 … kMaxChunk)
  std::vector<Step> steps;

  // Buffers, sized for `bufferBatch` images.
  int64_t bufferBatch = 0;
  std::vector<float> arena, scratchA, scratchB;

  int64_t WeightBytes() const;
  int64_t BufferBytes() const;
};

// Where value v of a chunk of n images lies: the input x, or the arena.
inline float* ValuePtr(Plan& p, int v, const float* x, int64_t n) {
  const int s = p.storage[v];
  return s < 0 ? const_cast<float*>(x) : p.arena.data() + p.storageOffset[s] * n;
}

// Runs one step on a chunk of n images (buffers sized for at least n) with the given kernel (sparse_plan_steps.cc).
void RunStep(Plan& plan, Step& step, const float* x, int64_t n, Kernel kernel);

// Lays out the values in the arena (storages reused once dead) and sets the
// chunk size. Call after the steps and dims are set.
void AssignStorage(Plan& plan);

// Runs the plan on x [n, ...inputShape] (float32, contiguous, CPU, validated
// by the caller) into y [n, ...output dims]. stepMicros, when given, receives
// each step's time in µs (summed over chunks).
void Run(Plan& plan, const float* x, int64_t n, float* y, std::vector<double>* stepMicros = nullptr);

// One tunable step's measurement: the fastest of its runs (ms) on each kernel at `batch`.
struct Timing {
  int step;
  int64_t batch;
  double sparseMs, denseMs;
};

// Times the sparse and dense kernel of every tunable step on random inputs,
// at batch 1 and at `largeBatch` (at most the chunk size; skipped when chunks
// are smaller than kLargeBatch), `reps` times each (alternating), and keeps
// the faster per regime; then drops the weights no regime uses.
std::vector<Timing> Calibrate(Plan& plan, int64_t largeBatch, int reps);

// Frees the weight representation that no regime of `step` uses.
void DropUnusedWeights(Step& step);

// Fills a conv step's offsets (of its non-zeros) and denseOffsets (of every
// weight column) from its geometry and the weights it holds.
void PrepareConvOffsets(Step& step);

}  // namespace ss::plan
