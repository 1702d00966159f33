// Entry point of the sparse-soups native addon (libtorch through Node-API).
#include "tensor_wrap.h"

namespace ss {
void InitCreate(Napi::Object exports);
void InitMath(Napi::Object exports);
void InitNN(Napi::Object exports);
}  // namespace ss

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeTensor", ss::TensorWrap::Init(env));
  ss::InitCreate(exports);
  ss::InitMath(exports);
  ss::InitNN(exports);
  return exports;
}

NODE_API_MODULE(sparse_soups, Init)
