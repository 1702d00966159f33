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

#include "sparse_kernels.h"
#include "sparse_plan.h"
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

std::string DimsText(const Dims& d) {
  return d.flat ? "[" + std::to_string(d.c) + "]" : "[" + std::to_string(d.c) + ", " + std::to_string(d.h) + ", " + std::to_string(d.w) + "]";
}

// Reads one object of the spec; every failure names where it is.
struct SpecReader {
  Napi::Env env;
  std::string where;

  [[noreturn]] void Fail(const std::string& msg) const { TypeError(env, "SparsePlan: " + where + ": " + msg); }

  Napi::Value Get(const Napi::Object& o, const char* key) const { return o.Get(key); }

  int64_t Int(const Napi::Object& o, const char* key, int64_t min) const {
    Napi::Value v = o.Get(key);
    if (!v.IsNumber()) Fail(std::string(key) + " must be an integer");
    const double d = v.As<Napi::Number>().DoubleValue();
    if (d != static_cast<double>(static_cast<int64_t>(d)) || d < static_cast<double>(min) || d > 1e12)
      Fail(std::string(key) + " must be an integer >= " + std::to_string(min) + ", got " + std::to_string(d));
    return static_cast<int64_t>(d);
  }

  bool Bool(const Napi::Object& o, const char* key) const {
    Napi::Value v = o.Get(key);
    if (IsNullish(v)) return false;
    if (!v.IsBoolean()) Fail(std::string(key) + " must be a boolean");
    return v.As<Napi::Boolean>().Value();
  }

  std::string Str(const Napi::Object& o, const char* key) const {
    Napi::Value v = o.Get(key);
    if (!v.IsString()) Fail(std::string(key) + " must be a string");
    return v.As<Napi::String>().Utf8Value();
  }

  std::vector<int64_t> Ints(const Napi::Value& v, const std::string& what, int64_t min) const {
    if (!v.IsArray()) Fail(what + " must be an array of integers");
    Napi::Array a = v.As<Napi::Array>();
    std::vector<int64_t> out;
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value e = a.Get(i);
      const double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1e300;
      if (d != static_cast<double>(static_cast<int64_t>(d)) || d < static_cast<double>(min) || d > 1e9)
        Fail(what + " must hold integers >= " + std::to_string(min));
      out.push_back(static_cast<int64_t>(d));
    }
    return out;
  }

  std::vector<int64_t> Pair(const Napi::Object& o, const char* key, int64_t min) const {
    std::vector<int64_t> v = Ints(o.Get(key), key, min);
    if (v.size() != 2) Fail(std::string(key) + " must be two integers [h, w]");
    return v;
  }

  // A float32 CPU tensor of `rank` dimensions, or nullopt when absent and optional.
  c10::optional<at::Tensor> Tensor(const Napi::Object& o, const char* key, int64_t rank, bool optional) const {
    Napi::Value v = o.Get(key);
    if (IsNullish(v)) {
      if (!optional) Fail(std::string(key) + " is missing");
      return c10::nullopt;
    }
    TensorWrap* w = TensorWrap::Unwrap(v);
    if (w == nullptr || !w->live()) Fail(std::string(key) + " must be a live tensor");
    const at::Tensor& t = w->tensor();
    if (t.scalar_type() != at::kFloat || !t.device().is_cpu() || t.dim() != rank)
      Fail(std::string(key) + " must be a " + std::to_string(rank) + "-D float32 CPU tensor, got " + DTypeName(t.scalar_type()) + " " + c10::str(t.sizes()) +
           " on " + t.device().str());
    return t.contiguous();
  }

  std::vector<float> Vector(const Napi::Object& o, const char* key, int64_t size) const {
    auto t = Tensor(o, key, 1, true);
    if (!t) return {};
    if (t->size(0) != size) Fail(std::string(key) + " must have " + std::to_string(size) + " entries, got " + std::to_string(t->size(0)));
    const float* p = t->data_ptr<float>();
    return std::vector<float>(p, p + size);
  }
};

