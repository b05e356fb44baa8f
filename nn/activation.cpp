#include "nn/activation.hpp"

#include <sstream>

namespace jetgrad::nn {

Var leaky_relu(const Var& x, double negative_slope) { return where(greater(x, 0.0), x, x * negative_slope); }

Var gelu(const Var& x) {
  constexpr double inv_sqrt2 = 0.70710678118654752440;
  return 0.5 * x * (1.0 + erf(x * inv_sqrt2));
}

Var silu(const Var& x) { return x * sigmoid(x); }

Var stablemax_s(const Var& x) {
  // The unselected branch of `where` still gets a zero cotangent, and 0 · (1/(1-x))' would be
  // NaN at x = 1: feed the reciprocal min(x, 0) so both branches stay finite everywhere.
  return where(greater_equal(x, 0.0), x + 1.0, reciprocal(1.0 - minimum(x, 0.0)));
}

Var stablemax(const Var& x, int axis) {
  const Var s = stablemax_s(x);
  return s / sum(s, axis, /*keepdims=*/true);
}

Var log_stablemax(const Var& x, int axis) {
  const Var s = stablemax_s(x);
  return log(s) - log(sum(s, axis, /*keepdims=*/true));
}

std::string LeakyReLU::describe() const {
  std::ostringstream os;
  os << "LeakyReLU(negative_slope=" << slope_ << ")";
  return os.str();
}

}  // namespace jetgrad::nn
