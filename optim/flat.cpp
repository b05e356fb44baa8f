#include "optim/flat.hpp"

#include <cmath>

namespace jetgrad::optim {

namespace {

// v / (‖v‖ + ξ), the normalization every reference code uses (ξ keeps g = 0 finite).
ParamVector normalized(const ParamVector& v, double xi) { return scaled(v, 1.0 / (norm(v) + xi)); }

// Evaluates at θ + δ and puts θ back exactly (from the saved copy, not by subtracting δ).
class Perturbation {
 public:
  explicit Perturbation(Objective& objective) : objective_(objective), saved_(objective.values()) {}
  ~Perturbation() { restore(); }
  Perturbation(const Perturbation&) = delete;
  Perturbation& operator=(const Perturbation&) = delete;

  const ParamVector& origin() const { return saved_; }
  // Moves the parameters to origin + scale·δ, in place.
  void move_to(const ParamVector& delta, double scale = 1.0) {
    restore();
    objective_.add_to_values(delta, scale);
    at_origin_ = false;
  }
  void restore() {
    if (!at_origin_) objective_.set_values(saved_);
    at_origin_ = true;
  }

 private:
  Objective& objective_;
  ParamVector saved_;
  bool at_origin_ = true;
};

}  // namespace

// ---- SAM / ASAM ----------------------------------------------------------------------------------

SAM::SAM(std::unique_ptr<Optimizer> base, SAMOptions options)
    : WrappedOptimizer(std::move(base)), options_(options) {
  if (!(options_.rho >= 0.0))
    throw ValueError(name() + ": rho must be >= 0, got " + std::to_string(options_.rho));
}

ParamVector SAM::direction(Objective& objective, double* loss) {
  check_objective(objective);
  auto [l0, g0] = objective.value_and_gradient();
  if (loss != nullptr) *loss = l0;
  Perturbation at(objective);
  if (!options_.adaptive) {
    at.move_to(g0, options_.rho / (norm(g0) + options_.xi));  // ε = ρ g / ‖g‖
  } else {
    // ASAM (official code): T = |θ| + η on tensors named "...weight...", T = 1 on the others;
    // ε = ρ T² g / ‖T g‖.
    ParamVector t_g, t2_g;
    for (std::size_t i = 0; i < params_.size(); ++i) {
      const bool is_weight = params_[i]->name().find("weight") != std::string::npos;
      const Tensor t =
          is_weight ? abs(params_[i]->value) + options_.eta : Tensor::ones(g0[i].shape(), g0[i].dtype());
      t_g.push_back(t * g0[i]);
      t2_g.push_back(t * t * g0[i]);
    }
    at.move_to(t2_g, options_.rho / (norm(t_g) + options_.xi));
  }
  g0.clear();                   // its buffers go back to the cache, warm, for the second gradient
  return objective.gradient();  // ∇L(θ + ε); θ is restored when `at` goes out of scope
}

// ---- GAM -----------------------------------------------------------------------------------------

GAM::GAM(std::unique_ptr<Optimizer> base, GAMOptions options)
    : WrappedOptimizer(std::move(base)), options_(options) {
  if (!(options_.rho >= 0.0) || !(options_.grad_rho >= 0.0) || !(options_.sam_rho >= 0.0)) {
    throw ValueError(name() + ": radii must be >= 0");
  }
}

ParamVector GAM::direction(Objective& objective, double* loss) {
  check_objective(objective);
  return options_.method == GAMOptions::Method::exact ? exact_direction(objective, loss)
                                                      : accelerated_direction(objective, loss);
}

ParamVector GAM::exact_direction(Objective& objective, double* loss) {
  const double xi = options_.xi;
  // h0 = ∇L(θ) and f = H h0 / ‖h0‖ from one recording (Taylor over reverse along h0).
  auto at_theta = objective.value_gradient_hvp([&](const ParamVector& g) { return normalized(g, xi); });
  if (loss != nullptr) *loss = at_theta.value;
  Perturbation at(objective);
  ParamVector h0 = at_theta.gradient;
  if (options_.sam_rho > 0.0) {  // GAM + SAM: the SAM gradient replaces h0
    at.move_to(h0, options_.sam_rho / (norm(h0) + xi));
    h0 = objective.gradient();
  }
  // θ_adv = θ + ρ f/‖f‖, then h1 = ρ H(θ_adv) g_adv / ‖g_adv‖ (= ρ ∇‖∇L‖ at θ_adv).
  at.move_to(at_theta.hvp, options_.rho / (norm(at_theta.hvp) + xi));
  const auto at_adv = objective.value_gradient_hvp([&](const ParamVector& g) { return normalized(g, xi); });
  return axpy(options_.alpha * options_.rho, at_adv.hvp, h0);
}

ParamVector GAM::accelerated_direction(Objective& objective, double* loss) {
  const double xi = options_.xi;
  auto [l0, g0] = objective.value_and_gradient();
  if (loss != nullptr) *loss = l0;
  Perturbation at(objective);
  at.move_to(g0, options_.grad_rho / (norm(g0) + xi));  // θ1
  const ParamVector g1 = objective.gradient();
  const ParamVector h0 = axpy(-1.0, g0, g1);  // g1 − g0
  const ParamVector e2 = scaled(h0, options_.rho / (norm(h0) + xi));
  at.move_to(e2);  // θ2
  const ParamVector g2 = objective.gradient();
  at.move_to(axpy(options_.grad_rho / (norm(g2) + xi), g2, e2));  // θ3 = θ2 + ρ' ĝ2
  const ParamVector g3 = objective.gradient();
  at.restore();

  const ParamVector h_plus = axpy(options_.alpha, g1, scaled(g3, 1.0 - options_.alpha));
  const ParamVector h_minus = options_.paper_h_minus
                                  ? axpy(options_.beta, g0, scaled(g2, 1.0 - options_.beta))
                                  : axpy(std::abs(1.0 - options_.beta), g2, g0);
  // h−⊥ = h− − cos(h−, h+) ‖h−‖ h+ / ‖h+‖, as the code writes the projection.
  const double n_plus = norm(h_plus), n_minus = norm(h_minus);
  const double cosine = dot(h_minus, h_plus) / (n_plus * n_minus + xi);
  const ParamVector h_perp = axpy(-cosine * n_minus / (n_plus + xi), h_plus, h_minus);
  return axpy(-options_.gamma, h_perp, h_plus);
}

// ---- gradient regularization ---------------------------------------------------------------------

GradientRegularization::GradientRegularization(std::unique_ptr<Optimizer> base, GradRegOptions options)
    : WrappedOptimizer(std::move(base)), options_(options) {
  if (options_.method != GradRegOptions::Method::exact && !(options_.epsilon > 0.0)) {
    throw ValueError(name() + ": epsilon must be > 0, got " + std::to_string(options_.epsilon));
  }
}

std::string GradientRegularization::name() const {
  switch (options_.method) {
    case GradRegOptions::Method::exact:
      return "gr_exact";
    case GradRegOptions::Method::forward:
      return "gr_forward";
    case GradRegOptions::Method::backward:
      return "gr_backward";
  }
  return "gr";
}

ParamVector GradientRegularization::direction(Objective& objective, double* loss) {
  check_objective(objective);
  const double gamma = options_.gamma, eps = options_.epsilon;
  if (options_.method == GradRegOptions::Method::exact) {
    auto r = objective.value_gradient_hvp([](const ParamVector& g) { return g; });  // H g, exact
    if (loss != nullptr) *loss = r.value;
    return axpy(gamma, r.hvp, r.gradient);
  }
  auto [l0, g] = objective.value_and_gradient();
  if (loss != nullptr) *loss = l0;
  const double sign = options_.method == GradRegOptions::Method::forward ? 1.0 : -1.0;
  ParamVector g_probe;
  {
    Perturbation at(objective);
    at.move_to(g, sign * eps);
    g_probe = objective.gradient();
  }
  // F-GR: d = (1 − γ/ε) g + (γ/ε) ∇L(θ + ε g);  B-GR: d = (1 + γ/ε) g − (γ/ε) ∇L(θ − ε g).
  return axpy(sign * gamma / eps, g_probe, scaled(g, 1.0 - sign * gamma / eps));
}

// ---- FAD -----------------------------------------------------------------------------------------

FAD::FAD(std::unique_ptr<Optimizer> base, FADOptions options)
    : WrappedOptimizer(std::move(base)), options_(options) {
  if (!(options_.rho >= 0.0)) throw ValueError("fad: rho must be >= 0, got " + std::to_string(options_.rho));
}

ParamVector FAD::direction(Objective& objective, double* loss) {
  check_objective(objective);
  const double rho = options_.rho, xi = options_.xi;
  ParamVector g0, first_order_dir;
  if (options_.exact) {
    auto r = objective.value_gradient_hvp([&](const ParamVector& g) { return normalized(g, xi); });
    if (loss != nullptr) *loss = r.value;
    g0 = std::move(r.gradient);
    first_order_dir = std::move(r.hvp);  // H ĝ0 ∝ ∇‖∇L‖
  } else {
    auto [l0, g] = objective.value_and_gradient();
    if (loss != nullptr) *loss = l0;
    g0 = std::move(g);
  }
  Perturbation at(objective);
  at.move_to(g0, rho / (norm(g0) + xi));
  const ParamVector g1 = objective.gradient();  // ∇L(θ + ρ ĝ0): R0's gradient is g1 − g0
  if (!options_.exact) first_order_dir = axpy(-1.0, g0, g1);
  at.move_to(first_order_dir, rho / (norm(first_order_dir) + xi));  // θ_adv
  ParamVector r1_gradient;
  if (options_.exact) {
    r1_gradient = scaled(
        objective.value_gradient_hvp([&](const ParamVector& g) { return normalized(g, xi); }).hvp, rho);
  } else {
    const ParamVector g2 = objective.gradient();
    at.move_to(axpy(rho / (norm(g2) + xi), g2, scaled(first_order_dir, rho / (norm(first_order_dir) + xi))));
    r1_gradient = axpy(-1.0, g2, objective.gradient());  // g3 − g2
  }
  at.restore();
  ParamVector d = axpy(options_.alpha, axpy(-1.0, g0, g1), g0);
  return axpy(options_.beta, r1_gradient, d);
}

// ---- ⊥Grad ---------------------------------------------------------------------------------------

PerpGrad::PerpGrad(std::unique_ptr<Optimizer> base, PerpGradOptions options)
    : WrappedOptimizer(std::move(base)), options_(options) {}

ParamVector PerpGrad::direction(Objective& objective, double* loss) {
  check_objective(objective);
  auto [l0, g] = objective.value_and_gradient();
  if (loss != nullptr) *loss = l0;
  const ParamVector theta = objective.values();
  const double eps = options_.eps;
  // d = g − (⟨θ, g⟩ / (‖θ‖² + eps)) θ, optionally rescaled to ‖g‖ (per tensor or over all of them).
  auto project = [&](const ParamVector& th, const ParamVector& gr) {
    ParamVector d = axpy(-dot(th, gr) / (dot(th, th) + eps), th, gr);
    return options_.rescale ? scaled(d, norm(gr) / (norm(d) + eps)) : d;
  };
  if (options_.per_tensor) {
    for (std::size_t i = 0; i < g.size(); ++i) g[i] = project({theta[i]}, {g[i]})[0];
  } else {
    g = project(theta, g);
  }
  return g;
}

}  // namespace jetgrad::optim
