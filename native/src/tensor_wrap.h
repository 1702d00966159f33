// NativeTensor: a JS object owning one at::Tensor. Freed deterministically by
// dispose(), or by the garbage collector as a safety net; the bytes it holds
// are reported to V8 as external memory so the GC sees the pressure.
#pragma once

#include "common.h"

namespace ss {

class TensorWrap : public Napi::ObjectWrap<TensorWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Object Create(Napi::Env env, at::Tensor t);
  static TensorWrap* Unwrap(const Napi::Value& v);  // nullptr if not a NativeTensor

  explicit TensorWrap(const Napi::CallbackInfo& info);
  ~TensorWrap() override;

  bool live() const { return live_; }
  at::Tensor& tensor() { return tensor_; }

  static int64_t LiveCount();

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);
  void Release();

  at::Tensor tensor_;
  int64_t reportedBytes_ = 0;
  bool live_ = false;
  napi_env env_ = nullptr;
};

}  // namespace ss
