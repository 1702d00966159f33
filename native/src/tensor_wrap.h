// NativeTensor: a JS object owning one at::Tensor. Freed deterministically by
// dispose(), or by the garbage collector as a safety net; the bytes it holds
// are reported to V8 as external memory so the GC sees the pressure. Tensors
// created while reporting is deferred (inside a tidy scope, which frees them
// itself) are reported only if they outlive the scope (reportExternal()):
// reporting every short-lived activation made V8 run a full GC several times
// per training step.
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
  // Swaps in src's data (any device or dtype) keeping this tensor's identity
  // and autograd flags, like PyTorch's `param.data = src`; re-reports bytes.
  void SetData(const at::Tensor& src);

  static int64_t LiveCount();
  // Bytes currently reported to V8 by all wrappers.
  static int64_t ReportedBytes();
  // While true, new wrappers do not report their bytes until reportExternal().
  static void SetDeferReport(bool defer);

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);
  Napi::Value ReportExternal(const Napi::CallbackInfo& info);
  void Report();
  void Unreport();
  void Release();

  at::Tensor tensor_;
  int64_t reportedBytes_ = 0;
  bool live_ = false;
  napi_env env_ = nullptr;
};

}  // namespace ss