// The weight [O, K] as CSR and/or a dense copy, as the step's kernels need.
void LoadWeight(Step& s, const at::Tensor& weight, bool keepSparse, bool keepDense) {
  const at::Tensor w = weight.reshape({s.outC, -1}).contiguous();
  const int64_t rows = w.size(0), cols = w.size(1);
  const float* p = w.data_ptr<float>();
  s.weights = rows * cols;
  s.nonZeros = 0;
  for (int64_t k = 0; k < rows * cols; ++k) s.nonZeros += p[k] != 0.f;
  if (keepSparse) {
    s.csr.rows = rows;
    s.csr.cols = cols;
    s.csr.rowPtr.assign(static_cast<size_t>(rows + 1), 0);
    s.csr.colIdx.reserve(static_cast<size_t>(s.nonZeros));
    s.csr.values.reserve(static_cast<size_t>(s.nonZeros));
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c)
        if (p[r * cols + c] != 0.f) {
          s.csr.colIdx.push_back(static_cast<int32_t>(c));
          s.csr.values.push_back(p[r * cols + c]);
        }
      s.csr.rowPtr[r + 1] = static_cast<int64_t>(s.csr.values.size());
    }
  }
  if (keepDense) s.dense = w.clone();
}

void ReadKernel(const SpecReader& r, const Napi::Object& o, Step& s, bool& sparse, bool& dense) {
  const std::string k = r.Str(o, "kernel");
  if (k != "sparse" && k != "dense") r.Fail("kernel must be 'sparse' or 'dense', got '" + k + "'");
  const Kernel kernel = k == "sparse" ? Kernel::Sparse : Kernel::Dense;
  s.kernel[0] = s.kernel[1] = kernel;
  s.tunable = r.Bool(o, "tunable");
  sparse = s.tunable || kernel == Kernel::Sparse;
  dense = s.tunable || kernel == Kernel::Dense;
}

// The optional residual of a conv or affine step with output `out`.
void ParseResidual(const SpecReader& r, const Napi::Object& o, Step& s, const Plan& p, const Dims& out) {
  Napi::Value res = o.Get("residual");
  if (IsNullish(res)) return;
  if (!res.IsObject()) r.Fail("residual must be { value, channelOffset, stride }");
  Napi::Object ro = res.As<Napi::Object>();
  s.residual.value = static_cast<int>(r.Int(ro, "value", 0));
  s.residual.channelOffset = IsNullish(ro.Get("channelOffset")) ? 0 : r.Int(ro, "channelOffset", 0);
  s.residual.stride = IsNullish(ro.Get("stride")) ? 1 : r.Int(ro, "stride", 1);
  if (s.residual.value >= s.output) r.Fail("residual.value " + std::to_string(s.residual.value) + " is not an earlier value");
  const Dims& rd = p.dims[s.residual.value];
  const int64_t rs = s.residual.stride;
  if (out.flat || rd.flat || s.residual.channelOffset + rd.c > out.c || (rd.h + rs - 1) / rs != out.h || (rd.w + rs - 1) / rs != out.w)
    r.Fail("residual value " + std::to_string(s.residual.value) + " " + DimsText(rd) + " at stride " + std::to_string(rs) + ", channel offset " +
           std::to_string(s.residual.channelOffset) + " does not fit the output " + DimsText(out));
}

