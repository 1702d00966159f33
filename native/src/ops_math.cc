// Shape and view operations, elementwise math, comparisons, reductions,
// matmul and in-place updates.
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>

#include "tensor_wrap.h"

namespace ss {

namespace {

// A JS number becomes an integral Scalar when it is integral, so integer
// tensors stay integer (PyTorch's promotion rules for Python ints).
at::Scalar ToScalar(double d) {
  if (d == static_cast<double>(static_cast<int64_t>(d)) && std::abs(d) < 9.0e15) return at::Scalar(static_cast<int64_t>(d));
  return at::Scalar(d);
}

at::Scalar ArgScalar(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i < info.Length() && info[i].IsBoolean()) return at::Scalar(info[i].As<Napi::Boolean>().Value());
  return ToScalar(ArgDouble(info, i, what));
}

int64_t ArgDim(const Napi::CallbackInfo& info, size_t i, const at::Tensor& t) {
  int64_t d = ArgInt(info, i, "dim");
  int64_t n = std::max<int64_t>(t.dim(), 1);
  if (d < -n || d >= n) TypeError(info.Env(), "dim " + std::to_string(d) + " is out of range for a tensor with " + std::to_string(t.dim()) + " dimensions");
  return d;
}

// ---- shape ----

Napi::Value Reshape(const Napi::CallbackInfo& info) { return Wrap(info.Env(), ArgTensor(info, 0).reshape(ArgIntList(info, 1))); }
Napi::Value View(const Napi::CallbackInfo& info) { return Wrap(info.Env(), ArgTensor(info, 0).view(ArgIntList(info, 1))); }
Napi::Value Permute(const Napi::CallbackInfo& info) { return Wrap(info.Env(), ArgTensor(info, 0).permute(ArgIntList(info, 1, "dims"))); }
Napi::Value Expand(const Napi::CallbackInfo& info) { return Wrap(info.Env(), ArgTensor(info, 0).expand(ArgIntList(info, 1))); }
Napi::Value Transpose(const Napi::CallbackInfo& info) {
  at::Tensor& t = ArgTensor(info, 0);
  return Wrap(info.Env(), t.transpose(ArgDim(info, 1, t), ArgDim(info, 2, t)));
}
Napi::Value Flatten(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), ArgTensor(info, 0).flatten(ArgInt(info, 1, "startDim"), ArgInt(info, 2, "endDim")));
}
Napi::Value Squeeze(const Napi::CallbackInfo& info) {
  at::Tensor& t = ArgTensor(info, 0);
  if (info.Length() < 2 || IsNullish(info[1])) return Wrap(info.Env(), t.squeeze());
  return Wrap(info.Env(), t.squeeze(ArgDim(info, 1, t)));
}
Napi::Value Unsqueeze(const Napi::CallbackInfo& info) { return Wrap(info.Env(), ArgTensor(info, 0).unsqueeze(ArgInt(info, 1, "dim"))); }
Napi::Value Slice(const Napi::CallbackInfo& info) {
  at::Tensor& t = ArgTensor(info, 0);
  int64_t dim = ArgDim(info, 1, t);
  int64_t step = info.Length() > 4 && !IsNullish(info[4]) ? ArgInt(info, 4, "step") : 1;
  if (step < 1) TypeError(info.Env(), "slice: step must be >= 1");
  return Wrap(info.Env(), t.slice(dim, ArgInt(info, 2, "start"), ArgInt(info, 3, "end"), step));
}
Napi::Value Select(const Napi::CallbackInfo& info) {
  at::Tensor& t = ArgTensor(info, 0);
  int64_t dim = ArgDim(info, 1, t);
  int64_t idx = ArgInt(info, 2, "index");
  if (idx < -t.size(dim) || idx >= t.size(dim)) TypeError(info.Env(), "select: index " + std::to_string(idx) + " out of range for size " + std::to_string(t.size(dim)));
  return Wrap(info.Env(), t.select(dim, idx));
}
Napi::Value IndexSelect(const Napi::CallbackInfo& info) {
  at::Tensor& t = ArgTensor(info, 0);
  return Wrap(info.Env(), at::index_select(t, ArgDim(info, 1, t), ArgTensor(info, 2, "index")));
}
Napi::Value Gather(const Napi::CallbackInfo& info) {
  at::Tensor& t = ArgTensor(info, 0);
  return Wrap(info.Env(), at::gather(t, ArgDim(info, 1, t), ArgTensor(info, 2, "index")));
}
Napi::Value Cat(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::cat(ArgTensorList(info, 0), ArgInt(info, 1, "dim"))); }
Napi::Value Stack(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::stack(ArgTensorList(info, 0), ArgInt(info, 1, "dim"))); }
Napi::Value MaskedSelect(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::masked_select(ArgTensor(info, 0), ArgTensor(info, 1, "mask"))); }

