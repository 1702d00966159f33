// Lays out and runs a compiled sparse inference plan (sparse_plan.h): the
// arena of values, buffers sized per chunk of images, the run chunk by chunk,
// and the calibration that times both kernels of a layer. The steps
// themselves are in sparse_plan_steps.cc.
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>

#include "sparse_kernels.h"
#include "sparse_plan.h"

namespace ss::plan {

namespace {

struct ScratchNeed {
  int64_t a = 0, b = 0;
};

ScratchNeed ScratchFor(const Step& s, int64_t n) {
  ScratchNeed need;
  if (s.op == Op::Conv) {
    need.a = n * s.PhaseFloats() + kSlack;
    if (s.HasDense()) need.b = (s.inC * s.kh * s.kw + s.outC) * s.hout * s.wout;
  } else if (s.op == Op::Linear && s.HasSparse() && n >= kLargeBatch) {
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
    if (s.op == Op::Conv) scratch = std::max(scratch, s.PhaseFloats());
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
  if (s.HasSparse()) {
    s.offsets.resize(s.csr.colIdx.size());
    for (size_t k = 0; k < s.csr.colIdx.size(); ++k) s.offsets[k] = offsetOf(s.csr.colIdx[k]);
  }
  s.denseOffsets.clear();
  if (s.HasDense()) {
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
    // A generator of its own: loading a model must not move the user's seeded default generator.
    at::Tensor x = at::randn({n * inPer}, at::detail::createCPUGenerator(regime + 1), at::TensorOptions(at::kFloat));
    const float* xp = x.data_ptr<float>();
    EnsureBuffers(p, n);
    // Step by step, so each step's inputs hold real activations when it is timed.
    for (size_t i = 0; i < p.steps.size(); ++i) {
      Step& s = p.steps[i];
      if (!s.tunable || !s.HasSparse() || !s.HasDense()) {
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
