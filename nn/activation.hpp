// Activations: free functions on Var and the matching parameter-free modules.
//
//   Var h = nn::gelu(x);                      // exact erf form
//   Var p = nn::stablemax(logits);            // a softmax replacement that never overflows
//   auto mlp = std::make_shared<nn::Sequential>();
//   mlp->push_back(std::make_shared<nn::Linear>(4, 16, gen));
//   mlp->push_back(std::make_shared<nn::SiLU>());
//
// Every one is a composition of jetgrad's primitives (autodiff/ops/op_list.hpp), so reverse,
// reverse-over-reverse and Taylor sweeps all go through them. The math:
//   relu(x)          = max(x, 0)                    (relu'(0) = 0)
//   leaky_relu(x, a) = x if x > 0 else a·x          (derivative a at 0, as PyTorch)
//   tanh, sigmoid    = jetgrad's primitives
//   gelu(x)          = x · Φ(x) = ½ x (1 + erf(x / √2))          (exact, not the tanh approximation)
//   silu(x)          = x · sigmoid(x)                (a.k.a. swish)
//   softmax(x)_i     = exp(x_i - logsumexp(x))       along `axis`
//   stablemax(x)_i   = s(x_i) / Σ_j s(x_j),  s(x) = x + 1 for x >= 0, 1 / (1 - x) for x < 0
//                      (Prieto et al., "Grokking at the Edge of Numerical Stability", 2025).
//                      s is C¹ (s(0) = 1, s'(0) = 1); s''(0) is taken from the right (0).
#pragma once

#include <string>

#include "nn/module.hpp"

namespace jetgrad::nn {

// Already jetgrad operations; re-exported so nn::relu etc. name the same functions.
using jetgrad::log_softmax;
using jetgrad::relu;
using jetgrad::sigmoid;
using jetgrad::softmax;
using jetgrad::tanh;

Var leaky_relu(const Var& x, double negative_slope = 0.01);
Var gelu(const Var& x);
Var silu(const Var& x);
// s(x) of StableMax, elementwise.
Var stablemax_s(const Var& x);
Var stablemax(const Var& x, int axis = -1);
// log(stablemax(x)), the "log_stablemax" the paper pairs with a cross-entropy (feed it to nll_loss).
Var log_stablemax(const Var& x, int axis = -1);

class ReLU : public Module {
 public:
  Var forward(const Var& x) override { return relu(x); }
  std::string describe() const override { return "ReLU"; }
};

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : slope_(negative_slope) {}
  Var forward(const Var& x) override { return leaky_relu(x, slope_); }
  std::string describe() const override;
  double negative_slope() const { return slope_; }

 private:
  double slope_;
};

class Tanh : public Module {
 public:
  Var forward(const Var& x) override { return tanh(x); }
  std::string describe() const override { return "Tanh"; }
};

class Sigmoid : public Module {
 public:
  Var forward(const Var& x) override { return sigmoid(x); }
  std::string describe() const override { return "Sigmoid"; }
};

class GELU : public Module {
 public:
  Var forward(const Var& x) override { return gelu(x); }
  std::string describe() const override { return "GELU"; }
};

class SiLU : public Module {
 public:
  Var forward(const Var& x) override { return silu(x); }
  std::string describe() const override { return "SiLU"; }
};

class Softmax : public Module {
 public:
  explicit Softmax(int axis = -1) : axis_(axis) {}
  Var forward(const Var& x) override { return softmax(x, axis_); }
  std::string describe() const override { return "Softmax(axis=" + std::to_string(axis_) + ")"; }

 private:
  int axis_;
};

class StableMax : public Module {
 public:
  explicit StableMax(int axis = -1) : axis_(axis) {}
  Var forward(const Var& x) override { return stablemax(x, axis_); }
  std::string describe() const override { return "StableMax(axis=" + std::to_string(axis_) + ")"; }

 private:
  int axis_;
};

}  // namespace jetgrad::nn
