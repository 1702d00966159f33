// Tensor creation, data transfer, metadata, random numbers, autograd and
// runtime settings (threads, devices).
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/DeviceGuard.h>
#include <ATen/core/grad_mode.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <dlfcn.h>

#include <cstring>

#include "tensor_wrap.h"

namespace ss {

namespace {

at::TensorOptions Options(const Napi::CallbackInfo& info, size_t dtypeArg, size_t deviceArg, at::ScalarType dflt = at::kFloat) {
  at::ScalarType dt = (dtypeArg < info.Length() && !IsNullish(info[dtypeArg])) ? ParseDType(info.Env(), info[dtypeArg]) : dflt;
  at::Device dev = deviceArg < info.Length() ? ParseDevice(info.Env(), info[deviceArg]) : at::Device(at::kCPU);
  return at::TensorOptions().dtype(dt).device(dev);
}

std::vector<int64_t> ArgShape(const Napi::CallbackInfo& info, size_t i) {
  std::vector<int64_t> shape = ArgIntList(info, i, "shape");
  for (size_t k = 0; k < shape.size(); k++)
    if (shape[k] < 0) TypeError(info.Env(), "shape[" + std::to_string(k) + "] must be >= 0, got " + std::to_string(shape[k]));
  return shape;
}

int64_t Numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// Which typed array goes with which dtype.
bool TypedArrayMatches(napi_typedarray_type ta, at::ScalarType dt) {
  switch (dt) {
    case at::kFloat: return ta == napi_float32_array;
    case at::kDouble: return ta == napi_float64_array;
    case at::kLong: return ta == napi_bigint64_array;
    case at::kInt: return ta == napi_int32_array;
    case at::kShort: return ta == napi_int16_array;
    case at::kChar: return ta == napi_int8_array;
    case at::kByte:
    case at::kBool: return ta == napi_uint8_array || ta == napi_uint8_clamped_array;
    case at::kHalf:
    case at::kBFloat16: return ta == napi_uint16_array;
    default: return false;
  }
}

c10::optional<at::Generator> ArgGenerator(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || IsNullish(info[i])) return c10::nullopt;
  if (!info[i].IsExternal()) TypeError(info.Env(), "generator must be a Generator created by createGenerator()");
  return *info[i].As<Napi::External<at::Generator>>().Data();
}

// ---- data in and out ----

Napi::Value FromBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsTypedArray()) TypeError(env, "fromBuffer(data, shape, dtype): data must be a TypedArray");
  Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
  std::vector<int64_t> shape = ArgShape(info, 1);
  at::ScalarType dt = ParseDType(env, info[2]);
  if (!TypedArrayMatches(ta.TypedArrayType(), dt))
    TypeError(env, "fromBuffer: a " + DTypeName(dt) + " tensor needs a " +
                       (dt == at::kLong ? "BigInt64Array" : dt == at::kFloat ? "Float32Array" : dt == at::kDouble ? "Float64Array" : dt == at::kInt ? "Int32Array" : (dt == at::kHalf || dt == at::kBFloat16) ? "Uint16Array" : "Uint8Array") +
                       " (got another TypedArray)");
  int64_t n = Numel(shape);
  if (static_cast<int64_t>(ta.ElementLength()) != n)
    TypeError(env, "fromBuffer: data has " + std::to_string(ta.ElementLength()) + " elements but shape needs " + std::to_string(n));
  Napi::ArrayBuffer buf = ta.ArrayBuffer();
  void* ptr = static_cast<uint8_t*>(buf.Data()) + ta.ByteOffset();
  c10::optional<at::Device> dev;
  if (info.Length() > 3 && !IsNullish(info[3])) dev = ParseDevice(env, info[3]);
  // Data for a GPU (a batch) is staged in pinned (page-locked) host memory and
  // copied without blocking: only pinned memory copies asynchronously, so the
  // host prepares the next batch while this one travels. The caching host
  // allocator keeps the staging block until the copy has finished, so it is
  // released right after the copy is queued. Pinned memory belongs to the
  // current device's context: the guard makes that the target device (a
  // worker on cuda:1 creates no context on cuda:0).
  bool pinned = dev.has_value() && dev->is_cuda() && dt != at::kBool;
  c10::optional<c10::DeviceGuard> guard;
  if (pinned) guard.emplace(*dev);
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dt).pinned_memory(pinned));
  if (n > 0) std::memcpy(t.data_ptr(), ptr, static_cast<size_t>(n) * t.element_size());
  // A bool must be stored as 0 or 1; any other byte would be undefined behaviour in libtorch.
  if (dt == at::kBool) t = t.view(at::kByte).ne(0);
  if (dev) t = t.to(*dev, /*non_blocking=*/pinned);
  return Wrap(env, t);
}