Dims ParseConv(const SpecReader& r, const Napi::Object& o, Step& s, const Plan& p) {
  const Dims& in = p.dims[s.input];
  if (in.flat) r.Fail("a conv needs an input [C, H, W], got a flat value of " + std::to_string(in.c) + " features");
  at::Tensor w = *r.Tensor(o, "weight", 4, false);
  s.outC = w.size(0);
  s.inC = w.size(1);
  s.kh = w.size(2);
  s.kw = w.size(3);
  if (s.outC < 1 || s.kh < 1 || s.kw < 1) r.Fail("weight " + c10::str(w.sizes()) + " is empty");
  if (s.inC != in.c) r.Fail("weight " + c10::str(w.sizes()) + " expects " + std::to_string(s.inC) + " input channels, the input has " + std::to_string(in.c));
  if (s.inC * s.kh * s.kw > INT32_MAX) r.Fail("more than 2^31 weights per output channel");
  const auto stride = r.Pair(o, "stride", 1), padding = r.Pair(o, "padding", 0), dilation = r.Pair(o, "dilation", 1);
  s.sh = stride[0], s.sw = stride[1], s.ph = padding[0], s.pw = padding[1], s.dh = dilation[0], s.dw = dilation[1];
  const int64_t hp = in.h + 2 * s.ph, wp = in.w + 2 * s.pw;
  const int64_t effH = s.dh * (s.kh - 1) + 1, effW = s.dw * (s.kw - 1) + 1;
  if (hp < effH || wp < effW) r.Fail("the input [" + std::to_string(in.c) + ", " + std::to_string(in.h) + ", " + std::to_string(in.w) + "] with padding is smaller than the kernel");
  s.hq = (hp + s.sh - 1) / s.sh;
  s.wq = (wp + s.sw - 1) / s.sw;
  s.hout = (hp - effH) / s.sh + 1;
  s.wout = (wp - effW) / s.sw + 1;
  s.bias = r.Vector(o, "bias", s.outC);
  s.relu = r.Bool(o, "relu");
  ParseResidual(r, o, s, p, Dims{s.outC, s.hout, s.wout, false});
  bool sparse = false, dense = false;
  ReadKernel(r, o, s, sparse, dense);
  LoadWeight(s, w, sparse, dense);
  plan::PrepareConvOffsets(s);
  return Dims{s.outC, s.hout, s.wout, false};
}

Dims ParseLinear(const SpecReader& r, const Napi::Object& o, Step& s, const Plan& p) {
  const Dims& in = p.dims[s.input];
  at::Tensor w = *r.Tensor(o, "weight", 2, false);
  s.outC = w.size(0);
  s.inC = w.size(1);
  if (s.outC < 1 || s.inC < 1) r.Fail("weight " + c10::str(w.sizes()) + " is empty");
  if (s.inC > INT32_MAX) r.Fail("more than 2^31 input features");
  if (!in.flat || in.numel() != s.inC)
    r.Fail("weight " + c10::str(w.sizes()) + " expects a flat input of " + std::to_string(s.inC) + " features, got " +
           (in.flat ? std::to_string(in.c) + " features" : "[" + std::to_string(in.c) + ", " + std::to_string(in.h) + ", " + std::to_string(in.w) + "] (flatten it first)"));
  s.bias = r.Vector(o, "bias", s.outC);
  s.relu = r.Bool(o, "relu");
  bool sparse = false, dense = false;
  ReadKernel(r, o, s, sparse, dense);
  LoadWeight(s, w, sparse, dense);
  return Dims{s.outC, 1, 1, true};
}

Dims ParseMaxPool(const SpecReader& r, const Napi::Object& o, Step& s, const Plan& p) {
  const Dims& in = p.dims[s.input];
  if (in.flat) r.Fail("pooling needs an input [C, H, W]");
  const auto kernel = r.Pair(o, "kernel", 1), stride = r.Pair(o, "stride", 1), padding = r.Pair(o, "padding", 0);
  s.kh = kernel[0], s.kw = kernel[1], s.sh = stride[0], s.sw = stride[1], s.ph = padding[0], s.pw = padding[1];
  if (2 * s.ph > s.kh || 2 * s.pw > s.kw) r.Fail("padding must be at most half the kernel");
  const int64_t h = (in.h + 2 * s.ph - s.kh) / s.sh + 1, w = (in.w + 2 * s.pw - s.kw) / s.sw + 1;
  if (in.h + 2 * s.ph < s.kh || in.w + 2 * s.pw < s.kw) r.Fail("the input is smaller than the pooling kernel");
  return Dims{in.c, h, w, false};
}

