#include "tensor_wrap.h"

#include <ATen/detail/CUDAHooksInterface.h>

#include <atomic>

namespace ss {

namespace {
Napi::FunctionReference* g_ctor = nullptr;
std::atomic<int64_t> g_live{0};
std::atomic<int64_t> g_reported{0};
bool g_deferReport = false;  // set from the JS thread only

int64_t TensorBytes(const at::Tensor& t) {
  if (!t.defined()) return 0;
  return static_cast<int64_t>(t.numel()) * static_cast<int64_t>(t.element_size());
}
}  // namespace

Napi::Function TensorWrap::Init(Napi::Env env) {
  Napi::Function fn = DefineClass(env, "NativeTensor",
                                  {
                                      InstanceMethod("dispose", &TensorWrap::Dispose),
                                      InstanceMethod("reportExternal", &TensorWrap::ReportExternal),
                                      InstanceAccessor("disposed", &TensorWrap::IsDisposed, nullptr),
                                  });
  g_ctor = new Napi::FunctionReference(Napi::Persistent(fn));
  return fn;
}

TensorWrap::TensorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorWrap>(info), env_(info.Env()) {}

TensorWrap::~TensorWrap() { Release(); }

void TensorWrap::Release() {
  if (!live_) return;
  live_ = false;
  tensor_ = at::Tensor();
  Unreport();
  g_live.fetch_sub(1);
}

Napi::Object TensorWrap::Create(Napi::Env env, at::Tensor t) {
  Napi::Object obj = g_ctor->New({});
  TensorWrap* w = Napi::ObjectWrap<TensorWrap>::Unwrap(obj);
  w->tensor_ = std::move(t);
  w->live_ = true;
  g_live.fetch_add(1);
  if (!g_deferReport) w->Report();
  return obj;
}

void TensorWrap::Unreport() {
  if (reportedBytes_ != 0 && env_ != nullptr) {
    int64_t ignored;
    napi_adjust_external_memory(env_, -reportedBytes_, &ignored);
    g_reported.fetch_sub(reportedBytes_);
  }
  reportedBytes_ = 0;
}

void TensorWrap::Report() {
  // Only CPU bytes are reported: they are what pressures this process's heap.
  if (!live_ || reportedBytes_ != 0 || env_ == nullptr || !tensor_.defined() || !tensor_.device().is_cpu()) return;
  int64_t bytes = TensorBytes(tensor_);
  if (bytes == 0) return;
  reportedBytes_ = bytes;
  int64_t ignored;
  napi_adjust_external_memory(env_, bytes, &ignored);
  g_reported.fetch_add(bytes);
}

Napi::Value TensorWrap::ReportExternal(const Napi::CallbackInfo& info) {
  Report();
  return info.Env().Undefined();
}

void TensorWrap::SetData(const at::Tensor& src) {
  bool wasReported = reportedBytes_ != 0;
  tensor_.set_data(src);  // throws (nothing changed) when the two cannot share a TensorImpl type
  if (wasReported) {
    Unreport();
    Report();
  }
}

int64_t TensorWrap::ReportedBytes() { return g_reported.load(); }
void TensorWrap::SetDeferReport(bool defer) { g_deferReport = defer; }

TensorWrap* TensorWrap::Unwrap(const Napi::Value& v) {
  if (!v.IsObject() || g_ctor == nullptr) return nullptr;
  Napi::Object o = v.As<Napi::Object>();
  if (!o.InstanceOf(g_ctor->Value())) return nullptr;
  return Napi::ObjectWrap<TensorWrap>::Unwrap(o);
}

Napi::Value TensorWrap::Dispose(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

Napi::Value TensorWrap::IsDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !live_); }

int64_t TensorWrap::LiveCount() { return g_live.load(); }

// ---- errors ----

namespace {
Napi::FunctionReference* g_errorClass = nullptr;
}

Napi::Error MakeTensorError(Napi::Env env, const std::string& msg) {
  if (g_errorClass != nullptr) {
    Napi::Value err = g_errorClass->New({Napi::String::New(env, msg)});
    return Napi::Error(env, err);
  }
  return Napi::Error::New(env, msg);
}

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction()) TypeError(info.Env(), "setErrorClass(cls): cls must be a constructor");
  if (g_errorClass == nullptr) g_errorClass = new Napi::FunctionReference();
  *g_errorClass = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// ---- conversion helpers (declared in common.h) ----

at::ScalarType ParseDType(Napi::Env env, const Napi::Value& v) {
  if (!v.IsString()) TypeError(env, "dtype must be a string such as 'float32'");
  std::string s = v.As<Napi::String>();
  if (s == "float32") return at::kFloat;
  if (s == "float64") return at::kDouble;
  if (s == "float16") return at::kHalf;
  if (s == "bfloat16") return at::kBFloat16;
  if (s == "int64") return at::kLong;
  if (s == "int32") return at::kInt;
  if (s == "int16") return at::kShort;
  if (s == "int8") return at::kChar;
  if (s == "uint8") return at::kByte;
  if (s == "bool") return at::kBool;
  TypeError(env, "unknown dtype '" + s + "' (expected float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8 or bool)");
}

std::string DTypeName(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kShort: return "int16";
    case at::kChar: return "int8";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return std::string(c10::toString(t));
  }
}