// Copies a tensor's elements (on CPU, contiguous) into a new ArrayBuffer.
Napi::Value ToBuffer(const Napi::CallbackInfo& info) {
  at::Tensor t = ArgTensor(info, 0).detach().to(at::kCPU).contiguous();
  size_t nbytes = static_cast<size_t>(t.numel()) * t.element_size();
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(info.Env(), nbytes);
  if (nbytes > 0) std::memcpy(buf.Data(), t.data_ptr(), nbytes);
  return buf;
}

Napi::Value Item(const Napi::CallbackInfo& info) {
  at::Tensor& t = ArgTensor(info, 0);
  if (t.numel() != 1) TypeError(info.Env(), "item(): tensor has " + std::to_string(t.numel()) + " elements, expected exactly 1");
  return Napi::Number::New(info.Env(), t.item<double>());
}

// ---- factories ----

Napi::Value Zeros(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::zeros(ArgShape(info, 0), Options(info, 1, 2))); }
Napi::Value Ones(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::ones(ArgShape(info, 0), Options(info, 1, 2))); }
Napi::Value Empty(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::empty(ArgShape(info, 0), Options(info, 1, 2))); }
Napi::Value Full(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::full(ArgShape(info, 0), ArgDouble(info, 1, "value"), Options(info, 2, 3)));
}
Napi::Value Arange(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::arange(ArgDouble(info, 0, "start"), ArgDouble(info, 1, "end"), ArgDouble(info, 2, "step"), Options(info, 3, 4, at::kLong)));
}
Napi::Value ZerosLike(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::zeros_like(ArgTensor(info, 0))); }
Napi::Value OnesLike(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::ones_like(ArgTensor(info, 0))); }

// ---- random ----

Napi::Value CreateGenerator(const Napi::CallbackInfo& info) {
  uint64_t seed = static_cast<uint64_t>(ArgInt(info, 0, "seed"));
  auto* gen = new at::Generator(at::detail::createCPUGenerator(seed));
  return Napi::External<at::Generator>::New(info.Env(), gen, [](Napi::Env, at::Generator* g) { delete g; });
}

Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  at::manual_seed(static_cast<uint64_t>(ArgInt(info, 0, "seed")));
  return info.Env().Undefined();
}

Napi::Value Randn(const Napi::CallbackInfo& info) {
  auto g = ArgGenerator(info, 3);
  return Wrap(info.Env(), at::randn(ArgShape(info, 0), g, Options(info, 1, 2)));
}
Napi::Value Rand(const Napi::CallbackInfo& info) {
  auto g = ArgGenerator(info, 3);
  return Wrap(info.Env(), at::rand(ArgShape(info, 0), g, Options(info, 1, 2)));
}
Napi::Value Randint(const Napi::CallbackInfo& info) {
  auto g = ArgGenerator(info, 3);
  return Wrap(info.Env(), at::randint(ArgInt(info, 0, "low"), ArgInt(info, 1, "high"), ArgShape(info, 2), g, at::TensorOptions().dtype(at::kLong)));
}
Napi::Value Randperm(const Napi::CallbackInfo& info) {
  auto g = ArgGenerator(info, 1);
  return Wrap(info.Env(), at::randperm(ArgInt(info, 0, "n"), g, at::TensorOptions().dtype(at::kLong)));
}
Napi::Value Uniform_(const Napi::CallbackInfo& info) {
  at::NoGradGuard ng;
  at::Tensor& t = ArgTensor(info, 0);
  t.uniform_(ArgDouble(info, 1, "low"), ArgDouble(info, 2, "high"), ArgGenerator(info, 3));
  return info[0];
}
Napi::Value Normal_(const Napi::CallbackInfo& info) {
  at::NoGradGuard ng;
  at::Tensor& t = ArgTensor(info, 0);
  t.normal_(ArgDouble(info, 1, "mean"), ArgDouble(info, 2, "std"), ArgGenerator(info, 3));
  return info[0];
}
Napi::Value Bernoulli(const Napi::CallbackInfo& info) {
  auto g = ArgGenerator(info, 1);
  return Wrap(info.Env(), at::bernoulli(ArgTensor(info, 0), g));
}