// ---- elementwise ----

#define SS_UNARY(Name, expr)                                  \
  Napi::Value Name(const Napi::CallbackInfo& info) {          \
    at::Tensor& t = ArgTensor(info, 0);                       \
    return Wrap(info.Env(), expr);                            \
  }
SS_UNARY(Neg, at::neg(t))
SS_UNARY(Exp, at::exp(t))
SS_UNARY(Log, at::log(t))
SS_UNARY(Sqrt, at::sqrt(t))
SS_UNARY(Rsqrt, at::rsqrt(t))
SS_UNARY(Abs, at::abs(t))
SS_UNARY(Sign, at::sign(t))
SS_UNARY(Relu, at::relu(t))
SS_UNARY(Sigmoid, at::sigmoid(t))
SS_UNARY(Tanh, at::tanh(t))
SS_UNARY(Square, at::square(t))
SS_UNARY(Reciprocal, at::reciprocal(t))
SS_UNARY(Floor, at::floor(t))
SS_UNARY(Round, at::round(t))
SS_UNARY(LogicalNot, at::logical_not(t))
SS_UNARY(IsNan, at::isnan(t))
SS_UNARY(IsFinite, at::isfinite(t))
#undef SS_UNARY

// Binary ops take a tensor or a JS number as the second operand.
#define SS_BINARY(Name, fn)                                                    \
  Napi::Value Name(const Napi::CallbackInfo& info) {                           \
    at::Tensor& a = ArgTensor(info, 0);                                        \
    if (info.Length() > 1 && IsTensor(info[1])) return Wrap(info.Env(), fn(a, ArgTensor(info, 1))); \
    return Wrap(info.Env(), fn(a, ArgScalar(info, 1, "other")));               \
  }
SS_BINARY(Mul, at::mul)
SS_BINARY(Div, at::div)
SS_BINARY(Pow, at::pow)
SS_BINARY(Eq, at::eq)
SS_BINARY(Ne, at::ne)
SS_BINARY(Lt, at::lt)
SS_BINARY(Le, at::le)
SS_BINARY(Gt, at::gt)
SS_BINARY(Ge, at::ge)
SS_BINARY(Remainder, at::remainder)
#undef SS_BINARY

Napi::Value Add(const Napi::CallbackInfo& info) {
  at::Tensor& a = ArgTensor(info, 0);
  at::Scalar alpha = info.Length() > 2 && !IsNullish(info[2]) ? ArgScalar(info, 2, "alpha") : at::Scalar(1);
  if (info.Length() > 1 && IsTensor(info[1])) return Wrap(info.Env(), at::add(a, ArgTensor(info, 1), alpha));
  return Wrap(info.Env(), at::add(a, ArgScalar(info, 1, "other"), alpha));
}
Napi::Value Sub(const Napi::CallbackInfo& info) {
  at::Tensor& a = ArgTensor(info, 0);
  at::Scalar alpha = info.Length() > 2 && !IsNullish(info[2]) ? ArgScalar(info, 2, "alpha") : at::Scalar(1);
  if (info.Length() > 1 && IsTensor(info[1])) return Wrap(info.Env(), at::sub(a, ArgTensor(info, 1), alpha));
  return Wrap(info.Env(), at::sub(a, ArgScalar(info, 1, "other"), alpha));
}
Napi::Value Maximum(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::maximum(ArgTensor(info, 0), ArgTensor(info, 1))); }
Napi::Value Minimum(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::minimum(ArgTensor(info, 0), ArgTensor(info, 1))); }
Napi::Value LogicalAnd(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::logical_and(ArgTensor(info, 0), ArgTensor(info, 1))); }
Napi::Value LogicalOr(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::logical_or(ArgTensor(info, 0), ArgTensor(info, 1))); }
Napi::Value Where(const Napi::CallbackInfo& info) {
  at::Tensor& cond = ArgTensor(info, 0, "condition");
  if (cond.scalar_type() != at::kBool) TypeError(info.Env(), "where: condition must be a bool tensor, got " + DTypeName(cond.scalar_type()));
  return Wrap(info.Env(), at::where(cond, ArgTensor(info, 1), ArgTensor(info, 2)));
}
Napi::Value Clamp(const Napi::CallbackInfo& info) {
  auto lo = ArgOptDouble(info, 1);
  auto hi = ArgOptDouble(info, 2);
  c10::optional<at::Scalar> slo, shi;
  if (lo) slo = at::Scalar(*lo);
  if (hi) shi = at::Scalar(*hi);
  return Wrap(info.Env(), at::clamp(ArgTensor(info, 0), slo, shi));
}

