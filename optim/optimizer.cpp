#include "optim/optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <optional>

namespace jetgrad::optim {

Optimizer::Optimizer(ParamList params) : params_(std::move(params)) {
  if (params_.empty()) throw ValueError("optimizer: needs at least one parameter");
}

void Optimizer::check_direction(const ParamVector& d) const {
  if (d.size() != params_.size()) {
    throw ShapeError(name() + ": expected one direction tensor per parameter (" +
                     std::to_string(params_.size()) + "), got " + std::to_string(d.size()));
  }
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (!(d[i].shape() == params_[i]->value.shape())) {
      throw ShapeError(name() + ": direction " + std::to_string(i) + " has shape " + d[i].shape().str() +
                       ", parameter '" + params_[i]->name() + "' has " + params_[i]->value.shape().str());
    }
  }
}

void Optimizer::check_objective(const Objective& objective) const {
  const ParamList& theirs = objective.params();
  if (theirs.size() != params_.size()) {
    throw ValueError(name() + ": the objective is over " + std::to_string(theirs.size()) +
                     " parameters, this optimizer over " + std::to_string(params_.size()));
  }
  for (std::size_t i = 0; i < theirs.size(); ++i) {
    if (theirs[i] != params_[i]) {
      throw ValueError(name() + ": the objective's parameter " + std::to_string(i) + " ('" +
                       theirs[i]->name() + "') is not this optimizer's parameter " + std::to_string(i) +
                       " ('" + params_[i]->name() + "')");
    }
  }
}

double Optimizer::step(Objective& objective) {
  check_objective(objective);
  auto [loss, g] = objective.value_and_gradient();
  apply(g);
  return loss;
}

void Optimizer::step_from_grads() {
  ParamVector g;
  g.reserve(params_.size());
  for (const nn::Parameter* p : params_) g.push_back(p->grad);
  apply(g);
}

void Optimizer::zero_grad() {
  for (nn::Parameter* p : params_) p->zero_grad();
}

Tensor& Optimizer::buffer(const std::string& name, std::size_t i) {
  for (auto& [n, list] : buffers_)
    if (n == name) return list[i];
  std::vector<Tensor> list;
  for (const nn::Parameter* p : params_) list.push_back(Tensor::zeros(p->value.shape(), p->value.dtype()));
  buffers_.emplace_back(name, std::move(list));
  return buffers_.back().second[i];
}

nn::NamedTensors Optimizer::state() const {
  nn::NamedTensors out;
  out.emplace_back("steps", Tensor(static_cast<double>(steps_)));
  out.emplace_back("lr", Tensor(learning_rate()));
  for (const auto& [n, list] : buffers_)
    for (std::size_t i = 0; i < list.size(); ++i)
      out.emplace_back(n + "." + params_[i]->name() + "#" + std::to_string(i), list[i]);
  return out;
}

void Optimizer::load_state(const nn::NamedTensors& state) {
  std::size_t steps = 0;
  double lr = learning_rate();
  std::vector<std::pair<std::string, std::vector<Tensor>>> buffers;
  for (const auto& [key, t] : state) {
    if (key == "steps") {
      steps = static_cast<std::size_t>(t.item());
      continue;
    }
    if (key == "lr") {
      lr = t.item();
      continue;
    }
    const auto dot_at = key.find('.');
    const auto hash_at = key.rfind('#');
    if (dot_at == std::string::npos || hash_at == std::string::npos || hash_at < dot_at) {
      throw Error(name() + ": optimizer state entry '" + key +
                  "' is not of the form <buffer>.<param>#<index>");
    }
    const std::string buffer_name = key.substr(0, dot_at);
    const std::size_t i = std::stoul(key.substr(hash_at + 1));
    if (i >= params_.size() || !(t.shape() == params_[i]->value.shape())) {
      throw Error(name() + ": optimizer state entry '" + key + "' of shape " + t.shape().str() +
                  " does not match this optimizer's parameters (a checkpoint of another model?)");
    }
    auto it =
        std::find_if(buffers.begin(), buffers.end(), [&](const auto& b) { return b.first == buffer_name; });
    if (it == buffers.end()) {
      std::vector<Tensor> list;
      for (const nn::Parameter* p : params_)
        list.push_back(Tensor::zeros(p->value.shape(), p->value.dtype()));
      buffers.emplace_back(buffer_name, std::move(list));
      it = std::prev(buffers.end());
    }
    it->second[i] = t.to(params_[i]->value.dtype());
  }
  buffers_ = std::move(buffers);
  steps_ = steps;
  set_learning_rate(lr);
}

