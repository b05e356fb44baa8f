// Real: the scalar lane. A 0-d float64 value that the elementwise rules accept in place of a
// Tensor, so that textbook scalar code (loops over 0-d variables) is recorded and swept with plain
// double arithmetic: no shapes to broadcast, no buffers, no kernel dispatch. The rules are the
// same source as for tensors, instantiated once more. Internal.
#pragma once

#include <cmath>
#include <utility>

#include "autodiff/dtype.hpp"
#include "autodiff/shape.hpp"

namespace jetgrad::rules {

// The shape of every Real, (): equal to itself at compile time, so that the rules' broadcasting
// branches (g.shape() == x.shape() ? ... : sum_to(...)) fold away in the lane.
struct ScalarShape {
  constexpr bool operator==(const ScalarShape&) const { return true; }
  operator Shape() const { return {}; }
};

struct Real {
  double v = 0.0;

  static constexpr ScalarShape shape() { return {}; }
  static constexpr int rank() { return 0; }
  static constexpr DType dtype() { return DType::f64; }
};

inline Real operator-(Real x) { return {-x.v}; }
inline Real operator+(Real a, Real b) { return {a.v + b.v}; }
inline Real operator-(Real a, Real b) { return {a.v - b.v}; }
inline Real operator*(Real a, Real b) { return {a.v * b.v}; }
inline Real operator/(Real a, Real b) { return {a.v / b.v}; }
inline Real operator+(Real a, double b) { return {a.v + b}; }
inline Real operator-(Real a, double b) { return {a.v - b}; }
inline Real operator*(Real a, double b) { return {a.v * b}; }
inline Real operator/(Real a, double b) { return {a.v / b}; }
inline Real operator+(double a, Real b) { return {a + b.v}; }
inline Real operator-(double a, Real b) { return {a - b.v}; }
inline Real operator*(double a, Real b) { return {a * b.v}; }
inline Real operator/(double a, Real b) { return {a / b.v}; }
inline Real& operator+=(Real& a, Real b) {
  a.v += b.v;
  return a;
}

inline Real exp(Real x) { return {std::exp(x.v)}; }
inline Real log(Real x) { return {std::log(x.v)}; }
inline Real sin(Real x) { return {std::sin(x.v)}; }
inline Real cos(Real x) { return {std::cos(x.v)}; }
inline Real tan(Real x) { return {std::tan(x.v)}; }
inline Real tanh(Real x) { return {std::tanh(x.v)}; }
inline Real sinh(Real x) { return {std::sinh(x.v)}; }
inline Real cosh(Real x) { return {std::cosh(x.v)}; }
inline Real sqrt(Real x) { return {std::sqrt(x.v)}; }
inline Real abs(Real x) { return {std::abs(x.v)}; }
inline Real sign(Real x) { return {x.v > 0 ? 1.0 : (x.v < 0 ? -1.0 : 0.0)}; }
inline Real erf(Real x) { return {std::erf(x.v)}; }
inline Real reciprocal(Real x) { return {1.0 / x.v}; }
inline Real pow(Real x, double p) { return {std::pow(x.v, p)}; }
inline Real relu(Real x) { return {x.v < 0 ? 0.0 : x.v}; }  // NaN propagates, as the kernel does
inline Real sigmoid(Real x) {                               // exp(-|x|) never overflows
  const double e = std::exp(-std::abs(x.v)), r = 1.0 / (1.0 + e);
  return {x.v >= 0 ? r : e * r};
}
inline Real softplus(Real x) { return {std::log1p(std::exp(-std::abs(x.v))) + (x.v > 0 ? x.v : 0.0)}; }

inline Real less(Real a, Real b) { return {a.v < b.v ? 1.0 : 0.0}; }
inline Real less_equal(Real a, Real b) { return {a.v <= b.v ? 1.0 : 0.0}; }
inline Real greater(Real a, Real b) { return {a.v > b.v ? 1.0 : 0.0}; }
inline Real greater_equal(Real a, Real b) { return {a.v >= b.v ? 1.0 : 0.0}; }
inline Real equal(Real a, Real b) { return {a.v == b.v ? 1.0 : 0.0}; }
inline Real not_equal(Real a, Real b) { return {a.v != b.v ? 1.0 : 0.0}; }
inline Real where(Real c, Real a, Real b) { return c.v != 0.0 ? a : b; }
inline Real scaled_product(Real a, Real b, double alpha) { return {a.v * b.v * alpha}; }
inline std::pair<Real, Real> mul_cotangents(Real g, Real a, Real b) { return {g * b, g * a}; }

// Shapes are all () in the lane, so the broadcasting adjoints are identities.
inline Real sum_to(Real x, ScalarShape) { return x; }
inline Real broadcast_to(Real x, ScalarShape) { return x; }
inline Real scalar_like(Real, double v) { return {v}; }

}  // namespace jetgrad::rules
