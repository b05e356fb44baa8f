// Helpers of the reverse-mode tests: seeded random tensors, an independent central-difference
// gradient, and an allclose matcher whose failure message names the worst element.
//
// Nothing here calls a jetgrad derivative: finite differences only evaluate values, and the
// matcher reads elements with Tensor::at.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "autodiff/functional.hpp"
#include "autodiff/tensor.hpp"

namespace gc {

using jetgrad::DType;
using jetgrad::Shape;
using jetgrad::Tensor;

// Uniform values in [lo, hi) from a seeded std::mt19937_64.
inline Tensor random_tensor(const Shape& shape, double lo, double hi, std::uint64_t seed,
                            DType dtype = DType::f64) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Tensor t(dtype, shape);
  for (std::size_t i = 0; i < t.numel(); ++i) t.set(i, u(rng));
  return t;
}

// Values in [lo, hi] that are pairwise at least (hi - lo) / (2 numel) apart, in random order:
// for max/min/sort-like ops, where a finite-difference step must never cross a tie.
inline Tensor distinct_tensor(const Shape& shape, double lo, double hi, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::size_t n = shape.numel();
  std::vector<double> v(n);
  const double spacing = n > 1 ? (hi - lo) / static_cast<double>(n - 1) : 0.0;
  std::uniform_real_distribution<double> jitter(-0.25 * spacing, 0.25 * spacing);
  for (std::size_t i = 0; i < n; ++i) v[i] = lo + spacing * static_cast<double>(i) + jitter(rng);
  std::shuffle(v.begin(), v.end(), rng);
  Tensor t(DType::f64, shape);
  for (std::size_t i = 0; i < n; ++i) t.set(i, v[i]);
  return t;
}

// Central differences of a scalar function of one tensor (evaluated in double): (f(x+h e_i) - f(x-h e_i)) /
// 2h.
inline Tensor central_difference(const std::function<double(const Tensor&)>& f, const Tensor& x,
                                 double h = 1e-6) {
  Tensor g(DType::f64, x.shape());
  for (std::size_t i = 0; i < x.numel(); ++i) {
    Tensor plus = x.to(DType::f64), minus = x.to(DType::f64);
    plus.set(i, x.at(i) + h);
    minus.set(i, x.at(i) - h);
    g.set(i, (f(plus) - f(minus)) / (2.0 * h));
  }
  return g;
}

// Central differences of a tensor-valued function: (F(x+h v) - F(x-h v)) / 2h.
inline Tensor directional_difference(const std::function<Tensor(const Tensor&)>& F, const Tensor& x,
                                     const Tensor& v, double h) {
  Tensor plus = x.to(DType::f64), minus = x.to(DType::f64);
  for (std::size_t i = 0; i < x.numel(); ++i) {
    plus.set(i, x.at(i) + h * v.at(i));
    minus.set(i, x.at(i) - h * v.at(i));
  }
  const Tensor fp = F(plus), fm = F(minus);
  Tensor d(DType::f64, fp.shape());
  for (std::size_t i = 0; i < fp.numel(); ++i) d.set(i, (fp.at(i) - fm.at(i)) / (2.0 * h));
  return d;
}

inline std::string flat_to_index(std::size_t flat, const Shape& s) {
  std::vector<std::size_t> idx(static_cast<std::size_t>(s.rank()));
  for (int i = s.rank(); i-- > 0;) {
    idx[static_cast<std::size_t>(i)] = flat % s[i];
    flat /= s[i];
  }
  std::ostringstream os;
  os << "[";
  for (std::size_t i = 0; i < idx.size(); ++i) os << (i ? ", " : "") << idx[i];
  os << "]";
  return os.str();
}

// Every element within atol + rtol |expected|; same shapes. On failure the message names the
// worst element (by how far it is outside its tolerance), both values and the shapes.
class AllCloseMatcher : public Catch::MatcherBase<Tensor> {
 public:
  AllCloseMatcher(Tensor expected, double rtol, double atol)
      : expected_(std::move(expected)), rtol_(rtol), atol_(atol) {}

  bool match(const Tensor& actual) const override {
    std::ostringstream os;
    if (!(actual.shape() == expected_.shape())) {
      os << "has shape " << actual.shape().str() << ", expected shape " << expected_.shape().str();
      detail_ = os.str();
      return false;
    }
    double worst_excess = -1.0;
    std::size_t worst = 0;
    bool ok = true;
    for (std::size_t i = 0; i < expected_.numel(); ++i) {
      const double a = actual.at(i), e = expected_.at(i);
      const double tol = atol_ + rtol_ * std::abs(e);
      const double err = std::abs(a - e);
      const double excess = std::isnan(err) ? std::numeric_limits<double>::infinity() : err / tol;
      if (std::isnan(err) || err > tol) ok = false;
      if (excess > worst_excess) {
        worst_excess = excess;
        worst = i;
      }
    }
    if (expected_.numel() > 0) {
      os.precision(12);
      os << "worst element #" << worst << " " << flat_to_index(worst, expected_.shape()) << ": got "
         << actual.at(worst) << ", expected " << expected_.at(worst) << " (abs error "
         << std::abs(actual.at(worst) - expected_.at(worst)) << ", tolerance "
         << atol_ + rtol_ * std::abs(expected_.at(worst)) << ")";
    }
    detail_ = os.str();
    return ok;
  }
  std::string describe() const override {
    std::ostringstream os;
    os << "is allclose (rtol " << rtol_ << ", atol " << atol_ << ") to the expected tensor of shape "
       << expected_.shape().str() << "; " << detail_;
    return os.str();
  }

 private:
  Tensor expected_;
  double rtol_, atol_;
  mutable std::string detail_;
};

inline AllCloseMatcher AllClose(const Tensor& expected, double rtol, double atol) {
  return AllCloseMatcher(expected, rtol, atol);
}

// Tolerances for central differences in double with step 1e-6: truncation ~h² f''' ≈ 1e-12,
// rounding ~eps |f| / h ≈ 2e-10 |f|; the projected scalars here have |f| ≲ 50, so ≈ 1e-8.
inline jetgrad::GradcheckOptions tight_options() {
  jetgrad::GradcheckOptions o;
  o.step = 1e-6;
  o.atol = 1e-7;
  o.rtol = 1e-6;
  o.seed = 7;
  return o;
}

// gradcheck that must pass; prints the report on failure.
inline void require_gradcheck(const jetgrad::MultiFn& f, const std::vector<Tensor>& inputs,
                              const jetgrad::GradcheckOptions& options = tight_options()) {
  const jetgrad::GradcheckReport r = jetgrad::gradcheck(f, inputs, options);
  INFO(r.str());
  CHECK(r.passed);
  CHECK(r.checked > 0);
}
inline void require_gradcheck(const jetgrad::UnaryFn& f, const Tensor& input,
                              const jetgrad::GradcheckOptions& options = tight_options()) {
  require_gradcheck([&](const std::vector<jetgrad::Var>& xs) { return f(xs[0]); }, std::vector<Tensor>{input},
                    options);
}

}  // namespace gc