// ---- metadata ----

Napi::Value Shape(const Napi::CallbackInfo& info) {
  at::Tensor& t = ArgTensor(info, 0);
  Napi::Array arr = Napi::Array::New(info.Env(), t.dim());
  for (int64_t k = 0; k < t.dim(); k++) arr.Set(static_cast<uint32_t>(k), Napi::Number::New(info.Env(), static_cast<double>(t.size(k))));
  return arr;
}
Napi::Value DType(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), DTypeName(ArgTensor(info, 0).scalar_type())); }
Napi::Value DeviceOf(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), ArgTensor(info, 0).device().str()); }
Napi::Value Numel(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(ArgTensor(info, 0).numel())); }
Napi::Value IsContiguous(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), ArgTensor(info, 0).is_contiguous()); }

// ---- conversion and copies ----

Napi::Value To(const Napi::CallbackInfo& info) {
  at::Tensor& t = ArgTensor(info, 0);
  at::ScalarType dt = IsNullish(info[1]) ? t.scalar_type() : ParseDType(info.Env(), info[1]);
  at::Device dev = IsNullish(info[2]) ? t.device() : ParseDevice(info.Env(), info[2]);
  return Wrap(info.Env(), t.to(dev, dt, /*non_blocking=*/false, /*copy=*/ArgBool(info, 3, false)));
}
Napi::Value SetData(const Napi::CallbackInfo& info) {
  TensorWrap* dst = TensorWrap::Unwrap(info[0]);
  if (dst == nullptr || !dst->live()) TypeError(info.Env(), "setData: the target must be a live tensor");
  at::Tensor src = ArgTensor(info, 1, "source");
  dst->SetData(src);
  return info.Env().Undefined();
}
Napi::Value Clone(const Napi::CallbackInfo& info) { return Wrap(info.Env(), ArgTensor(info, 0).clone()); }
Napi::Value Detach(const Napi::CallbackInfo& info) { return Wrap(info.Env(), ArgTensor(info, 0).detach()); }
Napi::Value Contiguous(const Napi::CallbackInfo& info) { return Wrap(info.Env(), ArgTensor(info, 0).contiguous()); }

// ---- autograd ----

Napi::Value RequiresGrad(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), ArgTensor(info, 0).requires_grad()); }
Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  at::Tensor& t = ArgTensor(info, 0);
  bool flag = ArgBool(info, 1, true);
  if (flag && !at::isFloatingType(t.scalar_type())) TypeError(info.Env(), "requiresGrad: only floating-point tensors can require gradients, this one is " + DTypeName(t.scalar_type()));
  t.set_requires_grad(flag);
  return info[0];
}
Napi::Value Backward(const Napi::CallbackInfo& info) {
  at::Tensor& t = ArgTensor(info, 0);
  if (!t.requires_grad()) TypeError(info.Env(), "backward(): the tensor does not require grad (no parameter with requiresGrad contributed to it, or it was computed under noGrad)");
  auto grad = ArgOptTensor(info, 1);
  if (!grad && t.numel() != 1) TypeError(info.Env(), "backward(): the tensor has " + std::to_string(t.numel()) + " elements; pass a gradient or reduce it to a scalar first");
  t.backward(grad ? *grad : at::Tensor(), /*retain_graph=*/ArgBool(info, 2, false));
  return info.Env().Undefined();
}
Napi::Value Grad(const Napi::CallbackInfo& info) {
  const at::Tensor& g = ArgTensor(info, 0).grad();
  if (!g.defined()) return info.Env().Null();
  return Wrap(info.Env(), g);
}
Napi::Value ClearGrad(const Napi::CallbackInfo& info) {
  at::Tensor& t = ArgTensor(info, 0);
  if (t.grad().defined()) t.mutable_grad() = at::Tensor();
  return info.Env().Undefined();
}
Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  bool prev = at::GradMode::is_enabled();
  at::GradMode::set_enabled(ArgBool(info, 0, true));
  return Napi::Boolean::New(info.Env(), prev);
}
Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled()); }

// ---- runtime ----

