// Shared helpers for the sparse-soups addon: argument conversion, error
// translation, and the registration macro. Every binding validates its
// arguments here so user input never reaches libtorch unchecked.
#pragma once

#include <napi.h>
#include <ATen/ATen.h>

#include <c10/util/Optional.h>
#include <string>
#include <vector>

namespace ss {

// Wrap a binding so libtorch (c10::Error) and std exceptions become JS errors
// with libtorch's message (without its C++ backtrace).
// The JS error class (TensorError) that libtorch failures are raised as; set
// by the TypeScript side through setErrorClass(). Plain Error until then.
Napi::Error MakeTensorError(Napi::Env env, const std::string& msg);

template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value Guarded(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    throw MakeTensorError(info.Env(), "libtorch: " + msg);
  } catch (const std::exception& e) {
    throw MakeTensorError(info.Env(), std::string("native: ") + e.what());
  }
}

#define SS_EXPORT(exports, name, fn) \
  (exports).Set(name, Napi::Function::New((exports).Env(), ::ss::Guarded<fn>, name))

[[noreturn]] inline void TypeError(Napi::Env env, const std::string& msg) {
  throw Napi::TypeError::New(env, msg);
}

at::ScalarType ParseDType(Napi::Env env, const Napi::Value& v);
std::string DTypeName(at::ScalarType t);
at::Device ParseDevice(Napi::Env env, const Napi::Value& v);

// The tensor behind a JS NativeTensor object; throws a TypeError naming the
// argument if it is not a live tensor.
at::Tensor& ArgTensor(const Napi::CallbackInfo& info, size_t i, const char* what = "tensor");
c10::optional<at::Tensor> ArgOptTensor(const Napi::CallbackInfo& info, size_t i);
std::vector<at::Tensor> ArgTensorList(const Napi::CallbackInfo& info, size_t i);
std::vector<int64_t> ArgIntList(const Napi::CallbackInfo& info, size_t i, const char* what = "shape");
c10::optional<std::vector<int64_t>> ArgOptIntList(const Napi::CallbackInfo& info, size_t i);
int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* what = "integer");
double ArgDouble(const Napi::CallbackInfo& info, size_t i, const char* what = "number");
c10::optional<double> ArgOptDouble(const Napi::CallbackInfo& info, size_t i);
bool ArgBool(const Napi::CallbackInfo& info, size_t i, bool dflt);
bool IsTensor(const Napi::Value& v);
bool IsNullish(const Napi::Value& v);
Napi::Value SetErrorClass(const Napi::CallbackInfo& info);

// Wraps a tensor into a new JS NativeTensor object.
Napi::Value Wrap(Napi::Env env, at::Tensor t);
Napi::Value WrapPair(Napi::Env env, const std::tuple<at::Tensor, at::Tensor>& p);
Napi::Value WrapList(Napi::Env env, const std::vector<at::Tensor>& ts);

}  // namespace ss