Dims ParseStep(const SpecReader& r, const Napi::Object& o, Step& s, const Plan& p) {
  const std::string op = r.Str(o, "op");
  const Dims& in = p.dims[s.input];
  if (op == "conv2d") {
    s.op = Op::Conv;
    return ParseConv(r, o, s, p);
  }
  if (op == "linear") {
    s.op = Op::Linear;
    return ParseLinear(r, o, s, p);
  }
  if (op == "maxPool2d") {
    s.op = Op::MaxPool;
    return ParseMaxPool(r, o, s, p);
  }
  if (op == "globalAvgPool") {
    s.op = Op::GlobalAvgPool;
    if (in.flat) r.Fail("pooling needs an input [C, H, W]");
    return Dims{in.c, 1, 1, true};
  }
  if (op == "affine") {
    s.op = Op::Affine;
    s.scale = r.Vector(o, "scale", in.c);
    s.shift = r.Vector(o, "shift", in.c);
    s.relu = r.Bool(o, "relu");
    ParseResidual(r, o, s, p, in);
    return in;
  }
  if (op == "flatten") {
    s.op = Op::Flatten;
    return Dims{in.numel(), 1, 1, true};
  }
  r.Fail("unknown op '" + op + "' (conv2d, linear, maxPool2d, globalAvgPool, affine, flatten)");
}

std::unique_ptr<Plan> ParsePlan(Napi::Env env, const Napi::Value& specValue) {
  SpecReader r{env, "spec"};
  if (!specValue.IsObject()) r.Fail("must be an object { inputShapes, steps }");
  Napi::Object spec = specValue.As<Napi::Object>();
  auto plan = std::make_unique<Plan>();
  Napi::Value shapes = spec.Get("inputShapes");
  if (!shapes.IsArray() || shapes.As<Napi::Array>().Length() == 0) r.Fail("inputShapes must be a non-empty array of shapes");
  for (uint32_t i = 0; i < shapes.As<Napi::Array>().Length(); ++i) {
    std::vector<int64_t> shape = r.Ints(shapes.As<Napi::Array>().Get(i), "inputShapes[" + std::to_string(i) + "]", 1);
    if (shape.size() != 1 && shape.size() != 3) r.Fail("inputShapes[" + std::to_string(i) + "] must be [C, H, W] or [features]");
    plan->inputShapes.push_back(shape);
  }
  const std::vector<int64_t>& first = plan->inputShapes[0];
  plan->dims.push_back(first.size() == 3 ? Dims{first[0], first[1], first[2], false} : Dims{first[0], 1, 1, true});
  for (const auto& shape : plan->inputShapes) {
    int64_t numel = 1;
    for (int64_t d : shape) numel *= d;
    if (numel != plan->dims[0].numel()) r.Fail("inputShapes must all hold " + std::to_string(plan->dims[0].numel()) + " values per image");
  }
  Napi::Value steps = spec.Get("steps");
  if (!steps.IsArray() || steps.As<Napi::Array>().Length() == 0) r.Fail("steps must be a non-empty array");
  Napi::Array arr = steps.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    SpecReader sr{env, "steps[" + std::to_string(i) + "]"};
    if (!arr.Get(i).IsObject()) sr.Fail("must be an object");
    Napi::Object o = arr.Get(i).As<Napi::Object>();
    Step s;
    s.name = o.Get("name").IsString() ? o.Get("name").As<Napi::String>().Utf8Value() : "";
    if (!s.name.empty()) sr.where += " (" + s.name + ")";
    s.input = static_cast<int>(sr.Int(o, "input", 0));
    s.output = static_cast<int>(i) + 1;
    if (s.input > static_cast<int>(i)) sr.Fail("input " + std::to_string(s.input) + " is not an earlier value (0: the input, k: steps[k-1]'s output)");
    Dims out = ParseStep(sr, o, s, *plan);
    plan->dims.push_back(out);
    plan->steps.push_back(std::move(s));
  }
  plan::AssignStorage(*plan);
  return plan;
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
                       });
  }

  explicit SparsePlanWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SparsePlanWrap>(info), env_(info.Env()) {
    Translate(info.Env(), [&]() -> Napi::Value {
      plan_ = ParsePlan(info.Env(), info.Length() > 0 ? info[0] : info.Env().Undefined());
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