// at::set_num_threads sizes libtorch's own pool (OpenMP or native) but not
// OpenBLAS's, which Debian's libtorch calls for its GEMMs and which sizes its
// pthread pool once, from OPENBLAS_NUM_THREADS/OMP_NUM_THREADS or the core
// count, when it loads. Resize it too when the BLAS loaded is OpenBLAS: the
// addon's dependencies are in its own (not the global) symbol scope, so look
// the function up through a handle on the already-loaded library.
using BlasSetThreads = void (*)(int);
using BlasGetThreads = int (*)();
void* FindOpenBlasSymbol(const char* name) {
  for (const char* lib : {"libopenblas.so.0", "libblas.so.3", "libopenblas.so"}) {
    void* h = dlopen(lib, RTLD_LAZY | RTLD_NOLOAD);
    if (h == nullptr) continue;
    void* sym = dlsym(h, name);
    dlclose(h);  // RTLD_NOLOAD took a reference; the library stays loaded
    if (sym != nullptr) return sym;
  }
  return dlsym(RTLD_DEFAULT, name);
}
BlasSetThreads OpenBlasSetThreads() {
  static const auto fn = reinterpret_cast<BlasSetThreads>(FindOpenBlasSymbol("openblas_set_num_threads"));
  return fn;
}
BlasGetThreads OpenBlasGetThreads() {
  static const auto fn = reinterpret_cast<BlasGetThreads>(FindOpenBlasSymbol("openblas_get_num_threads"));
  return fn;
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  int64_t n = ArgInt(info, 0, "threads");
  if (n < 1) TypeError(info.Env(), "setNumThreads: threads must be >= 1, got " + std::to_string(n));
  at::set_num_threads(static_cast<int>(n));
  if (BlasSetThreads f = OpenBlasSetThreads()) f(static_cast<int>(n));
  return info.Env().Undefined();
}
// OpenBLAS's thread count, or null when the BLAS loaded is not OpenBLAS.
Napi::Value BlasNumThreads(const Napi::CallbackInfo& info) {
  BlasGetThreads f = OpenBlasGetThreads();
  if (f == nullptr) return info.Env().Null();
  return Napi::Number::New(info.Env(), f());
}
Napi::Value GetNumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), at::get_num_threads()); }
Napi::Value CudaAvailable(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), torch::cuda::is_available()); }
Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(torch::cuda::device_count())); }
// The CUDA runtime version libtorch was built with (e.g. 12040 for 12.4), or 0 for a libtorch without CUDA.
Napi::Value CudaRuntimeVersion(const Napi::CallbackInfo& info) {
  long v = 0;
  try {
    v = at::detail::getCUDAHooks().versionCUDART();
  } catch (const c10::Error&) {
  }
  return Napi::Number::New(info.Env(), static_cast<double>(v));
}

// ---- autocast (mixed precision) ----

// Autocast state is thread-local; every call comes from the JS thread, so a
// state set here holds for the native calls that follow until the exit.
bool AutocastDevice(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsString()) TypeError(info.Env(), "autocast: device type must be 'cpu' or 'cuda'");
  std::string d = info[i].As<Napi::String>();
  if (d == "cpu") return false;
  if (d == "cuda") return true;
  TypeError(info.Env(), "autocast: device type must be 'cpu' or 'cuda', got '" + d + "'");
}

// autocastEnter(deviceType, dtype) -> [wasEnabled, previousDtype]: turns autocast
// on for 'cpu' or 'cuda' with the given lower precision, as entering
// torch.autocast(device_type, dtype) does.
Napi::Value AutocastEnter(const Napi::CallbackInfo& info) {
  bool cuda = AutocastDevice(info, 0);
  at::ScalarType dt = ParseDType(info.Env(), info[1]);
  if (dt != at::kHalf && dt != at::kBFloat16) TypeError(info.Env(), "autocast: dtype must be float16 or bfloat16, got " + DTypeName(dt));
  bool prev = cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
  at::ScalarType prevDt = cuda ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
  if (cuda) {
    at::autocast::set_autocast_gpu_dtype(dt);
    at::autocast::set_enabled(true);
  } else {
    at::autocast::set_autocast_cpu_dtype(dt);
    at::autocast::set_cpu_enabled(true);
  }
  at::autocast::increment_nesting();
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Boolean::New(info.Env(), prev));
  out.Set(1u, Napi::String::New(info.Env(), DTypeName(prevDt)));
  return out;
}

// autocastExit(deviceType, wasEnabled, previousDtype): restores the state autocastEnter
// returned; the outermost exit frees the cache of casted weights (torch.autocast.__exit__).
Napi::Value AutocastExit(const Napi::CallbackInfo& info) {
  bool cuda = AutocastDevice(info, 0);
  bool prev = ArgBool(info, 1, false);
  at::ScalarType prevDt = ParseDType(info.Env(), info[2]);
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  if (cuda) {
    at::autocast::set_enabled(prev);
    at::autocast::set_autocast_gpu_dtype(prevDt);
  } else {
    at::autocast::set_cpu_enabled(prev);
    at::autocast::set_autocast_cpu_dtype(prevDt);
  }
  return info.Env().Undefined();
}