// ---- wrappers -----------------------------------------------------------------------------------

namespace {
const ParamList& params_of(const std::unique_ptr<Optimizer>& base) {
  if (!base) throw ValueError("optimizer wrapper: the base optimizer is null");
  return base->params();
}
}  // namespace

WrappedOptimizer::WrappedOptimizer(std::unique_ptr<Optimizer> base)
    : Optimizer(params_of(base)), base_(std::move(base)) {}

double WrappedOptimizer::step(Objective& objective) {
  check_objective(objective);
  double loss = 0.0;
  const ParamVector d = direction(objective, &loss);
  apply(d);
  ++steps_;
  return loss;
}

// ---- SGD -----------------------------------------------------------------------------------------

SGD::SGD(ParamList params, SGDOptions options) : Optimizer(std::move(params)), options_(options) {
  if (!(options_.lr >= 0.0))
    throw ValueError("sgd: learning rate must be >= 0, got " + std::to_string(options_.lr));
  if (!(options_.momentum >= 0.0))
    throw ValueError("sgd: momentum must be >= 0, got " + std::to_string(options_.momentum));
  if (options_.nesterov && (options_.momentum <= 0.0 || options_.dampening != 0.0)) {
    throw ValueError("sgd: Nesterov momentum needs momentum > 0 and dampening 0");
  }
}

void SGD::apply(const ParamVector& direction) {
  check_direction(direction);
  const double lr = options_.lr, mu = options_.momentum;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor& theta = params_[i]->value;
    // In place (axpy/scale): the only temporary is a direction that needs converting or decaying.
    std::optional<Tensor> own;
    const Tensor* d = &direction[i];
    if (d->dtype() != theta.dtype()) d = &own.emplace(d->to(theta.dtype()));
    if (options_.weight_decay != 0.0) {
      if (!own) own.emplace(*d);
      axpy(options_.weight_decay, theta, *own);  // d + λθ
      d = &*own;
    }
    if (mu == 0.0) {
      axpy(-lr, *d, theta);
      continue;
    }
    Tensor& b = buffer("momentum", i);
    if (steps_ == 0) {
      b.copy_from(*d);
    } else {
      scale(b, mu);
      axpy(1.0 - options_.dampening, *d, b);  // b = μb + (1 - dampening) d
    }
    if (options_.nesterov) axpy(-lr, *d, theta);  // θ -= lr (d + μb)
    axpy(options_.nesterov ? -lr * mu : -lr, b, theta);
  }
  ++steps_;
}

// ---- Adam / AdamW --------------------------------------------------------------------------------

Adam::Adam(ParamList params, AdamOptions options) : Optimizer(std::move(params)), options_(options) {
  if (!(options_.lr >= 0.0))
    throw ValueError(name() + ": learning rate must be >= 0, got " + std::to_string(options_.lr));
  if (!(options_.beta1 >= 0.0 && options_.beta1 < 1.0) || !(options_.beta2 >= 0.0 && options_.beta2 < 1.0)) {
    throw ValueError(name() + ": betas must be in [0, 1), got " + std::to_string(options_.beta1) + " and " +
                     std::to_string(options_.beta2));
  }
}

