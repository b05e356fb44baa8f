// Tiny models for the optim tests: a Module with one Parameter whose "forward" is a closed-form
// function of that parameter, and an Objective over it.
#pragma once

#include <concepts>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "autodiff/autodiff.hpp"
#include "messages.hpp"
#include "nn/module.hpp"
#include "optim/objective.hpp"

namespace jetgrad::test {

class FunctionModel : public nn::Module {
 public:
  using Fn = std::function<Var(const Var&)>;
  FunctionModel(Tensor init, Fn f, std::string name = "weight")
      : theta_(register_parameter(std::move(name), std::move(init))), f_(std::move(f)) {}
  // The input only says which tape to record on.
  Var forward(const Var& x) override { return f_(theta_.var(*x.tape())); }
  std::string describe() const override { return "FunctionModel"; }
  nn::Parameter& theta() { return theta_; }
  optim::Objective objective() {
    return optim::Objective(parameters(), [this](Tape& tape) { return (*this)(tape.constant(Tensor(0.0))); });
  }

 private:
  nn::Parameter& theta_;
  Fn f_;
};

inline Tensor vec(std::initializer_list<double> v, DType dtype = DType::f64) {
  return Tensor::from(Shape{v.size()}, v, dtype);
}

// ½ θᵀ A θ for a symmetric n × n matrix A (θ of shape (n)).
inline FunctionModel::Fn quadratic(const Tensor& a) {
  return [a](const Var& theta) {
    const std::size_t n = theta.numel();
    const Var column = reshape(theta, Shape{n, 1});
    return 0.5 * sum(column * matmul(a, column));
  };
}

// The valley ½ (w₁ w₂ − 1)²: minima (a, 1/a) with Hessian trace a² + 1/a².
inline Var valley(const Var& w) {
  const Var r = slice(w, 0, 0, 1) * slice(w, 0, 1, 2) - 1.0;
  return 0.5 * sum(r * r);
}

inline std::vector<double> values_of(const Tensor& t) {
  const Tensor d = t.to(DType::f64);
  const double* p = d.data<double>();
  return std::vector<double>(p, p + d.numel());
}

// Every element of t within `tol` (absolute) of `expected`.
inline void check_close(const Tensor& t, const std::vector<double>& expected, double tol) {
  const std::vector<double> got = values_of(t);
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    CHECK(got[i] == Approx(expected[i]).margin(tol).epsilon(0));
  }
}
// The same against a tensor (a template so that a braced list of numbers picks the form above).
template <std::same_as<Tensor> T>
void check_close(const Tensor& got, const T& expected, double tol) {
  check_close(got, values_of(expected), tol);
}

inline bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

}  // namespace jetgrad::test
