// Parses the JS spec of a SparsePlan (see sparse_plan.cc) into a Plan:
// every value id, shape, geometry and weight is checked here, so nothing
// the user passes can make a step index out of bounds; the weights are
// copied into the plan's own memory (CSR and/or dense, as the step's kernels
// need).
#include "sparse_plan_spec.h"

#include <cmath>
#include <memory>

#include "tensor_wrap.h"

namespace ss::plan {

namespace {

std::string DimsText(const Dims& d) {
  return d.flat ? "[" + std::to_string(d.c) + "]" : "[" + std::to_string(d.c) + ", " + std::to_string(d.h) + ", " + std::to_string(d.w) + "]";
}

// An integer in [min, max] (checked before any cast: NaN and ±∞ are refused).
bool IsIntIn(double d, int64_t min, double max) { return d >= static_cast<double>(min) && d <= max && d == std::floor(d); }

// Reads one object of the spec; every failure names where it is.
struct SpecReader {
  Napi::Env env;
  std::string where;

  [[noreturn]] void Fail(const std::string& msg) const { TypeError(env, "SparsePlan: " + where + ": " + msg); }

  int64_t Int(const Napi::Object& o, const char* key, int64_t min) const {
    Napi::Value v = o.Get(key);
    if (!v.IsNumber()) Fail(std::string(key) + " must be an integer");
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!IsIntIn(d, min, 1e12))
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
      if (!e.IsNumber() || !IsIntIn(e.As<Napi::Number>().DoubleValue(), min, 1e9))
        Fail(what + " must hold integers >= " + std::to_string(min));
      out.push_back(static_cast<int64_t>(e.As<Napi::Number>().DoubleValue()));
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
  PrepareConvOffsets(s);
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

}  // namespace

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
  AssignStorage(*plan);
  return plan;
}


}  // namespace ss::plan
