// SparsePlan: the JS class over a compiled sparse inference plan
// (sparse_plan.h). `new SparsePlan(spec)` validates the spec (shapes, value
// ids, geometry, weights) and copies the weights into the plan's own memory,
// so the caller may dispose its tensors; `run(x)` is one call for the whole
// network. The plan's bytes are reported to V8 as external memory; dispose()
// frees them at once, the garbage collector otherwise.
//
// Spec (TypeScript: src/tensor/sparse-plan.ts):
//   { inputShapes: number[][], steps: Step[] }   value 0 = the input, value i+1 = steps[i]'s output
//   conv2d:  { op, name, input, weight [O,C,kh,kw], bias?, stride, padding, dilation, relu, residual?, kernel, tunable }
//            residual: { value, channelOffset, stride }, added before the ReLU
//   linear:  { op, name, input (flat), weight [out,in], bias?, relu, kernel, tunable }
//   maxPool2d: { op, name, input, kernel, stride, padding }   globalAvgPool, flatten: { op, name, input }
//   affine:  { op, name, input, scale?, shift?, relu, residual? }  y = x·scale[c] + shift[c] (+ residual)
#include <algorithm>
#include <chrono>
#include <memory>

#include "sparse_plan.h"
#include "sparse_plan_spec.h"
#include "tensor_wrap.h"