Napi::Value CudaSynchronize(const Napi::CallbackInfo& info) {
  if (torch::cuda::is_available()) torch::cuda::synchronize();
  return info.Env().Undefined();
}
Napi::Value LiveTensors(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(TensorWrap::LiveCount())); }
Napi::Value ReportedExternalBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(TensorWrap::ReportedBytes()));
}
Napi::Value SetDeferExternalReport(const Napi::CallbackInfo& info) {
  TensorWrap::SetDeferReport(ArgBool(info, 0, false));
  return info.Env().Undefined();
}
Napi::Value Version(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("torch", std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." + std::to_string(TORCH_VERSION_PATCH));
  o.Set("parallel", at::get_parallel_info());
  return o;
}

}  // namespace

void InitCreate(Napi::Object exports) {
  SS_EXPORT(exports, "fromBuffer", FromBuffer);
  SS_EXPORT(exports, "toBuffer", ToBuffer);
  SS_EXPORT(exports, "item", Item);
  SS_EXPORT(exports, "zeros", Zeros);
  SS_EXPORT(exports, "ones", Ones);
  SS_EXPORT(exports, "empty", Empty);
  SS_EXPORT(exports, "full", Full);
  SS_EXPORT(exports, "arange", Arange);
  SS_EXPORT(exports, "zerosLike", ZerosLike);
  SS_EXPORT(exports, "onesLike", OnesLike);
  SS_EXPORT(exports, "createGenerator", CreateGenerator);
  SS_EXPORT(exports, "manualSeed", ManualSeed);
  SS_EXPORT(exports, "randn", Randn);
  SS_EXPORT(exports, "rand", Rand);
  SS_EXPORT(exports, "randint", Randint);
  SS_EXPORT(exports, "randperm", Randperm);
  SS_EXPORT(exports, "uniform_", Uniform_);
  SS_EXPORT(exports, "normal_", Normal_);
  SS_EXPORT(exports, "bernoulli", Bernoulli);
  SS_EXPORT(exports, "shape", Shape);
  SS_EXPORT(exports, "dtype", DType);
  SS_EXPORT(exports, "device", DeviceOf);
  SS_EXPORT(exports, "numel", Numel);
  SS_EXPORT(exports, "isContiguous", IsContiguous);
  SS_EXPORT(exports, "to", To);
  SS_EXPORT(exports, "setData", SetData);
  SS_EXPORT(exports, "clone", Clone);
  SS_EXPORT(exports, "detach", Detach);
  SS_EXPORT(exports, "contiguous", Contiguous);
  SS_EXPORT(exports, "requiresGrad", RequiresGrad);
  SS_EXPORT(exports, "setRequiresGrad", SetRequiresGrad);
  SS_EXPORT(exports, "backward", Backward);
  SS_EXPORT(exports, "grad", Grad);
  SS_EXPORT(exports, "clearGrad", ClearGrad);
  SS_EXPORT(exports, "setGradEnabled", SetGradEnabled);
  SS_EXPORT(exports, "isGradEnabled", IsGradEnabled);
  SS_EXPORT(exports, "setNumThreads", SetNumThreads);
  SS_EXPORT(exports, "blasNumThreads", BlasNumThreads);
  SS_EXPORT(exports, "getNumThreads", GetNumThreads);
  SS_EXPORT(exports, "cudaAvailable", CudaAvailable);
  SS_EXPORT(exports, "cudaDeviceCount", CudaDeviceCount);
  SS_EXPORT(exports, "cudaSynchronize", CudaSynchronize);
  SS_EXPORT(exports, "cudaRuntimeVersion", CudaRuntimeVersion);
  SS_EXPORT(exports, "autocastEnter", AutocastEnter);
  SS_EXPORT(exports, "autocastExit", AutocastExit);
  SS_EXPORT(exports, "liveTensors", LiveTensors);
  SS_EXPORT(exports, "reportedExternalBytes", ReportedExternalBytes);
  SS_EXPORT(exports, "setDeferExternalReport", SetDeferExternalReport);
  SS_EXPORT(exports, "version", Version);
}

}  // namespace ss
