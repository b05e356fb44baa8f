// Optimizers over a list of parameters.
//
//   optim::SGD sgd(model->parameters(), {.lr = 0.1, .momentum = 0.9});
//   for (auto [x, y] : loader) {
//     optim::Objective batch(model->parameters(), [&](Tape& t) { return loss(t, x, y); });
//     sgd.step(batch);            // the objective recomputes the loss and its gradient
//   }
//
// Every optimizer is a base optimizer or wraps one: a base optimizer turns a direction d (the
// gradient, or what a flatness-seeking wrapper computed instead) into an update with its own state
// (momentum, moments); wrappers (optim/flat.hpp) only compute d. State is saved and restored with
// checkpoints as named tensors.
#pragma once

#include <memory>
#include <string>

#include "nn/serialize.hpp"
#include "optim/objective.hpp"

namespace jetgrad::optim {

class Optimizer {
 public:
  explicit Optimizer(ParamList params);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  const ParamList& params() const { return params_; }
  virtual std::string name() const = 0;

  // One step on `objective` (which must be over this optimizer's parameters); returns the loss at
  // the parameters before the step.
  virtual double step(Objective& objective);
  // One step from the gradients stored in the parameters (Parameter::grad), PyTorch style.
  void step_from_grads();
  // Applies direction d as the gradient: the base optimizer's update rule.
  virtual void apply(const ParamVector& direction) = 0;
  void zero_grad();

  virtual double learning_rate() const = 0;
  virtual void set_learning_rate(double lr) = 0;
  std::size_t steps() const { return steps_; }

  // State for checkpoints: every per-parameter buffer and the step count, as named tensors.
  virtual nn::NamedTensors state() const;
  virtual void load_state(const nn::NamedTensors& state);

 protected:
  void check_direction(const ParamVector& d) const;
  // Throws unless `objective` is over exactly this optimizer's parameters, in the same order.
  void check_objective(const Objective& objective) const;
  // Per-parameter buffers registered by name (e.g. "momentum"), lazily zero-initialized.
  Tensor& buffer(const std::string& name, std::size_t param_index);
  ParamList params_;
  std::size_t steps_ = 0;

 private:
  std::vector<std::pair<std::string, std::vector<Tensor>>> buffers_;
};

// An optimizer that computes a direction d at the current parameters (leaving them as they were)
// and hands it to a base optimizer as if it were the gradient: the flatness-seeking methods
// (optim/flat.hpp) and zeroth-order estimates (optim/zeroth_order.hpp). Owns the base optimizer;
// the learning rate, state and step count are the base's.
class WrappedOptimizer : public Optimizer {
 public:
  explicit WrappedOptimizer(std::unique_ptr<Optimizer> base);
  // d = direction(objective), then the base optimizer's update with d.
  double step(Objective& objective) final;
  // The direction at the objective's current parameters; *loss (if given) receives L(θ).
  virtual ParamVector direction(Objective& objective, double* loss = nullptr) = 0;

  void apply(const ParamVector& direction) override { base_->apply(direction); }
  double learning_rate() const override { return base_->learning_rate(); }
  void set_learning_rate(double lr) override { base_->set_learning_rate(lr); }
  nn::NamedTensors state() const override { return base_->state(); }
  void load_state(const nn::NamedTensors& state) override {
    base_->load_state(state);
    steps_ = base_->steps();
  }
  Optimizer& base() { return *base_; }

 protected:
  std::unique_ptr<Optimizer> base_;
};

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;  // coupled (added to the gradient), as PyTorch's SGD
  bool nesterov = false;
};

// PyTorch's SGD: d ← d + wd θ;  b ← μ b + (1 − τ) d (b = d at the first step);
// d ← d + μ b (Nesterov) or b;  θ ← θ − lr d.
class SGD : public Optimizer {
 public:
  SGD(ParamList params, SGDOptions options);
  std::string name() const override { return "sgd"; }
  void apply(const ParamVector& direction) override;
  double learning_rate() const override { return options_.lr; }
  void set_learning_rate(double lr) override { options_.lr = lr; }

 private:
  SGDOptions options_;
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled_weight_decay = false;  // true: AdamW
};

// Adam (coupled weight decay) and AdamW (decoupled: θ ← θ (1 − lr wd) before the Adam update).
//   m ← β1 m + (1 − β1) d;  v ← β2 v + (1 − β2) d²;  θ ← θ − lr m̂ / (√v̂ + ε)
class Adam : public Optimizer {
 public:
  Adam(ParamList params, AdamOptions options);
  std::string name() const override { return options_.decoupled_weight_decay ? "adamw" : "adam"; }
  void apply(const ParamVector& direction) override;
  double learning_rate() const override { return options_.lr; }
  void set_learning_rate(double lr) override { options_.lr = lr; }

 private:
  AdamOptions options_;
};
inline std::unique_ptr<Adam> make_adamw(ParamList params, AdamOptions options) {
  options.decoupled_weight_decay = true;
  return std::make_unique<Adam>(std::move(params), options);
}

struct SignOptions {
  double lr = 1e-3;
  double momentum = 0.0;  // > 0: signum (the sign of the momentum buffer)
};

// Sign descent: θ ← θ − lr sign(b), b the (optional) momentum of d.
class SignDescent : public Optimizer {
 public:
  SignDescent(ParamList params, SignOptions options);
  std::string name() const override { return "sign"; }
  void apply(const ParamVector& direction) override;
  double learning_rate() const override { return options_.lr; }
  void set_learning_rate(double lr) override { options_.lr = lr; }

 private:
  SignOptions options_;
};

struct OrthogonalOptions {
  double lr = 0.02;
  double momentum = 0.95;
  bool nesterov = true;
  int newton_schulz_steps = 12;  // cubic iterations toward the polar factor
};

// Steepest descent under the spectral norm ("Old Optimizer, New Norm", Bernstein & Newhouse):
// for a matrix parameter the update is the orthogonal polar factor U Vᵀ of the momentum
// M = U Σ Vᵀ, computed by the cubic Newton–Schulz iteration X ← 1.5 X − 0.5 X XᵀX from
// X₀ = M / ‖M‖_F, scaled by √max(1, rows/cols). Parameters that are not matrices get SGD with
// momentum.
class OrthogonalizedMomentum : public Optimizer {
 public:
  OrthogonalizedMomentum(ParamList params, OrthogonalOptions options);
  std::string name() const override { return "orthogonal"; }
  void apply(const ParamVector& direction) override;
  double learning_rate() const override { return options_.lr; }
  void set_learning_rate(double lr) override { options_.lr = lr; }

 private:
  OrthogonalOptions options_;
};

// The orthogonal polar factor of a matrix (rows × cols, any dtype), by Newton–Schulz.
Tensor orthogonalize(const Tensor& m, int steps);

}  // namespace jetgrad::optim