// ---- reductions ----

Napi::Value Sum(const Napi::CallbackInfo& info) {
  at::Tensor& t = ArgTensor(info, 0);
  auto dims = ArgOptIntList(info, 1);
  if (!dims) return Wrap(info.Env(), t.sum());
  return Wrap(info.Env(), t.sum(*dims, ArgBool(info, 2, false)));
}
Napi::Value Mean(const Napi::CallbackInfo& info) {
  at::Tensor& t = ArgTensor(info, 0);
  if (!at::isFloatingType(t.scalar_type())) TypeError(info.Env(), "mean: needs a floating-point tensor, got " + DTypeName(t.scalar_type()) + " (convert with .to('float32'))");
  auto dims = ArgOptIntList(info, 1);
  if (!dims) return Wrap(info.Env(), t.mean());
  return Wrap(info.Env(), t.mean(*dims, ArgBool(info, 2, false)));
}
Napi::Value Max(const Napi::CallbackInfo& info) {
  at::Tensor& t = ArgTensor(info, 0);
  if (info.Length() < 2 || IsNullish(info[1])) return Wrap(info.Env(), t.max());
  return WrapPair(info.Env(), t.max(ArgDim(info, 1, t), ArgBool(info, 2, false)));
}
Napi::Value Min(const Napi::CallbackInfo& info) {
  at::Tensor& t = ArgTensor(info, 0);
  if (info.Length() < 2 || IsNullish(info[1])) return Wrap(info.Env(), t.min());
  return WrapPair(info.Env(), t.min(ArgDim(info, 1, t), ArgBool(info, 2, false)));
}
Napi::Value Argmax(const Napi::CallbackInfo& info) {
  at::Tensor& t = ArgTensor(info, 0);
  if (info.Length() < 2 || IsNullish(info[1])) return Wrap(info.Env(), t.argmax());
  return Wrap(info.Env(), t.argmax(ArgDim(info, 1, t), ArgBool(info, 2, false)));
}
Napi::Value Norm(const Napi::CallbackInfo& info) {
  at::Tensor& t = ArgTensor(info, 0);
  double p = info.Length() > 1 && !IsNullish(info[1]) ? ArgDouble(info, 1, "p") : 2.0;
  auto dims = ArgOptIntList(info, 2);
  if (!dims) return Wrap(info.Env(), at::norm(t, p));
  return Wrap(info.Env(), at::norm(t, p, *dims, ArgBool(info, 3, false)));
}
Napi::Value Topk(const Napi::CallbackInfo& info) {
  at::Tensor& t = ArgTensor(info, 0);
  int64_t k = ArgInt(info, 1, "k");
  int64_t dim = info.Length() > 2 && !IsNullish(info[2]) ? ArgDim(info, 2, t) : -1;
  if (k < 0 || k > (t.dim() == 0 ? 1 : t.size(dim))) TypeError(info.Env(), "topk: k=" + std::to_string(k) + " is out of range");
  return WrapPair(info.Env(), at::topk(t, k, dim, ArgBool(info, 3, true), ArgBool(info, 4, true)));
}
Napi::Value Kthvalue(const Napi::CallbackInfo& info) {
  at::Tensor& t = ArgTensor(info, 0);
  int64_t k = ArgInt(info, 1, "k");
  int64_t dim = info.Length() > 2 && !IsNullish(info[2]) ? ArgDim(info, 2, t) : -1;
  if (k < 1 || k > (t.dim() == 0 ? 1 : t.size(dim))) TypeError(info.Env(), "kthvalue: k=" + std::to_string(k) + " is out of range (1-based)");
  return WrapPair(info.Env(), at::kthvalue(t, k, dim, ArgBool(info, 3, false)));
}
Napi::Value Sort(const Napi::CallbackInfo& info) {
  at::Tensor& t = ArgTensor(info, 0);
  int64_t dim = info.Length() > 1 && !IsNullish(info[1]) ? ArgDim(info, 1, t) : -1;
  return WrapPair(info.Env(), at::sort(t, dim, ArgBool(info, 2, false)));
}
Napi::Value CountNonzero(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::count_nonzero(ArgTensor(info, 0))); }
Napi::Value Equal(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), at::equal(ArgTensor(info, 0), ArgTensor(info, 1))); }
Napi::Value Allclose(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::allclose(ArgTensor(info, 0), ArgTensor(info, 1), ArgDouble(info, 2, "rtol"), ArgDouble(info, 3, "atol")));
}