namespace ss {

namespace {

using plan::Dims;
using plan::Kernel;
using plan::Op;
using plan::Plan;
using plan::Step;

template <class F>
Napi::Value Translate(Napi::Env env, F&& f) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw MakeTensorError(env, std::string("libtorch: ") + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw MakeTensorError(env, std::string("native: ") + e.what());
  }
}

std::string ShapeText(const std::vector<int64_t>& perImage) {
  std::string s = "[N";
  for (int64_t d : perImage) s += ", " + std::to_string(d);
  return s + "]";
}

const char* KernelName(Kernel k) { return k == Kernel::Sparse ? "sparse" : "dense"; }

const char* OpName(Op op) {
  switch (op) {
    case Op::Conv: return "conv2d";
    case Op::Linear: return "linear";
    case Op::MaxPool: return "maxPool2d";
    case Op::GlobalAvgPool: return "globalAvgPool";
    case Op::Affine: return "affine";
    case Op::Flatten: return "flatten";
  }
  return "?";
}

Napi::Array DimsArray(Napi::Env env, const Dims& d) {
  Napi::Array a = Napi::Array::New(env);
  a.Set(0u, Napi::Number::New(env, static_cast<double>(d.c)));
  if (!d.flat) {
    a.Set(1u, Napi::Number::New(env, static_cast<double>(d.h)));
    a.Set(2u, Napi::Number::New(env, static_cast<double>(d.w)));
  }
  return a;
}

class SparsePlanWrap : public Napi::ObjectWrap<SparsePlanWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "SparsePlan",
                       {
                           InstanceMethod("run", &SparsePlanWrap::RunMethod),
                           InstanceMethod("calibrate", &SparsePlanWrap::CalibrateMethod),
                           InstanceMethod("profile", &SparsePlanWrap::ProfileMethod),
                           InstanceMethod("describe", &SparsePlanWrap::DescribeMethod),
                           InstanceMethod("dispose", &SparsePlanWrap::DisposeMethod),
                           InstanceAccessor("disposed", &SparsePlanWrap::DisposedGetter, nullptr),
                           InstanceAccessor("bytes", &SparsePlanWrap::BytesGetter, nullptr),
                           InstanceAccessor("chunkImages", &SparsePlanWrap::ChunkGetter, nullptr),
                       });
  }

  explicit SparsePlanWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SparsePlanWrap>(info), env_(info.Env()) {
    Translate(info.Env(), [&]() -> Napi::Value {
      plan_ = plan::ParsePlan(info.Env(), info.Length() > 0 ? info[0] : info.Env().Undefined());
      Report();
      return info.Env().Undefined();
    });
  }

  ~SparsePlanWrap() override { Release(); }

 private:
  Plan& Live(const char* method) {
    if (!plan_) throw MakeTensorError(env_, std::string("SparsePlan.") + method + ": the plan was disposed");
    return *plan_;
  }

  // The input as [n, ...] float32 contiguous, or a TensorError naming the shapes accepted.
  at::Tensor Input(const Napi::CallbackInfo& info, const char* method) {
    Plan& p = Live(method);
    TensorWrap* w = info.Length() > 0 ? TensorWrap::Unwrap(info[0]) : nullptr;
    if (w == nullptr || !w->live()) TypeError(info.Env(), std::string("SparsePlan.") + method + ": the input must be a live tensor");
    const at::Tensor& x = w->tensor();
    std::string expected;
    for (const auto& shape : p.inputShapes) {
      bool fits = x.dim() == static_cast<int64_t>(shape.size()) + 1;
      for (size_t d = 0; fits && d < shape.size(); ++d) fits = x.size(static_cast<int64_t>(d) + 1) == shape[d];
      if (fits) {
        if (x.scalar_type() != at::kFloat || !x.device().is_cpu())
          throw MakeTensorError(info.Env(), std::string("SparsePlan.") + method + ": expected a float32 CPU input, got " + DTypeName(x.scalar_type()) + " on " + x.device().str());
        return x.contiguous();
      }
      expected += (expected.empty() ? "" : " or ") + ShapeText(shape);
    }
    throw MakeTensorError(info.Env(), std::string("SparsePlan.") + method + ": expected an input " + expected + ", got " + c10::str(x.sizes()));
  }

  Napi::Value RunMethod(const Napi::CallbackInfo& info) {
    return Translate(info.Env(), [&]() -> Napi::Value {
      at::Tensor x = Input(info, "run");
      Plan& p = *plan_;
      const Dims& out = p.dims.back();
      const int64_t n = x.size(0);
      at::Tensor y = out.flat ? at::empty({n, out.c}, at::kFloat) : at::empty({n, out.c, out.h, out.w}, at::kFloat);
      plan::Run(p, x.data_ptr<float>(), n, y.data_ptr<float>());
      Report();
      return Wrap(info.Env(), y);
    });
  }

  Napi::Value CalibrateMethod(const Napi::CallbackInfo& info) {
    return Translate(info.Env(), [&]() -> Napi::Value {
      Plan& p = Live("calibrate");
      const int64_t batch = ArgInt(info, 0, "largeBatch"), reps = ArgInt(info, 1, "reps");
      if (batch < 1 || reps < 1 || reps > 1000) TypeError(info.Env(), "SparsePlan.calibrate: largeBatch and reps must be positive (reps at most 1000)");
      const std::vector<plan::Timing> timings = plan::Calibrate(p, batch, static_cast<int>(reps));
      Report();
      Napi::Array out = Napi::Array::New(info.Env());
      for (size_t i = 0; i < timings.size(); ++i) {
        const plan::Timing& t = timings[i];
        Napi::Object o = Napi::Object::New(info.Env());
        o.Set("step", t.step);
        o.Set("name", p.steps[t.step].name);
        o.Set("batch", static_cast<double>(t.batch));
        o.Set("sparseMs", t.sparseMs);
        o.Set("denseMs", t.denseMs);
        o.Set("kernel", KernelName(p.steps[t.step].kernel[plan::RegimeOf(t.batch)]));
        out.Set(static_cast<uint32_t>(i), o);
      }
      return out;
    });
  }

  // profile(x, reps) → { totalMicros, steps: [{ name, op, micros }] }: medians over reps runs.
  Napi::Value ProfileMethod(const Napi::CallbackInfo& info) {
    return Translate(info.Env(), [&]() -> Napi::Value {
      at::Tensor x = Input(info, "profile");
      const int64_t reps = ArgInt(info, 1, "reps");
      if (reps < 1 || reps > 100000) TypeError(info.Env(), "SparsePlan.profile: reps must be in 1 … 100000");
      Plan& p = *plan_;
      const int64_t n = x.size(0);
      at::Tensor y = at::empty({n * p.dims.back().numel()}, at::kFloat);
      std::vector<std::vector<double>> perStep(p.steps.size());
      std::vector<double> totals, micros;
      for (int64_t r = 0; r < reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        plan::Run(p, x.data_ptr<float>(), n, y.data_ptr<float>(), &micros);
        totals.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
        for (size_t i = 0; i < micros.size(); ++i) perStep[i].push_back(micros[i]);
      }
      Report();
      auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
      };
      Napi::Object out = Napi::Object::New(info.Env());
      out.Set("totalMicros", median(totals));
      Napi::Array steps = Napi::Array::New(info.Env());
      for (size_t i = 0; i < p.steps.size(); ++i) {
        Napi::Object o = Napi::Object::New(info.Env());
        o.Set("name", p.steps[i].name);
        o.Set("op", OpName(p.steps[i].op));
        o.Set("micros", median(perStep[i]));
        steps.Set(static_cast<uint32_t>(i), o);
      }
      out.Set("steps", steps);
      return out;
    });
  }

  // describe() → [{ name, op, kernels: [small, large] | null, weights, nonZeros, outputShape, tunable }]
  Napi::Value DescribeMethod(const Napi::CallbackInfo& info) {
    Plan& p = Live("describe");
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    for (size_t i = 0; i < p.steps.size(); ++i) {
      const Step& s = p.steps[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", s.name);
      o.Set("op", OpName(s.op));
      if (s.op == Op::Conv || s.op == Op::Linear) {
        Napi::Array k = Napi::Array::New(env);
        for (uint32_t r = 0; r < plan::kRegimes; ++r) k.Set(r, KernelName(s.kernel[r]));
        o.Set("kernels", k);
      } else {
        o.Set("kernels", env.Null());
      }
      o.Set("weights", static_cast<double>(s.weights));
      o.Set("nonZeros", static_cast<double>(s.nonZeros));
      o.Set("outputShape", DimsArray(env, p.dims[s.output]));
      o.Set("tunable", s.tunable);
      out.Set(static_cast<uint32_t>(i), o);
    }
    return out;
  }

  Napi::Value DisposeMethod(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }

  Napi::Value DisposedGetter(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !plan_); }

  Napi::Value BytesGetter(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), plan_ ? static_cast<double>(plan_->WeightBytes() + plan_->BufferBytes()) : 0.0);
  }

  Napi::Value ChunkGetter(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), plan_ ? static_cast<double>(plan_->maxChunk) : 0.0); }

  // Reports the plan's current bytes to V8 (they change when buffers grow or weights are dropped).
  void Report() {
    const int64_t bytes = plan_ ? plan_->WeightBytes() + plan_->BufferBytes() : 0;
    if (bytes == reported_) return;
    int64_t ignored;
    napi_adjust_external_memory(env_, bytes - reported_, &ignored);
    reported_ = bytes;
  }

  void Release() {
    plan_.reset();
    Report();
  }

  std::unique_ptr<Plan> plan_;
  int64_t reported_ = 0;
  napi_env env_;
};

}  // namespace

Napi::Function InitSparsePlan(Napi::Env env) { return SparsePlanWrap::Init(env); }

}  // namespace ss
