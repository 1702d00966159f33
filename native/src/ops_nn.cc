// Neural-network functionals (the building blocks of nn/ modules), losses and
// the fused SGD step used by optim/.
#include <ATen/core/Reduction.h>
#include <ATen/core/grad_mode.h>

#include "max_pool.h"
#include "small_conv.h"
#include "tensor_wrap.h"

namespace ss {

namespace {

std::vector<int64_t> ArgPair(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i < info.Length() && info[i].IsNumber()) {
    int64_t v = ArgInt(info, i, what);
    return {v, v};
  }
  std::vector<int64_t> v = ArgIntList(info, i, what);
  if (v.size() == 1) v.push_back(v[0]);
  if (v.size() != 2) TypeError(info.Env(), std::string(what) + " must be an integer or a pair of integers");
  return v;
}

void ExpectDims(const Napi::CallbackInfo& info, const at::Tensor& t, int64_t lo, int64_t hi, const char* op) {
  if (t.dim() < lo || t.dim() > hi)
    TypeError(info.Env(), std::string(op) + ": input must have " + (lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi)) +
                              " dimensions, got shape " + c10::str(t.sizes()));
}

int64_t ParseReduction(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || IsNullish(info[i])) return at::Reduction::Mean;
  std::string r = info[i].As<Napi::String>();
  if (r == "mean") return at::Reduction::Mean;
  if (r == "sum") return at::Reduction::Sum;
  if (r == "none") return at::Reduction::None;
  TypeError(info.Env(), "reduction must be 'mean', 'sum' or 'none', got '" + r + "'");
}

Napi::Value Linear(const Napi::CallbackInfo& info) {
  at::Tensor& x = ArgTensor(info, 0, "input");
  at::Tensor& w = ArgTensor(info, 1, "weight");
  if (w.dim() != 2) TypeError(info.Env(), "linear: weight must be 2-D [out, in], got " + c10::str(w.sizes()));
  if (x.dim() < 1 || x.size(-1) != w.size(1))
    TypeError(info.Env(), "linear: input has " + std::to_string(x.dim() ? x.size(-1) : 0) + " features, weight expects " + std::to_string(w.size(1)));
  return Wrap(info.Env(), at::linear(x, w, ArgOptTensor(info, 2)));
}

// conv2d(input, weight, bias?, stride, padding, dilation, groups)
Napi::Value Conv2d(const Napi::CallbackInfo& info) {
  at::Tensor& x = ArgTensor(info, 0, "input");
  at::Tensor& w = ArgTensor(info, 1, "weight");
  ExpectDims(info, x, 3, 4, "conv2d");
  if (w.dim() != 4) TypeError(info.Env(), "conv2d: weight must be 4-D [out, in/groups, kh, kw], got " + c10::str(w.sizes()));
  int64_t groups = info.Length() > 6 && !IsNullish(info[6]) ? ArgInt(info, 6, "groups") : 1;
  int64_t cin = x.size(x.dim() - 3);
  if (cin != w.size(1) * groups)
    TypeError(info.Env(), "conv2d: input has " + std::to_string(cin) + " channels, weight " + c10::str(w.sizes()) + " with groups=" + std::to_string(groups) + " expects " + std::to_string(w.size(1) * groups));
  return Wrap(info.Env(), Conv2dOrLibtorch(x, w, ArgOptTensor(info, 2), ArgPair(info, 3, "stride"), ArgPair(info, 4, "padding"), ArgPair(info, 5, "dilation"), groups));
}

// conv2dLibtorch(...): the same through at::conv2d always (tests and benchmarks compare with it).
Napi::Value Conv2dLibtorch(const Napi::CallbackInfo& info) {
  at::Tensor& x = ArgTensor(info, 0, "input");
  at::Tensor& w = ArgTensor(info, 1, "weight");
  ExpectDims(info, x, 3, 4, "conv2d");
  int64_t groups = info.Length() > 6 && !IsNullish(info[6]) ? ArgInt(info, 6, "groups") : 1;
  return Wrap(info.Env(), at::conv2d(x, w, ArgOptTensor(info, 2), ArgPair(info, 3, "stride"), ArgPair(info, 4, "padding"), ArgPair(info, 5, "dilation"), groups));
}

