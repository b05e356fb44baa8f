// Leaves (inputs and constants: never evaluated by a sweep) and user-defined primitives.
#pragma once

#include "autodiff/custom.hpp"
#include "autodiff/ops/rule_support.hpp"
#include "autodiff/ops/taylor_rules.hpp"

namespace jetgrad::rules {

// Inputs are seeded by the sweeps themselves, constants have zero series.
struct InputOp {
  static Tensor eval(const EvalArgs&) { throw Error("internal: an input has no rule to evaluate"); }
  template <class X>
  static void vjp(const VjpArgs<X>&, Cotangents<X>&) {}
  static void taylor(const TaylorArgs&, Series&) {}
};

struct ConstantOp {
  static Tensor eval(const EvalArgs&) { throw Error("internal: a constant has no rule to evaluate"); }
  template <class X>
  static void vjp(const VjpArgs<X>&, Cotangents<X>&) {}
  static void taylor(const TaylorArgs&, Series&) {}
};

struct CustomOp {
  static Tensor eval(const EvalArgs& e) {
    return e.at().custom->eval(CustomInputs<Tensor>(e.in.data(), static_cast<std::size_t>(e.num_inputs)));
  }
  template <class X>
  static void vjp(const VjpArgs<X>& a, Cotangents<X>& gx) {
    const CustomRule& rule = *a.at().custom;
    std::size_t n = 0;
    while (n < a.in.size() && a.in[n] != nullptr) ++n;
    std::vector<X> g = rule.vjp(a.g, CustomInputs<X>(a.in.data(), n), a.out);
    if (g.size() != n) {
      throw Error(std::string("custom op '") + rule.name() + "': vjp returned " + std::to_string(g.size()) +
                  " cotangents, expected one per input (" + std::to_string(n) + ")");
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (g[i].shape() != a.x(static_cast<int>(i)).shape()) {
        throw ShapeError(std::string("custom op '") + rule.name() + "': cotangent " + std::to_string(i) +
                         " has shape " + g[i].shape().str() + ", expected the input's shape " +
                         a.x(static_cast<int>(i)).shape().str());
      }
      gx[i] = std::move(g[i]);
    }
  }
  static void taylor(const TaylorArgs& t, Series& ys) {
    const CustomRule& rule = *t.at().custom;
    std::array<const Tensor*, Node::max_inputs> values{};
    std::array<const Series*, Node::max_inputs> series{};
    for (int i = 0; i < t.num_inputs; ++i) {
      values[static_cast<std::size_t>(i)] = t.x(i).value;
      series[static_cast<std::size_t>(i)] = t.x(i).zero() ? nullptr : t.x(i).series;
    }
    const auto n = static_cast<std::size_t>(t.num_inputs);
    ys = rule.taylor(CustomInputs<Tensor>(values.data(), n), std::span<const Series* const>(series.data(), n),
                     t.y0(), t.K);
    if (ys.size() != static_cast<std::size_t>(t.K)) {
      throw Error(std::string("custom op '") + rule.name() + "': taylor returned " +
                  std::to_string(ys.size()) + " coefficients, expected K = " + std::to_string(t.K));
    }
  }
};

}  // namespace jetgrad::rules
