#include "nn/norm.hpp"

#include <sstream>

namespace jetgrad::nn {

namespace {

std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

void check_dtype(const std::string& layer, const Var& x, const Parameter* p) {
  if (p != nullptr && x.dtype() != p->value.dtype()) {
    throw DTypeError(layer + ": the input is " + dtype_name(x.dtype()) + ", the parameters are " +
                     dtype_name(p->value.dtype()));
  }
}

}  // namespace

// ---- LayerNorm ---------------------------------------------------------------------------------

LayerNorm::LayerNorm(const Shape& normalized_shape, const LayerNormOptions& options)
    : shape_(normalized_shape), opt_(options) {
  if (shape_.rank() == 0 || shape_.numel() == 0) {
    throw ValueError("LayerNorm: normalized_shape must have at least one axis and one element, got " +
                     shape_.str());
  }
  if (opt_.elementwise_affine) {
    weight_ = &register_parameter("weight", Tensor::ones(shape_, opt_.dtype));
    bias_ = &register_parameter("bias", Tensor::zeros(shape_, opt_.dtype));
  }
}

std::string LayerNorm::describe() const {
  std::string s = "LayerNorm(" + shape_.str() + ", eps=" + num(opt_.eps);
  if (!opt_.elementwise_affine) s += ", elementwise_affine=false";
  return s + ")";
}

Var LayerNorm::forward(const Var& x) {
  const Shape& s = x.shape();
  const int r = s.rank(), k = shape_.rank();
  bool fits = r >= k;
  for (int i = 0; fits && i < k; ++i) fits = s[r - k + i] == shape_[i];
  if (!fits) {
    std::string expected = "(...";
    for (std::size_t d : shape_) expected += ", " + std::to_string(d);
    throw ShapeError(describe() + ": expects an input of shape " + expected + "), got " + s.str());
  }
  check_dtype(describe(), x, weight_);
  Shape rows;  // the leading axes, then the normalized ones merged
  for (int i = 0; i < r - k; ++i) rows.push_back(s[i]);
  rows.push_back(shape_.numel());
  Var xr = reshape(x, rows);
  Var centered = xr - mean(xr, -1, /*keepdims=*/true);
  Var var = mean(centered * centered, -1, /*keepdims=*/true);  // biased
  Var y = reshape(centered / sqrt(var + opt_.eps), s);
  if (weight_ != nullptr) {
    Tape& tape = *x.tape();
    y = y * weight_->var(tape) + bias_->var(tape);
  }
  return y;
}

// ---- BatchNorm ---------------------------------------------------------------------------------

BatchNormBase::BatchNormBase(std::string kind, std::size_t num_features, const BatchNormOptions& options)
    : kind_(std::move(kind)), channels_(num_features), opt_(options) {
  if (channels_ == 0) throw ValueError(kind_ + ": num_features must be positive");
  if (opt_.affine) {
    weight_ = &register_parameter("weight", Tensor::ones(Shape{channels_}, opt_.dtype));
    bias_ = &register_parameter("bias", Tensor::zeros(Shape{channels_}, opt_.dtype));
  }
  if (opt_.track_running_stats) {
    running_mean_ = &register_buffer("running_mean", Tensor::zeros(Shape{channels_}, opt_.dtype));
    running_var_ = &register_buffer("running_var", Tensor::ones(Shape{channels_}, opt_.dtype));
  }
}

std::string BatchNormBase::describe() const {
  std::string s =
      kind_ + "(" + std::to_string(channels_) + ", eps=" + num(opt_.eps) + ", momentum=" + num(opt_.momentum);
  if (!opt_.affine) s += ", affine=false";
  if (!opt_.track_running_stats) s += ", track_running_stats=false";
  return s + ")";
}

Var BatchNormBase::forward(const Var& x) {
  if (!x.attached()) throw TapeError(describe() + ": the input is not attached to a tape");
  const Shape& s = x.shape();
  const Shape ncr = as_ncr(s);
  if ((weight_ != nullptr || running_mean_ != nullptr) && x.dtype() != opt_.dtype) {
    throw DTypeError(describe() + ": the input is " + dtype_name(x.dtype()) +
                     ", the layer's parameters and buffers are " + dtype_name(opt_.dtype));
  }
  const std::size_t C = channels_, n = ncr[0] * ncr[2];  // elements per channel
  const Shape per_channel{1, C, 1};
  Var x3 = reshape(x, ncr);
  Var y;
  if (training() || running_mean_ == nullptr) {
    if (n < 2) {
      throw ValueError(describe() +
                       ": training needs more than one value per channel, got an input of shape " + s.str());
    }
    // Every (n, r) group has the same size, so the mean of the per-row means is the batch mean.
    Var mu = mean(mean(x3, 2, true), 0, true);
    Var centered = x3 - mu;
    Var var = mean(mean(centered * centered, 2, true), 0, true);  // biased: used to normalize
    y = centered / sqrt(var + opt_.eps);
    if (training() && running_mean_ != nullptr) {
      // From the values, not on the tape: the buffers are state, not part of the function.
      const double m = opt_.momentum;
      const Tensor batch_mean = reshape(mu.value(), Shape{C});
      const Tensor unbiased =
          reshape(var.value(), Shape{C}) * (static_cast<double>(n) / static_cast<double>(n - 1));
      *running_mean_ = *running_mean_ * (1.0 - m) + batch_mean * m;
      *running_var_ = *running_var_ * (1.0 - m) + unbiased * m;
    }
  } else {
    const Tensor shift = reshape(*running_mean_, per_channel);
    const Tensor scale = reshape(reciprocal(sqrt(*running_var_ + opt_.eps)), per_channel);
    y = (x3 - shift) * scale;
  }
  if (weight_ != nullptr) {
    Tape& tape = *x.tape();
    y = y * reshape(weight_->var(tape), per_channel) + reshape(bias_->var(tape), per_channel);
  }
  return reshape(y, s);
}

BatchNorm1d::BatchNorm1d(std::size_t num_features, const BatchNormOptions& options)
    : BatchNormBase("BatchNorm1d", num_features, options) {}

Shape BatchNorm1d::as_ncr(const Shape& s) const {
  if ((s.rank() != 2 && s.rank() != 3) || s[1] != channels_) {
    throw ShapeError(describe() + ": expects an input of shape (N, " + std::to_string(channels_) +
                     ") or (N, " + std::to_string(channels_) + ", L), got " + s.str());
  }
  return Shape{s[0], s[1], s.rank() == 3 ? s[2] : 1};
}

BatchNorm2d::BatchNorm2d(std::size_t num_features, const BatchNormOptions& options)
    : BatchNormBase("BatchNorm2d", num_features, options) {}

Shape BatchNorm2d::as_ncr(const Shape& s) const {
  if (s.rank() != 4 || s[1] != channels_) {
    throw ShapeError(describe() + ": expects an input of shape (N, " + std::to_string(channels_) +
                     ", H, W), got " + s.str());
  }
  return Shape{s[0], s[1], s[2] * s[3]};
}

}  // namespace jetgrad::nn