// batchNorm(input, weight?, bias?, runningMean?, runningVar?, training, momentum, eps)
Napi::Value BatchNorm(const Napi::CallbackInfo& info) {
  at::Tensor& x = ArgTensor(info, 0, "input");
  ExpectDims(info, x, 2, 5, "batchNorm");
  auto rm = ArgOptTensor(info, 3);
  auto rv = ArgOptTensor(info, 4);
  bool training = ArgBool(info, 5, true);
  if (!training && (!rm || !rv)) TypeError(info.Env(), "batchNorm: evaluation mode needs running mean and variance");
  int64_t c = x.size(1);
  for (const auto& [t, name] : {std::pair{ArgOptTensor(info, 1), "weight"}, std::pair{ArgOptTensor(info, 2), "bias"}, std::pair{rm, "runningMean"}, std::pair{rv, "runningVar"}}) {
    if (t && (t->dim() != 1 || t->size(0) != c))
      TypeError(info.Env(), std::string("batchNorm: ") + name + " must have shape [" + std::to_string(c) + "], got " + c10::str(t->sizes()));
  }
  if (training && x.numel() / c <= 1) TypeError(info.Env(), "batchNorm: training needs more than one value per channel, got input shape " + c10::str(x.sizes()));
  return Wrap(info.Env(), at::batch_norm(x, ArgOptTensor(info, 1), ArgOptTensor(info, 2), rm, rv, training, ArgDouble(info, 6, "momentum"), ArgDouble(info, 7, "eps"), /*cudnn_enabled=*/true));
}

// maxPool2d(input, kernel, stride, padding, dilation, ceilMode): non-overlapping
// windows of float32 NCHW CPU input by max_pool.cc's kernel, the rest by libtorch.
Napi::Value MaxPool2d(const Napi::CallbackInfo& info) {
  at::Tensor& x = ArgTensor(info, 0, "input");
  ExpectDims(info, x, 3, 4, "maxPool2d");
  auto k = ArgPair(info, 1, "kernel"), s = ArgPair(info, 2, "stride"), p = ArgPair(info, 3, "padding"), d = ArgPair(info, 4, "dilation");
  return Wrap(info.Env(), MaxPool2dOrLibtorch(x, k, s, p, d, ArgBool(info, 5, false)));
}

// maxPool2dLibtorch(...): the same through at::max_pool2d always (tests and benchmarks compare with it).
Napi::Value MaxPool2dLibtorch(const Napi::CallbackInfo& info) {
  at::Tensor& x = ArgTensor(info, 0, "input");
  ExpectDims(info, x, 3, 4, "maxPool2d");
  return Wrap(info.Env(), at::max_pool2d(x, ArgPair(info, 1, "kernel"), ArgPair(info, 2, "stride"), ArgPair(info, 3, "padding"), ArgPair(info, 4, "dilation"), ArgBool(info, 5, false)));
}

// avgPool2d(input, kernel, stride, padding, ceilMode, countIncludePad)
Napi::Value AvgPool2d(const Napi::CallbackInfo& info) {
  at::Tensor& x = ArgTensor(info, 0, "input");
  ExpectDims(info, x, 3, 4, "avgPool2d");
  return Wrap(info.Env(), at::avg_pool2d(x, ArgPair(info, 1, "kernel"), ArgPair(info, 2, "stride"), ArgPair(info, 3, "padding"), ArgBool(info, 4, false), ArgBool(info, 5, true)));
}

Napi::Value AdaptiveAvgPool2d(const Napi::CallbackInfo& info) {
  at::Tensor& x = ArgTensor(info, 0, "input");
  ExpectDims(info, x, 3, 4, "adaptiveAvgPool2d");
  return Wrap(info.Env(), at::adaptive_avg_pool2d(x, ArgPair(info, 1, "outputSize")));
}

