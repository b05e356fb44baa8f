// User-defined primitives, like ADOL-C's external functions or PyTorch's autograd.Function.
// A rule gives its value and its reverse rule; the reverse rule is written once as a template over
// X (Tensor or Var), so the new op takes part in plain sweeps and in recorded ones (gradients of
// gradients) alike.
//
//   struct Cube {
//     static constexpr const char* name = "cube";
//     static Tensor eval(const CustomInputs<Tensor>& x) { return x[0] * x[0] * x[0]; }
//     template <class X>
//     static std::vector<X> vjp(const X& g, const CustomInputs<X>& x, const X& y) {
//       return {g * (3.0 * x[0] * x[0])};
//     }
//   };
//   Var y = custom<Cube>({x});
//
// vjp must be linear in g, as a vector-Jacobian product is: the reverse sweep may hand it g without
// a factor it keeps aside (the adjoint of -y, say) and multiply the results by that factor
// afterwards (docs/decisions.md 18).
//
// A Taylor rule is optional: `static std::vector<Tensor> taylor(const CustomInputs<Tensor>& x,
// std::span<const std::vector<Tensor>* const> series, const Tensor& y, int K)` gets each input's
// coefficients x_1..x_K (shape [D] + shape(x), nullptr for an input with no series) and returns
// y_1..y_K. Without one, a Taylor sweep through the op throws an error naming it.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <span>
#include <vector>

#include "autodiff/var.hpp"

namespace jetgrad {

// The inputs of a custom op as the rule sees them: x[i] is the i-th input's value or variable.
template <class X>
class CustomInputs {
 public:
  CustomInputs(const X* const* items, std::size_t count) : items_(items), count_(count) {}
  const X& operator[](std::size_t i) const { return *items_[i]; }
  std::size_t size() const { return count_; }

 private:
  const X* const* items_;
  std::size_t count_;
};

// The type-erased form the tape stores (one immutable instance per rule type).
class CustomRule {
 public:
  virtual ~CustomRule() = default;
  virtual const char* name() const = 0;
  virtual Tensor eval(const CustomInputs<Tensor>& x) const = 0;
  virtual std::vector<Tensor> vjp(const Tensor& g, const CustomInputs<Tensor>& x, const Tensor& y) const = 0;
  virtual std::vector<Var> vjp(const Var& g, const CustomInputs<Var>& x, const Var& y) const = 0;
  virtual bool has_taylor() const = 0;
  virtual std::vector<Tensor> taylor(const CustomInputs<Tensor>& x,
                                     std::span<const std::vector<Tensor>* const> series, const Tensor& y,
                                     int K) const = 0;
};

template <class Rule>
class CustomRuleModel final : public CustomRule {
 public:
  const char* name() const override { return Rule::name; }
  Tensor eval(const CustomInputs<Tensor>& x) const override { return Rule::eval(x); }
  std::vector<Tensor> vjp(const Tensor& g, const CustomInputs<Tensor>& x, const Tensor& y) const override {
    return Rule::template vjp<Tensor>(g, x, y);
  }
  std::vector<Var> vjp(const Var& g, const CustomInputs<Var>& x, const Var& y) const override {
    return Rule::template vjp<Var>(g, x, y);
  }
  static constexpr bool rule_has_taylor = requires(
      const CustomInputs<Tensor>& x, std::span<const std::vector<Tensor>* const> s, const Tensor& y) {
    { Rule::taylor(x, s, y, 1) } -> std::convertible_to<std::vector<Tensor>>;
  };
  bool has_taylor() const override { return rule_has_taylor; }
  std::vector<Tensor> taylor(const CustomInputs<Tensor>& x,
                             std::span<const std::vector<Tensor>* const> series, const Tensor& y,
                             int K) const override {
    if constexpr (rule_has_taylor) {
      return Rule::taylor(x, series, y, K);
    } else {
      throw Error(std::string("custom op '") + Rule::name +
                  "' has no Taylor rule; give it a static taylor()");
    }
  }
};

// Applies a registered rule (at most Node::max_inputs inputs, all on one tape).
Var apply_custom(const CustomRule& rule, std::span<const Var> inputs);

template <class Rule>
Var custom(std::initializer_list<Var> inputs) {
  static const CustomRuleModel<Rule> rule;  // immutable: safe to share between threads
  return apply_custom(rule, std::span<const Var>(inputs.begin(), inputs.size()));
}

}  // namespace jetgrad