// ---- linear algebra ----

Napi::Value Matmul(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::matmul(ArgTensor(info, 0), ArgTensor(info, 1))); }

// ---- in place (always without recording autograd history) ----

Napi::Value Add_(const Napi::CallbackInfo& info) {
  at::Tensor& a = ArgTensor(info, 0);
  at::Scalar alpha = info.Length() > 2 && !IsNullish(info[2]) ? ArgScalar(info, 2, "alpha") : at::Scalar(1);
  if (info.Length() > 1 && IsTensor(info[1])) a.add_(ArgTensor(info, 1), alpha);
  else a.add_(ArgScalar(info, 1, "other"), alpha);
  return info[0];
}
Napi::Value Mul_(const Napi::CallbackInfo& info) {
  at::Tensor& a = ArgTensor(info, 0);
  if (info.Length() > 1 && IsTensor(info[1])) a.mul_(ArgTensor(info, 1));
  else a.mul_(ArgScalar(info, 1, "other"));
  return info[0];
}
Napi::Value Div_(const Napi::CallbackInfo& info) {
  at::Tensor& a = ArgTensor(info, 0);
  if (info.Length() > 1 && IsTensor(info[1])) a.div_(ArgTensor(info, 1));
  else a.div_(ArgScalar(info, 1, "other"));
  return info[0];
}
Napi::Value Copy_(const Napi::CallbackInfo& info) {
  at::Tensor& dst = ArgTensor(info, 0, "destination");
  at::Tensor& src = ArgTensor(info, 1, "source");
  if (!src.sizes().equals(dst.sizes()) && src.numel() != 1)
    TypeError(info.Env(), "copy_: source shape " + c10::str(src.sizes()) + " does not match destination shape " + c10::str(dst.sizes()));
  dst.copy_(src);
  return info[0];
}
Napi::Value Zero_(const Napi::CallbackInfo& info) {
  ArgTensor(info, 0).zero_();
  return info[0];
}
Napi::Value Fill_(const Napi::CallbackInfo& info) {
  ArgTensor(info, 0).fill_(ArgScalar(info, 1, "value"));
  return info[0];
}
Napi::Value MaskedFill_(const Napi::CallbackInfo& info) {
  ArgTensor(info, 0).masked_fill_(ArgTensor(info, 1, "mask"), ArgScalar(info, 2, "value"));
  return info[0];
}
Napi::Value Clamp_(const Napi::CallbackInfo& info) {
  auto lo = ArgOptDouble(info, 1);
  auto hi = ArgOptDouble(info, 2);
  c10::optional<at::Scalar> slo, shi;
  if (lo) slo = at::Scalar(*lo);
  if (hi) shi = at::Scalar(*hi);
  ArgTensor(info, 0).clamp_(slo, shi);
  return info[0];
}

// In-place ops on leaves that require grad must not be recorded.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value NoGrad(const Napi::CallbackInfo& info) {
  at::NoGradGuard guard;
  return F(info);
}

}  // namespace

