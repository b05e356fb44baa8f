// Objective: a loss L(θ) on a fixed batch as a differentiable function of a model's parameters,
// with the oracles every optimizer and curvature metric is built from: L, ∇L and exact Hessian-
// vector products H v (Taylor over reverse, no finite differences).
//
//   optim::Objective obj(model->parameters(), [&](Tape& tape) {
//     return nn::cross_entropy((*model)(tape.constant(x)), y);
//   });
//   auto [loss, g] = obj.value_and_gradient();
//   ParamVector hv = obj.hvp(g);
//
// A vector in parameter space is a ParamVector: one tensor per parameter, in the same order.
#pragma once

#include <cstddef>
#include <functional>
#include <utility>
#include <vector>

#include "autodiff/autodiff.hpp"
#include "nn/module.hpp"

namespace jetgrad::optim {

using ParamList = std::vector<nn::Parameter*>;
using ParamVector = std::vector<Tensor>;
// Records the loss on `tape`; parameters join it through Parameter::var(tape) (modules do that).
using LossFn = std::function<Var(Tape&)>;

// ---- parameter-space vector arithmetic (global over all tensors) ---------------------------------
double dot(const ParamVector& a, const ParamVector& b);
double norm(const ParamVector& a);
ParamVector scaled(const ParamVector& a, double s);
ParamVector axpy(double alpha, const ParamVector& x, const ParamVector& y);  // alpha x + y
ParamVector zeros_like(const ParamVector& a);
std::size_t numel(const ParamVector& a);

class Objective {
 public:
  Objective(ParamList params, LossFn loss);

  const ParamList& params() const { return params_; }
  ParamVector values() const;                                        // a copy of θ
  void set_values(const ParamVector& theta);                         // θ ← theta
  void add_to_values(const ParamVector& delta, double scale = 1.0);  // θ ← θ + scale δ

  double value();
  std::pair<double, ParamVector> value_and_gradient();
  ParamVector gradient() { return value_and_gradient().second; }
  // H v, exact: the first Taylor coefficient of ∇L along v (one recording, one reverse sweep
  // recorded, one Taylor sweep).
  ParamVector hvp(const ParamVector& v);
  // L, g = ∇L and H u in one recording, where u = direction(g) is chosen from the gradient
  // (GAM and exact gradient regularization need H g; curvature methods pass a fixed u).
  struct ValueGradientHvp {
    double value;
    ParamVector gradient;
    ParamVector hvp;
  };
  ValueGradientHvp value_gradient_hvp(const std::function<ParamVector(const ParamVector&)>& direction);

  // Counts of oracle calls since construction (for cost accounting in benchmarks and reports).
  std::size_t forward_count() const { return forwards_; }
  std::size_t gradient_count() const { return gradients_; }
  std::size_t hvp_count() const { return hvps_; }

 private:
  // Records the loss with every parameter bound as an input (in order); returns it and the vars.
  std::pair<Var, std::vector<Var>> record(Tape& tape);
  // H u from the recorded gradient `grads` of the parameters' variables `vars`.
  ParamVector hvp_through(const Tape& tape, std::span<const Var> grads, std::span<const Var> vars,
                          const ParamVector& u) const;
  void check_like_params(const ParamVector& v, const char* what) const;

  ParamList params_;
  LossFn loss_;
  std::size_t forwards_ = 0, gradients_ = 0, hvps_ = 0;
};

}  // namespace jetgrad::optim