at::Device ParseDevice(Napi::Env env, const Napi::Value& v) {
  if (IsNullish(v)) return at::Device(at::kCPU);
  if (!v.IsString()) TypeError(env, "device must be a string such as 'cpu' or 'cuda:0'");
  std::string s = v.As<Napi::String>();
  if (s == "cpu") return at::Device(at::kCPU);
  if (s == "cuda" || s.rfind("cuda:", 0) == 0) {
    if (!at::hasCUDA()) {
      // A CUDA libtorch whose libtorch_cuda is loaded answers with its CUDA runtime version even without a GPU.
      long cudart = 0;
      try {
        cudart = at::detail::getCUDAHooks().versionCUDART();
      } catch (const c10::Error&) {
      }
      if (cudart <= 0)
        TypeError(env, "device '" + s +
                           "' requested but this libtorch has no CUDA (cudaAvailable() is false): the addon is built against a CPU-only "
                           "libtorch, and a CUDA libtorch is needed. Rebuild it against one: LIBTORCH=<the torch/ folder of a CUDA "
                           "PyTorch install> npm run build:native, or install Debian's libtorch-cuda-dev (trixie, contrib) and run "
                           "npm run build:native (docs/libtorch2.md)");
      TypeError(env, "device '" + s + "' requested but no CUDA GPU is available (libtorch has CUDA " + std::to_string(cudart / 1000) + "." +
                         std::to_string(cudart % 1000 / 10) + ", but cudaAvailable() is false: no GPU or no NVIDIA driver)");
    }
    return at::Device(s);
  }
  TypeError(env, "unknown device '" + s + "' (expected 'cpu', 'cuda' or 'cuda:N')");
}

bool IsNullish(const Napi::Value& v) { return v.IsUndefined() || v.IsNull(); }

bool IsTensor(const Napi::Value& v) { return TensorWrap::Unwrap(v) != nullptr; }

at::Tensor& ArgTensor(const Napi::CallbackInfo& info, size_t i, const char* what) {
  TensorWrap* w = i < info.Length() ? TensorWrap::Unwrap(info[i]) : nullptr;
  if (w == nullptr) TypeError(info.Env(), std::string("argument ") + std::to_string(i) + " (" + what + ") must be a tensor");
  if (!w->live()) TypeError(info.Env(), std::string("argument ") + std::to_string(i) + " (" + what + ") is a disposed tensor");
  return w->tensor();
}

c10::optional<at::Tensor> ArgOptTensor(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || IsNullish(info[i])) return c10::nullopt;
  return ArgTensor(info, i);
}

std::vector<at::Tensor> ArgTensorList(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsArray()) TypeError(info.Env(), "argument " + std::to_string(i) + " must be an array of tensors");
  Napi::Array arr = info[i].As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); k++) {
    TensorWrap* w = TensorWrap::Unwrap(arr.Get(k));
    if (w == nullptr || !w->live()) TypeError(info.Env(), "element " + std::to_string(k) + " of argument " + std::to_string(i) + " is not a live tensor");
    out.push_back(w->tensor());
  }
  return out;
}

std::vector<int64_t> ArgIntList(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || !info[i].IsArray()) TypeError(info.Env(), std::string(what) + " must be an array of integers");
  Napi::Array arr = info[i].As<Napi::Array>();
  std::vector<int64_t> out;
  out.reserve(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value e = arr.Get(k);
    if (!e.IsNumber()) TypeError(info.Env(), std::string(what) + "[" + std::to_string(k) + "] must be an integer");
    double d = e.As<Napi::Number>().DoubleValue();
    if (d != static_cast<double>(static_cast<int64_t>(d))) TypeError(info.Env(), std::string(what) + "[" + std::to_string(k) + "] must be an integer, got " + std::to_string(d));
    out.push_back(static_cast<int64_t>(d));
  }
  return out;
}

c10::optional<std::vector<int64_t>> ArgOptIntList(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || IsNullish(info[i])) return c10::nullopt;
  return ArgIntList(info, i, "dims");
}

int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || !info[i].IsNumber()) TypeError(info.Env(), std::string("argument ") + std::to_string(i) + " (" + what + ") must be an integer");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d))) TypeError(info.Env(), std::string("argument ") + std::to_string(i) + " (" + what + ") must be an integer");
  return static_cast<int64_t>(d);
}

double ArgDouble(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || !info[i].IsNumber()) TypeError(info.Env(), std::string("argument ") + std::to_string(i) + " (" + what + ") must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

c10::optional<double> ArgOptDouble(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || IsNullish(info[i])) return c10::nullopt;
  return ArgDouble(info, i);
}

bool ArgBool(const Napi::CallbackInfo& info, size_t i, bool dflt) {
  if (i >= info.Length() || IsNullish(info[i])) return dflt;
  return info[i].ToBoolean().Value();
}

Napi::Value Wrap(Napi::Env env, at::Tensor t) { return TensorWrap::Create(env, std::move(t)); }

Napi::Value WrapPair(Napi::Env env, const std::tuple<at::Tensor, at::Tensor>& p) {
  Napi::Array arr = Napi::Array::New(env, 2);
  arr.Set(0u, Wrap(env, std::get<0>(p)));
  arr.Set(1u, Wrap(env, std::get<1>(p)));
  return arr;
}

Napi::Value WrapList(Napi::Env env, const std::vector<at::Tensor>& ts) {
  Napi::Array arr = Napi::Array::New(env, ts.size());
  for (size_t k = 0; k < ts.size(); k++) arr.Set(static_cast<uint32_t>(k), Wrap(env, ts[k]));
  return arr;
}

}  // namespace ss