void InitMath(Napi::Object exports) {
  SS_EXPORT(exports, "reshape", Reshape);
  SS_EXPORT(exports, "view", View);
  SS_EXPORT(exports, "permute", Permute);
  SS_EXPORT(exports, "expand", Expand);
  SS_EXPORT(exports, "transpose", Transpose);
  SS_EXPORT(exports, "flatten", Flatten);
  SS_EXPORT(exports, "squeeze", Squeeze);
  SS_EXPORT(exports, "unsqueeze", Unsqueeze);
  SS_EXPORT(exports, "slice", Slice);
  SS_EXPORT(exports, "select", Select);
  SS_EXPORT(exports, "indexSelect", IndexSelect);
  SS_EXPORT(exports, "gather", Gather);
  SS_EXPORT(exports, "cat", Cat);
  SS_EXPORT(exports, "stack", Stack);
  SS_EXPORT(exports, "maskedSelect", MaskedSelect);
  SS_EXPORT(exports, "neg", Neg);
  SS_EXPORT(exports, "exp", Exp);
  SS_EXPORT(exports, "log", Log);
  SS_EXPORT(exports, "sqrt", Sqrt);
  SS_EXPORT(exports, "rsqrt", Rsqrt);
  SS_EXPORT(exports, "abs", Abs);
  SS_EXPORT(exports, "sign", Sign);
  SS_EXPORT(exports, "relu", Relu);
  SS_EXPORT(exports, "sigmoid", Sigmoid);
  SS_EXPORT(exports, "tanh", Tanh);
  SS_EXPORT(exports, "square", Square);
  SS_EXPORT(exports, "reciprocal", Reciprocal);
  SS_EXPORT(exports, "floor", Floor);
  SS_EXPORT(exports, "round", Round);
  SS_EXPORT(exports, "logicalNot", LogicalNot);
  SS_EXPORT(exports, "isnan", IsNan);
  SS_EXPORT(exports, "isfinite", IsFinite);
  SS_EXPORT(exports, "add", Add);
  SS_EXPORT(exports, "sub", Sub);
  SS_EXPORT(exports, "mul", Mul);
  SS_EXPORT(exports, "div", Div);
  SS_EXPORT(exports, "pow", Pow);
  SS_EXPORT(exports, "remainder", Remainder);
  SS_EXPORT(exports, "eq", Eq);
  SS_EXPORT(exports, "ne", Ne);
  SS_EXPORT(exports, "lt", Lt);
  SS_EXPORT(exports, "le", Le);
  SS_EXPORT(exports, "gt", Gt);
  SS_EXPORT(exports, "ge", Ge);
  SS_EXPORT(exports, "maximum", Maximum);
  SS_EXPORT(exports, "minimum", Minimum);
  SS_EXPORT(exports, "logicalAnd", LogicalAnd);
  SS_EXPORT(exports, "logicalOr", LogicalOr);
  SS_EXPORT(exports, "where", Where);
  SS_EXPORT(exports, "clamp", Clamp);
  SS_EXPORT(exports, "sum", Sum);
  SS_EXPORT(exports, "mean", Mean);
  SS_EXPORT(exports, "max", Max);
  SS_EXPORT(exports, "min", Min);
  SS_EXPORT(exports, "argmax", Argmax);
  SS_EXPORT(exports, "norm", Norm);
  SS_EXPORT(exports, "topk", Topk);
  SS_EXPORT(exports, "kthvalue", Kthvalue);
  SS_EXPORT(exports, "sort", Sort);
  SS_EXPORT(exports, "countNonzero", CountNonzero);
  SS_EXPORT(exports, "equal", Equal);
  SS_EXPORT(exports, "allclose", Allclose);
  SS_EXPORT(exports, "matmul", Matmul);
  SS_EXPORT(exports, "add_", NoGrad<Add_>);
  SS_EXPORT(exports, "mul_", NoGrad<Mul_>);
  SS_EXPORT(exports, "div_", NoGrad<Div_>);
  SS_EXPORT(exports, "copy_", NoGrad<Copy_>);
  SS_EXPORT(exports, "zero_", NoGrad<Zero_>);
  SS_EXPORT(exports, "fill_", NoGrad<Fill_>);
  SS_EXPORT(exports, "maskedFill_", NoGrad<MaskedFill_>);
  SS_EXPORT(exports, "clamp_", NoGrad<Clamp_>);
}

}  // namespace ss
