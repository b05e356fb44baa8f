// Linear: the affine layer y = x Wᵀ + b, weight of shape (out, in) and bias of shape (out), as in PyTorch.
//
//   Generator gen(0);
//   nn::Linear fc(784, 128, gen);                    // float32, Kaiming-uniform as PyTorch does
//   Tape tape;
//   Var y = fc(tape.constant(batch));                // batch (N, 784) -> y (N, 128)
//   fc.weight().value = nn::zero_init(fc.weight().value.shape(), DType::f32);  // any other init
//
// x may have any number of leading axes: (..., in) -> (..., out) (NumPy matmul broadcasting).
// Default initialization (PyTorch's reset_parameters): W ~ U(-1/√in, 1/√in), which is
// kaiming_uniform with gain √(2 / (1 + 5)) (leaky_relu with a = √5), and b ~ U(-1/√in, 1/√in).
// The weight is drawn before the bias, both from `gen`.
#pragma once

#include <cstddef>
#include <string>

#include "nn/module.hpp"

namespace jetgrad::nn {

class Linear : public Module {
 public:
  Linear(std::size_t in_features, std::size_t out_features, Generator& gen, bool bias = true,
         DType dtype = DType::f32);

  Var forward(const Var& x) override;
  std::string describe() const override;

  Parameter& weight() { return *weight_; }
  Parameter* bias() { return bias_; }  // nullptr without a bias
  std::size_t in_features() const { return in_; }
  std::size_t out_features() const { return out_; }

 private:
  std::size_t in_, out_;
  Parameter* weight_ = nullptr;
  Parameter* bias_ = nullptr;
};

// Throws unless `x` is on a tape and has dtype `dtype`; `layer` names the caller in the message.
// Returns x's tape (where the layer's parameters are bound).
Tape& layer_tape(const Var& x, DType dtype, const std::string& layer);

}  // namespace jetgrad::nn