void Adam::apply(const ParamVector& direction) {
  check_direction(direction);
  const double t = static_cast<double>(steps_ + 1);
  const double bias1 = 1.0 - std::pow(options_.beta1, t), bias2 = 1.0 - std::pow(options_.beta2, t);
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor& theta = params_[i]->value;
    Tensor d = direction[i].to(theta.dtype());
    if (options_.weight_decay != 0.0) {
      if (options_.decoupled_weight_decay)
        theta = theta * (1.0 - options_.lr * options_.weight_decay);
      else
        d = d + theta * options_.weight_decay;
    }
    Tensor& m = buffer("m", i);
    Tensor& v = buffer("v", i);
    m = m * options_.beta1 + d * (1.0 - options_.beta1);
    v = v * options_.beta2 + d * d * (1.0 - options_.beta2);
    Tensor denom = sqrt(v / bias2) + options_.eps;
    // With eps = 0 a coordinate whose directions were all 0 has m = v = 0: step 0 there, not 0/0
    // (β1 = β2 = 0, eps = 0 is then exactly sign descent with sign(0) = 0).
    if (options_.eps == 0.0)
      denom = maximum(denom, Tensor::full(denom.shape(), std::numeric_limits<float>::min(), denom.dtype()));
    theta = theta - (m / bias1) / denom * options_.lr;
  }
  ++steps_;
}

// ---- sign descent --------------------------------------------------------------------------------

SignDescent::SignDescent(ParamList params, SignOptions options)
    : Optimizer(std::move(params)), options_(options) {
  if (!(options_.lr >= 0.0))
    throw ValueError("sign: learning rate must be >= 0, got " + std::to_string(options_.lr));
}

void SignDescent::apply(const ParamVector& direction) {
  check_direction(direction);
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor& theta = params_[i]->value;
    Tensor d = direction[i].to(theta.dtype());
    if (options_.momentum != 0.0) {
      Tensor& b = buffer("momentum", i);
      b = b * options_.momentum + d * (1.0 - options_.momentum);
      d = b;
    }
    theta = theta - sign(d) * options_.lr;
  }
  ++steps_;
}

// ---- orthogonalized momentum ---------------------------------------------------------------------

Tensor orthogonalize(const Tensor& m, int steps) {
  if (m.rank() != 2) throw ShapeError("orthogonalize: expected a matrix, got shape " + m.shape().str());
  const bool tall = m.shape()[0] > m.shape()[1];
  Tensor x = (tall ? transpose(m) : m).to(DType::f64);  // iterate on the wide form: X Xᵀ is small
  const double fro = std::sqrt(sum(x * x).item());
  if (fro == 0.0) return Tensor::zeros(m.shape(), m.dtype());
  x = x / fro;  // all singular values in (0, 1]: inside the cubic iteration's basin (0, √3)
  for (int k = 0; k < steps; ++k) x = x * 1.5 - matmul(matmul(x, transpose(x)), x) * 0.5;
  return (tall ? transpose(x) : x).to(m.dtype());
}

OrthogonalizedMomentum::OrthogonalizedMomentum(ParamList params, OrthogonalOptions options)
    : Optimizer(std::move(params)), options_(options) {
  if (options_.newton_schulz_steps < 1) throw ValueError("orthogonal: needs at least one Newton-Schulz step");
}

void OrthogonalizedMomentum::apply(const ParamVector& direction) {
  check_direction(direction);
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor& theta = params_[i]->value;
    const Tensor d = direction[i].to(theta.dtype());
    Tensor& b = buffer("momentum", i);
    b = b * options_.momentum + d;
    const Tensor m = options_.nesterov ? d + b * options_.momentum : b;
    if (theta.rank() == 2) {
      const double rows = static_cast<double>(theta.shape()[0]), cols = static_cast<double>(theta.shape()[1]);
      theta = theta - orthogonalize(m, options_.newton_schulz_steps) *
                          (options_.lr * std::sqrt(std::max(1.0, rows / cols)));
    } else {
      theta = theta - m * options_.lr;
    }
  }
  ++steps_;
}

}  // namespace jetgrad::optim
