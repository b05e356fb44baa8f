// Zeroth-order gradient estimators: ĝ from loss values L(θ) only (Objective::value, no backward
// pass), and the optimizers that use them.
//
//   optim::ZerothOrder zo(std::make_unique<optim::Adam>(params, optim::AdamOptions{.lr = 1e-3}),
//                         std::make_unique<optim::RandomGradientEstimator>(
//                             optim::RGEOptions{.mu = 1e-3, .directions = 8}, gen.split()));
//   zo.step(objective);                        // the estimate goes to Adam as if it were ∇L
//
//   optim::MeZO mezo(params, {.lr = 1e-6, .eps = 1e-3}, gen.split());   // in place, z never stored
//   mezo.step(objective);
//
// Every random draw comes from the jetgrad::Generator the estimator owns (pass gen.split() to keep
// the caller's stream independent). docs/optimizers.md has the math.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "optim/optimizer.hpp"

namespace jetgrad::optim {

// An estimator of ∇L at the objective's current parameters; the parameters are put back exactly
// (bitwise) afterwards. If `loss` is given it receives L(θ) when the estimator evaluated it, or the
// mean of its two central evaluations L(θ ± μu) otherwise (an O(μ²) approximation).
class GradientEstimator {
 public:
  virtual ~GradientEstimator() = default;
  virtual std::string name() const = 0;
  virtual ParamVector estimate(Objective& objective, double* loss = nullptr) = 0;
};

struct RGEOptions {
  enum class Distribution {
    gaussian,  // u ~ N(0, I):         ĝ = (1/q) Σ δ_k u_k
    sphere,    // u ~ Unif(S^{d−1}):   ĝ = (d/q) Σ δ_k u_k   (d = number of scalars)
  };
  enum class Difference {
    forward,  // δ_k = (L(θ + μu_k) − L(θ)) / μ          q + 1 evaluations
    central,  // δ_k = (L(θ + μu_k) − L(θ − μu_k)) / 2μ  2q evaluations
  };
  Distribution distribution = Distribution::gaussian;
  Difference difference = Difference::forward;
  double mu = 5e-3;            // smoothing radius (DeepZero's default)
  std::size_t directions = 1;  // q
};

// Two-point random-direction estimator (RGE). Directions are drawn tensor by tensor in parameter
// order, each with normal(shape, 0, 1, gen, dtype of the parameter); sphere directions are that
// Gaussian draw divided by its global norm.
class RandomGradientEstimator : public GradientEstimator {
 public:
  RandomGradientEstimator(RGEOptions options, Generator gen);
  std::string name() const override;
  ParamVector estimate(Objective& objective, double* loss = nullptr) override;
  Generator& generator() { return gen_; }

 private:
  RGEOptions options_;
  Generator gen_;
};

struct CGEOptions {
  double mu = 5e-3;  // DeepZero's default
};

// Coordinate-wise estimator (CGE, DeepZero): ĝ_i = (L(θ + μe_i) − L(θ)) / μ, d + 1 evaluations,
// deterministic. Each coordinate is moved and put back in place (its saved value is restored).
class CoordinateGradientEstimator : public GradientEstimator {
 public:
  explicit CoordinateGradientEstimator(CGEOptions options);
  std::string name() const override { return "cge"; }
  ParamVector estimate(Objective& objective, double* loss = nullptr) override;

 private:
  CGEOptions options_;
};

// Any optimizer driven by a zeroth-order estimate: step = estimator, then base.apply(ĝ).
class ZerothOrder : public WrappedOptimizer {
 public:
  ZerothOrder(std::unique_ptr<Optimizer> base, std::unique_ptr<GradientEstimator> estimator);
  std::string name() const override { return "zo_" + estimator_->name() + "_" + base_->name(); }
  ParamVector direction(Objective& objective, double* loss = nullptr) override;
  GradientEstimator& estimator() { return *estimator_; }

 private:
  std::unique_ptr<GradientEstimator> estimator_;
};

struct MeZOOptions {
  double lr = 1e-6;
  double eps = 1e-3;          // zo_eps
  double weight_decay = 0.0;  // λ, skipped for parameters whose name contains "bias" or "norm"
};

// MeZO (Malladi et al., NeurIPS 2023), memory of inference: per step a seed s is drawn from the
// generator; z is regenerated from s, tensor by tensor (normal(shape, 0, 1, Generator(s), dtype)
// in parameter order), every time it is needed and never stored:
//   θ ← θ + εz;  L+ = L(θ);  θ ← θ − 2εz;  L− = L(θ);  θ ← θ + εz;  p = (L+ − L−) / 2ε;
//   θ ← θ − lr (p z + λθ)   (λ = 0 for "bias"/"norm" parameters).
// step returns L+ (as the reference code logs). apply(d) is the same update with d in place of p z.
class MeZO : public Optimizer {
 public:
  MeZO(ParamList params, MeZOOptions options, Generator gen);
  std::string name() const override { return "mezo"; }
  double step(Objective& objective) override;
  void apply(const ParamVector& direction) override;
  double learning_rate() const override { return options_.lr; }
  void set_learning_rate(double lr) override { options_.lr = lr; }
  // The seed of the last step and its projected gradient p (to replay or log a run).
  std::uint64_t last_seed() const { return last_seed_; }
  double last_projected_gradient() const { return last_p_; }

 private:
  // θ_i ← θ_i + scale z_i for every parameter, z regenerated from `seed`.
  void perturb(std::uint64_t seed, double scale);
  bool decays(std::size_t i) const;
  MeZOOptions options_;
  Generator gen_;
  std::uint64_t last_seed_ = 0;
  double last_p_ = 0.0;
};

}  // namespace jetgrad::optim