Napi::Value LogSoftmax(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::log_softmax(ArgTensor(info, 0), ArgInt(info, 1, "dim"))); }
Napi::Value Softmax(const Napi::CallbackInfo& info) { return Wrap(info.Env(), at::softmax(ArgTensor(info, 0), ArgInt(info, 1, "dim"))); }

void CheckTargets(const Napi::CallbackInfo& info, const at::Tensor& logits, const at::Tensor& target, const char* op) {
  if (target.scalar_type() != at::kLong) TypeError(info.Env(), std::string(op) + ": target must be an int64 tensor of class indices, got " + DTypeName(target.scalar_type()));
  if (logits.dim() != 2 || target.dim() != 1 || target.size(0) != logits.size(0))
    TypeError(info.Env(), std::string(op) + ": expected logits [N, C] and target [N], got " + c10::str(logits.sizes()) + " and " + c10::str(target.sizes()));
  if (target.numel() > 0) {
    int64_t lo = target.min().item<int64_t>();
    int64_t hi = target.max().item<int64_t>();
    if (lo < 0 || hi >= logits.size(1))
      TypeError(info.Env(), std::string(op) + ": target values must be in [0, " + std::to_string(logits.size(1) - 1) + "], got range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
}

// crossEntropy(logits [N,C], target [N] int64, labelSmoothing, reduction)
Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  at::Tensor& logits = ArgTensor(info, 0, "logits");
  at::Tensor& target = ArgTensor(info, 1, "target");
  CheckTargets(info, logits, target, "crossEntropy");
  double smoothing = info.Length() > 2 && !IsNullish(info[2]) ? ArgDouble(info, 2, "labelSmoothing") : 0.0;
  if (smoothing < 0 || smoothing > 1) TypeError(info.Env(), "crossEntropy: labelSmoothing must be in [0, 1]");
  return Wrap(info.Env(), at::cross_entropy_loss(logits, target, c10::nullopt, ParseReduction(info, 3), -100, smoothing));
}

Napi::Value NllLoss(const Napi::CallbackInfo& info) {
  at::Tensor& logp = ArgTensor(info, 0, "logProbs");
  at::Tensor& target = ArgTensor(info, 1, "target");
  CheckTargets(info, logp, target, "nllLoss");
  return Wrap(info.Env(), at::nll_loss(logp, target, c10::nullopt, ParseReduction(info, 2), -100));
}

Napi::Value MseLoss(const Napi::CallbackInfo& info) {
  return Wrap(info.Env(), at::mse_loss(ArgTensor(info, 0), ArgTensor(info, 1), ParseReduction(info, 2)));
}

Napi::Value Dropout(const Napi::CallbackInfo& info) {
  double p = ArgDouble(info, 1, "p");
  if (p < 0 || p > 1) TypeError(info.Env(), "dropout: p must be in [0, 1], got " + std::to_string(p));
  return Wrap(info.Env(), at::dropout(ArgTensor(info, 0), p, ArgBool(info, 2, true)));
}

// sgdStep(params[], momentumBuffers[] (null entries are created), lr, momentum,
// dampening, weightDecay, nesterov, masks[] | null) -> momentumBuffers[]
//
// PyTorch's torch.optim.SGD update, per parameter p with gradient g:
//   g = g + wd * p
//   b = g (first step) or momentum * b + (1 - dampening) * g
//   g = g + momentum * b (Nesterov) or b
//   p = p - lr * g
// then, when a mask is given, p *= mask and b *= mask so pruned weights and
// their momentum stay exactly zero.
Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<at::Tensor> params = ArgTensorList(info, 0);
  if (!info[1].IsArray()) TypeError(env, "sgdStep: momentumBuffers must be an array");
  Napi::Array bufsIn = info[1].As<Napi::Array>();
  if (bufsIn.Length() != params.size()) TypeError(env, "sgdStep: momentumBuffers must have one entry per parameter");
  double lr = ArgDouble(info, 2, "lr");
  double momentum = ArgDouble(info, 3, "momentum");
  double dampening = ArgDouble(info, 4, "dampening");
  double wd = ArgDouble(info, 5, "weightDecay");
  bool nesterov = ArgBool(info, 6, false);
  Napi::Array masksIn;
  bool haveMasks = info.Length() > 7 && info[7].IsArray();
  if (haveMasks) {
    masksIn = info[7].As<Napi::Array>();
    if (masksIn.Length() != params.size()) TypeError(env, "sgdStep: masks must have one entry (tensor or null) per parameter");
  }
  at::NoGradGuard guard;
  Napi::Array out = Napi::Array::New(env, params.size());
  for (size_t k = 0; k < params.size(); k++) {
    at::Tensor& p = params[k];
    Napi::Value bufVal = bufsIn.Get(static_cast<uint32_t>(k));
    c10::optional<at::Tensor> mask;
    if (haveMasks) {
      Napi::Value mv = masksIn.Get(static_cast<uint32_t>(k));
      if (!IsNullish(mv)) {
        TensorWrap* mw = TensorWrap::Unwrap(mv);
        if (mw == nullptr || !mw->live()) TypeError(env, "sgdStep: masks[" + std::to_string(k) + "] is not a live tensor");
        if (!mw->tensor().sizes().equals(p.sizes())) TypeError(env, "sgdStep: masks[" + std::to_string(k) + "] has shape " + c10::str(mw->tensor().sizes()) + ", parameter has " + c10::str(p.sizes()));
        mask = mw->tensor();
      }
    }
    const at::Tensor& grad = p.grad();
    if (!grad.defined()) {
      out.Set(static_cast<uint32_t>(k), bufVal);
      continue;
    }
    at::Tensor d = wd != 0 ? grad.add(p, wd) : grad;
    at::Tensor buf;
    bool newBuf = false;
    if (momentum != 0) {
      TensorWrap* bw = IsNullish(bufVal) ? nullptr : TensorWrap::Unwrap(bufVal);
      if (bw == nullptr || !bw->live()) {
        buf = d.clone();
        newBuf = true;
      } else {
        buf = bw->tensor();
        buf.mul_(momentum).add_(d, 1 - dampening);
      }
      d = nesterov ? d.add(buf, momentum) : buf;
    }
    p.add_(d, -lr);
    if (mask) {
      p.mul_(*mask);
      if (buf.defined()) buf.mul_(*mask);
    }
    if (newBuf) out.Set(static_cast<uint32_t>(k), Wrap(env, buf));
    else out.Set(static_cast<uint32_t>(k), bufVal);
  }
  return out;
}

}  // namespace

void InitNN(Napi::Object exports) {
  SS_EXPORT(exports, "linear", Linear);
  SS_EXPORT(exports, "conv2d", Conv2d);
  SS_EXPORT(exports, "conv2dLibtorch", Conv2dLibtorch);
  SS_EXPORT(exports, "batchNorm", BatchNorm);
  SS_EXPORT(exports, "maxPool2d", MaxPool2d);
  SS_EXPORT(exports, "maxPool2dLibtorch", MaxPool2dLibtorch);
  SS_EXPORT(exports, "avgPool2d", AvgPool2d);
  SS_EXPORT(exports, "adaptiveAvgPool2d", AdaptiveAvgPool2d);
  SS_EXPORT(exports, "logSoftmax", LogSoftmax);
  SS_EXPORT(exports, "softmax", Softmax);
  SS_EXPORT(exports, "crossEntropy", CrossEntropy);
  SS_EXPORT(exports, "nllLoss", NllLoss);
  SS_EXPORT(exports, "mseLoss", MseLoss);
  SS_EXPORT(exports, "dropout", Dropout);
  SS_EXPORT(exports, "sgdStep", SgdStep);
}

}  // namespace ss
