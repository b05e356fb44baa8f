#include "optim/zeroth_order.hpp"

#include <cmath>
#include <string>
#include <type_traits>

namespace jetgrad::optim {

namespace {

// One direction: a Gaussian draw per parameter tensor, in parameter order, in its dtype.
ParamVector gaussian_direction(const ParamList& params, Generator& gen) {
  ParamVector u;
  u.reserve(params.size());
  for (const nn::Parameter* p : params)
    u.push_back(normal(p->value.shape(), 0.0, 1.0, gen, p->value.dtype()));
  return u;
}

// L at saved + scale·u (the parameters are left there; the caller restores them).
double value_at(Objective& objective, const ParamVector& saved, const ParamVector& u, double scale) {
  objective.set_values(axpy(scale, u, saved));
  return objective.value();
}

template <class F>
void for_each_element(Tensor& t, F&& f) {
  if (t.dtype() == DType::f32) {
    float* p = t.data<float>();
    for (std::size_t j = 0; j < t.numel(); ++j) f(p[j]);
  } else {
    double* p = t.data<double>();
    for (std::size_t j = 0; j < t.numel(); ++j) f(p[j]);
  }
}

}  // namespace

// ---- RGE -----------------------------------------------------------------------------------------

RandomGradientEstimator::RandomGradientEstimator(RGEOptions options, Generator gen)
    : options_(options), gen_(gen) {
  if (!(options_.mu > 0.0)) throw ValueError("rge: mu must be > 0, got " + std::to_string(options_.mu));
  if (options_.directions == 0) throw ValueError("rge: needs at least one direction (q >= 1)");
}

std::string RandomGradientEstimator::name() const {
  return std::string("rge_") +
         (options_.distribution == RGEOptions::Distribution::gaussian ? "gaussian" : "sphere") +
         (options_.difference == RGEOptions::Difference::forward ? "_forward" : "_central");
}

ParamVector RandomGradientEstimator::estimate(Objective& objective, double* loss) {
  const ParamVector saved = objective.values();
  const double mu = options_.mu;
  const bool forward = options_.difference == RGEOptions::Difference::forward;
  const bool sphere = options_.distribution == RGEOptions::Distribution::sphere;
  const double q = static_cast<double>(options_.directions);
  const double dim_factor = sphere ? static_cast<double>(numel(saved)) : 1.0;

  double l0 = 0.0, central_mean = 0.0;
  if (forward) l0 = objective.value();
  ParamVector g = zeros_like(saved);
  for (std::size_t k = 0; k < options_.directions; ++k) {
    ParamVector u = gaussian_direction(objective.params(), gen_);
    if (sphere) u = scaled(u, 1.0 / norm(u));
    double delta = 0.0;
    const double l_plus = value_at(objective, saved, u, mu);
    if (forward) {
      delta = (l_plus - l0) / mu;
    } else {
      const double l_minus = value_at(objective, saved, u, -mu);
      delta = (l_plus - l_minus) / (2.0 * mu);
      central_mean += 0.5 * (l_plus + l_minus) / q;
    }
    g = axpy(dim_factor * delta / q, u, g);
  }
  objective.set_values(saved);
  if (loss != nullptr) *loss = forward ? l0 : central_mean;
  return g;
}

// ---- CGE -----------------------------------------------------------------------------------------

CoordinateGradientEstimator::CoordinateGradientEstimator(CGEOptions options) : options_(options) {
  if (!(options_.mu > 0.0)) throw ValueError("cge: mu must be > 0, got " + std::to_string(options_.mu));
}

ParamVector CoordinateGradientEstimator::estimate(Objective& objective, double* loss) {
  const double mu = options_.mu;
  const double l0 = objective.value();
  if (loss != nullptr) *loss = l0;
  ParamVector g;
  for (nn::Parameter* p : objective.params()) {
    Tensor gi = Tensor::zeros(p->value.shape(), DType::f64);
    double* out = gi.data<double>();
    std::size_t j = 0;
    // Move one coordinate, evaluate, put its saved value back (bitwise). The quotient divides by
    // the step actually taken (θ_i + μ rounded to the parameter's dtype, minus θ_i; exact in double).
    for_each_element(p->value, [&](auto& x) {
      using T = std::remove_reference_t<decltype(x)>;
      const T saved = x;
      x = static_cast<T>(saved + mu);
      const double h = static_cast<double>(x) - static_cast<double>(saved);
      out[j++] = (objective.value() - l0) / h;
      x = saved;
    });
    g.push_back(gi.to(p->value.dtype()));
  }
  return g;
}

// ---- ZerothOrder ---------------------------------------------------------------------------------

ZerothOrder::ZerothOrder(std::unique_ptr<Optimizer> base, std::unique_ptr<GradientEstimator> estimator)
    : WrappedOptimizer(std::move(base)), estimator_(std::move(estimator)) {
  if (!estimator_) throw ValueError("zeroth-order: the gradient estimator is null");
}

ParamVector ZerothOrder::direction(Objective& objective, double* loss) {
  check_objective(objective);
  return estimator_->estimate(objective, loss);
}

// ---- MeZO ----------------------------------------------------------------------------------------

MeZO::MeZO(ParamList params, MeZOOptions options, Generator gen)
    : Optimizer(std::move(params)), options_(options), gen_(gen) {
  if (!(options_.lr >= 0.0))
    throw ValueError("mezo: learning rate must be >= 0, got " + std::to_string(options_.lr));
  if (!(options_.eps > 0.0)) throw ValueError("mezo: eps must be > 0, got " + std::to_string(options_.eps));
}

bool MeZO::decays(std::size_t i) const {
  const std::string& n = params_[i]->name();
  return options_.weight_decay != 0.0 && n.find("bias") == std::string::npos &&
         n.find("norm") == std::string::npos;
}

void MeZO::perturb(std::uint64_t seed, double scale) {
  Generator z_gen(seed);  // the same stream, consumed in the same order, on every replay
  for (nn::Parameter* p : params_) {
    Tensor& theta = p->value;
    theta = theta + normal(theta.shape(), 0.0, 1.0, z_gen, theta.dtype()) * scale;
  }
}

double MeZO::step(Objective& objective) {
  check_objective(objective);
  const double eps = options_.eps;
  const std::uint64_t seed = gen_.next_u64();
  perturb(seed, eps);
  const double l_plus = objective.value();
  perturb(seed, -2.0 * eps);
  const double l_minus = objective.value();
  perturb(seed, eps);
  const double p = (l_plus - l_minus) / (2.0 * eps);
  last_seed_ = seed;
  last_p_ = p;
  // θ ← θ − lr (p z + λθ), z regenerated once more.
  Generator z_gen(seed);
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor& theta = params_[i]->value;
    const Tensor z = normal(theta.shape(), 0.0, 1.0, z_gen, theta.dtype());
    if (decays(i))
      theta = theta - (z * p + theta * options_.weight_decay) * options_.lr;
    else
      theta = theta - z * (p * options_.lr);
  }
  ++steps_;
  return l_plus;
}

void MeZO::apply(const ParamVector& direction) {
  check_direction(direction);
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor& theta = params_[i]->value;
    const Tensor d = direction[i].to(theta.dtype());
    if (decays(i))
      theta = theta - (d + theta * options_.weight_decay) * options_.lr;
    else
      theta = theta - d * options_.lr;
  }
  ++steps_;
}

}  // namespace jetgrad::optim
