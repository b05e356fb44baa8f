#include "nn/linear.hpp"

#include <cmath>

#include "nn/init.hpp"

namespace jetgrad::nn {

Tape& layer_tape(const Var& x, DType dtype, const std::string& layer) {
  if (!x.attached())
    throw TapeError(layer +
                    ": the input is not attached to a tape (make it with Tape::constant or Tape::variable)");
  if (x.dtype() != dtype) {
    throw DTypeError(layer + ": the input is " + dtype_name(x.dtype()) + ", the layer's parameters are " +
                     dtype_name(dtype));
  }
  return *x.tape();
}

Linear::Linear(std::size_t in_features, std::size_t out_features, Generator& gen, bool bias, DType dtype)
    : in_(in_features), out_(out_features) {
  if (in_features == 0 || out_features == 0) {
    throw ValueError("Linear: expected positive sizes, got in_features = " + std::to_string(in_features) +
                     ", out_features = " + std::to_string(out_features));
  }
  // PyTorch: kaiming_uniform_(W, a = √5)  =>  bound = √(2/(1+5)) · √(3/fan_in) = 1/√fan_in.
  weight_ = &register_parameter(
      "weight", kaiming_uniform(Shape{out_, in_}, gen, std::sqrt(1.0 / 3.0), FanMode::fan_in, dtype));
  if (bias) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_));
    bias_ = &register_parameter("bias", uniform(Shape{out_}, -bound, bound, gen, dtype));
  }
}

Var Linear::forward(const Var& x) {
  Tape& tape = layer_tape(x, weight_->value.dtype(), describe());
  if (x.rank() == 0 || x.shape()[x.rank() - 1] != in_) {
    throw ShapeError(describe() + ": expected an input of shape (..., " + std::to_string(in_) + "), got " +
                     x.shape().str());
  }
  Var y = matmul(x, weight_->var(tape), {.b = true});  // x Wᵀ: BLAS reads W transposed, no copy
  if (bias_ != nullptr) y = y + bias_->var(tape);
  return y;
}

std::string Linear::describe() const {
  return "Linear(" + std::to_string(in_) + ", " + std::to_string(out_) + (bias_ ? "" : ", bias=false") + ")";
}

}  // namespace jetgrad::nn
