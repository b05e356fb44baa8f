#include "optim/objective.hpp"

#include <cmath>

namespace jetgrad::optim {

namespace {
void check_same_layout(const ParamVector& a, const ParamVector& b, const char* what) {
  if (a.size() != b.size()) {
    throw ShapeError(std::string(what) + ": parameter vectors of " + std::to_string(a.size()) + " and " +
                     std::to_string(b.size()) + " tensors");
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!(a[i].shape() == b[i].shape())) {
      throw ShapeError(std::string(what) + ": tensor " + std::to_string(i) + " has shapes " +
                       a[i].shape().str() + " and " + b[i].shape().str());
    }
  }
}
}  // namespace

double dot(const ParamVector& a, const ParamVector& b) {
  check_same_layout(a, b, "dot");
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += dot_f64(a[i], b[i]);
  return s;
}

double norm(const ParamVector& a) { return std::sqrt(dot(a, a)); }

ParamVector scaled(const ParamVector& a, double s) {
  ParamVector out;
  out.reserve(a.size());
  for (const Tensor& t : a) out.push_back(t * s);
  return out;
}

ParamVector axpy(double alpha, const ParamVector& x, const ParamVector& y) {
  check_same_layout(x, y, "axpy");
  ParamVector out;
  out.reserve(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) out.push_back(alpha == 1.0 ? x[i] + y[i] : x[i] * alpha + y[i]);
  return out;
}

ParamVector zeros_like(const ParamVector& a) {
  ParamVector out;
  out.reserve(a.size());
  for (const Tensor& t : a) out.push_back(Tensor::zeros(t.shape(), t.dtype()));
  return out;
}

std::size_t numel(const ParamVector& a) {
  std::size_t n = 0;
  for (const Tensor& t : a) n += t.numel();
  return n;
}

Objective::Objective(ParamList params, LossFn loss) : params_(std::move(params)), loss_(std::move(loss)) {
  if (params_.empty()) throw ValueError("Objective: needs at least one parameter");
  for (const nn::Parameter* p : params_)
    if (p == nullptr) throw ValueError("Objective: a parameter pointer is null");
  if (!loss_) throw ValueError("Objective: the loss function is empty");
}

void Objective::check_like_params(const ParamVector& v, const char* what) const {
  if (v.size() != params_.size()) {
    throw ShapeError(std::string(what) + ": expected one tensor per parameter (" +
                     std::to_string(params_.size()) + "), got " + std::to_string(v.size()));
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!(v[i].shape() == params_[i]->value.shape())) {
      throw ShapeError(std::string(what) + ": tensor " + std::to_string(i) + " ('" + params_[i]->name() +
                       "') has shape " + v[i].shape().str() + ", the parameter has " +
                       params_[i]->value.shape().str());
    }
  }
}

ParamVector Objective::values() const {
  ParamVector out;
  out.reserve(params_.size());
  for (const nn::Parameter* p : params_) out.push_back(p->value);
  return out;
}

void Objective::set_values(const ParamVector& theta) {
  check_like_params(theta, "set_values");
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor& v = params_[i]->value;
    v = theta[i].dtype() == v.dtype() ? theta[i]
                                      : theta[i].to(v.dtype());  // shares the buffer (copy on write)
  }
}

void Objective::add_to_values(const ParamVector& delta, double scale) {
  check_like_params(delta, "add_to_values");
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor& v = params_[i]->value;
    if (delta[i].dtype() == v.dtype())
      jetgrad::axpy(scale, delta[i], v);
    else
      jetgrad::axpy(scale, delta[i].to(v.dtype()), v);
  }
}

std::pair<Var, std::vector<Var>> Objective::record(Tape& tape) {
  std::vector<Var> vars;
  vars.reserve(params_.size());
  for (nn::Parameter* p : params_) {
    Var v = tape.variable(p->value);
    p->bind(v);
    vars.push_back(v);
  }
  Var loss = loss_(tape);
  if (loss.numel() != 1)
    throw ShapeError("Objective: the loss must have one element, got shape " + loss.shape().str());
  return {loss, std::move(vars)};
}

double Objective::value() {
  Tape tape;
  ++forwards_;
  return record(tape).first.item();
}

std::pair<double, ParamVector> Objective::value_and_gradient() {
  Tape tape;
  auto [loss, vars] = record(tape);
  ++forwards_;
  ++gradients_;
  return {loss.item(), tape.gradient(loss, vars)};
}

Objective::ValueGradientHvp Objective::value_gradient_hvp(
    const std::function<ParamVector(const ParamVector&)>& direction) {
  Tape tape;
  auto [loss, vars] = record(tape);
  ++forwards_;
  ++gradients_;
  ++hvps_;
  const std::vector<Var> grads = tape.gradient_vars(loss, vars);
  ValueGradientHvp out;
  out.value = loss.item();
  for (const Var& g : grads) out.gradient.push_back(g.value());
  const ParamVector u = direction(out.gradient);
  check_like_params(u, "hvp direction");
  out.hvp = hvp_through(tape, grads, vars, u);
  return out;
}

ParamVector Objective::hvp(const ParamVector& v) {
  check_like_params(v, "hvp");
  Tape tape;
  auto [loss, vars] = record(tape);
  ++forwards_;
  ++gradients_;
  ++hvps_;
  // The gradient's values are not read: its last matrix products are never computed (Tape::value).
  return hvp_through(tape, tape.gradient_vars(loss, vars), vars, v);
}

// One Taylor sweep (degree 1, one direction) through the recorded gradient gives H u.
ParamVector Objective::hvp_through(const Tape& tape, std::span<const Var> grads, std::span<const Var> vars,
                                   const ParamVector& u) const {
  std::vector<Tensor> directions;
  directions.reserve(u.size());
  for (std::size_t i = 0; i < u.size(); ++i) {
    Shape s;
    s.push_back(1);
    for (std::size_t d : u[i].shape()) s.push_back(d);
    directions.push_back(reshape(u[i].to(params_[i]->value.dtype()), s));
  }
  const auto terms = tape.taylor_terms(grads, vars, directions, 1);
  ParamVector hv;
  hv.reserve(terms.size());
  for (std::size_t i = 0; i < terms.size(); ++i)
    hv.push_back(reshape(terms[i][0], params_[i]->value.shape()));
  return hv;
}

}  // namespace jetgrad::optim
