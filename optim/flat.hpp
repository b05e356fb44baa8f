// Flatness-seeking optimizers. Each wraps a base optimizer (SGD, Adam, ...): it computes a direction
// d from several gradients (and exact Hessian-vector products where the method calls for them) at
// perturbed parameters, restores the parameters exactly (from a saved copy), and hands d to the base
// optimizer as if it were the gradient. docs/optimizers.md has the math and the choices made.
//
//   auto base = std::make_unique<optim::SGD>(params, optim::SGDOptions{.lr = 0.1});
//   optim::GAM gam(std::move(base), {.rho = 0.1, .alpha = 0.5});   // exact HVPs
//   gam.step(objective);
#pragma once

#include <memory>

#include "optim/optimizer.hpp"

namespace jetgrad::optim {

constexpr double default_xi = 1e-12;  // the ξ in v / (‖v‖ + ξ), as the reference codes

struct SAMOptions {
  double rho = 0.05;
  bool adaptive = false;  // ASAM: ε = ρ T² g / ‖T g‖ with T = |θ| + η on weights, 1 on others
  double eta = 0.01;      // ASAM's η
  double xi = default_xi;
};

// SAM: d = ∇L(θ + ρ g/‖g‖); ASAM (the official code's form): weights are the parameters whose
// name contains "weight", the others (biases, norm shifts) are not rescaled.
class SAM : public WrappedOptimizer {
 public:
  SAM(std::unique_ptr<Optimizer> base, SAMOptions options);
  std::string name() const override { return options_.adaptive ? "asam" : "sam"; }
  ParamVector direction(Objective& objective, double* loss = nullptr) override;

 private:
  SAMOptions options_;
};

struct GAMOptions {
  enum class Method {
    exact,        // the paper's Algorithm 1: exact HVPs (Taylor over reverse)
    accelerated,  // the official code's finite-difference form (paper Appendix D)
  };
  Method method = Method::exact;
  double rho = 0.2;      // ρ: radius of the first-order flatness ball (grad_norm_rho)
  double alpha = 0.6;    // exact: weight of the flatness gradient; accelerated: α (grad_beta_1)
  double sam_rho = 0.0;  // exact: > 0 combines with SAM (h0 becomes the SAM gradient of radius ρ')
  // accelerated only (CIFAR-100/ResNet defaults of the official code):
  double grad_rho = 0.02;      // ρ' (grad_rho)
  double beta = 0.5;           // β (grad_beta_0)
  double gamma = 0.03;         // γ (grad_gamma)
  bool paper_h_minus = false;  // h− = β g0 + (1−β) g2 (paper) instead of g0 + |1−β| g2 (code)
  double xi = default_xi;
};

// GAM (gradient-norm-aware minimization): minimizes L + α R1 with the first-order flatness
// R1 = ρ max_{‖δ‖≤ρ} ‖∇L(θ + δ)‖.
//   exact:  h0 = ∇L(θ);  f = H h0 / ‖h0‖;  θ_adv = θ + ρ f/‖f‖;  g = ∇L(θ_adv);
//           h1 = ρ H(θ_adv) g / ‖g‖;  d = h0 + α h1
//   accelerated: four gradients and the surrogate-gap correction of the official code.
class GAM : public WrappedOptimizer {
 public:
  GAM(std::unique_ptr<Optimizer> base, GAMOptions options);
  std::string name() const override {
    return options_.method == GAMOptions::Method::exact ? "gam" : "gam_accelerated";
  }
  ParamVector direction(Objective& objective, double* loss = nullptr) override;

 private:
  ParamVector exact_direction(Objective& objective, double* loss);
  ParamVector accelerated_direction(Objective& objective, double* loss);
  GAMOptions options_;
};

struct GradRegOptions {
  enum class Method {
    exact,     // d = g + γ H g, H g exact (Taylor over reverse)
    forward,   // F-GR: H g ≈ (∇L(θ + ε g) − g) / ε
    backward,  // B-GR: H g ≈ (g − ∇L(θ − ε g)) / ε
  };
  Method method = Method::exact;
  double gamma = 0.01;    // penalty strength: L + (γ/2) ‖∇L‖²
  double epsilon = 0.01;  // finite-difference step (multiplies the unnormalized gradient)
};

// Gradient regularization (Karakida et al., ICML 2023).
class GradientRegularization : public WrappedOptimizer {
 public:
  GradientRegularization(std::unique_ptr<Optimizer> base, GradRegOptions options);
  std::string name() const override;
  ParamVector direction(Objective& objective, double* loss = nullptr) override;

 private:
  GradRegOptions options_;
};

struct FADOptions {
  double rho = 0.05;   // radius of both flatness balls
  double alpha = 1.0;  // weight of zeroth-order flatness R0
  double beta = 0.5;   // weight of first-order flatness R1
  bool exact = true;   // R1's gradient from exact HVPs; false: the finite-difference form
  double xi = default_xi;
};

// FAD: minimizes L + α R0 + β R1 (zeroth- and first-order flatness together).
//   d = g0 + α (∇L(θ + ρ ĝ0) − g0) + β ∇R1,  ∇R1 = ρ H(θ_adv) ĝ_adv (exact) or g3 − g2 (finite
//   differences, as accelerated GAM), θ_adv = θ + ρ normalize(H ĝ0) (exact) or normalize(g1 − g0).
class FAD : public WrappedOptimizer {
 public:
  FAD(std::unique_ptr<Optimizer> base, FADOptions options);
  std::string name() const override { return "fad"; }
  ParamVector direction(Objective& objective, double* loss = nullptr) override;

 private:
  FADOptions options_;
};

struct PerpGradOptions {
  bool per_tensor = true;  // project each tensor on its own weights (official code); false: globally
  bool rescale = true;     // rescale d to the norm of g (official code), per tensor or globally
  double eps = 1e-30;      // the official code's guard in both divisions
};

// ⊥Grad ("Grokking at the Edge of Numerical Stability", Prieto et al.): the component of the
// gradient along the weights, which only scales them (and drives the logits toward softmax
// collapse), is removed:  d = g − (⟨θ, g⟩ / (‖θ‖² + eps)) θ, then (rescale) d ← d ‖g‖ / (‖d‖ + eps).
// Defaults follow the official orthograd.py: per tensor, rescaled.
class PerpGrad : public WrappedOptimizer {
 public:
  PerpGrad(std::unique_ptr<Optimizer> base, PerpGradOptions options);
  std::string name() const override { return "perpgrad"; }
  ParamVector direction(Objective& objective, double* loss = nullptr) override;

 private:
  PerpGradOptions options_;
};

}  // namespace jetgrad::optim
