// User-defined primitives (autodiff/custom.hpp) in the reverse sweeps: grad, reverse over reverse
// (the templated vjp recorded as Var operations), replay, several inputs, and the checks on what a
// rule returns.
#include <cmath>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "autodiff/custom.hpp"
#include "autodiff/functional.hpp"
#include "support/cube_ops.hpp"
#include "support/gradcheck_support.hpp"
#include "support/messages.hpp"

using namespace jetgrad;
using Catch::Contains;
using gc::AllClose;

namespace {

Tensor rnd(const Shape& s, double lo, double hi, std::uint64_t seed) {
  return gc::random_tensor(s, lo, hi, seed);
}

using jetgrad::test::Cube;
using jetgrad::test::CubeWithTaylor;
using jetgrad::test::message_of;

// Two broadcasting inputs, and a vjp that uses the output: y = a e^b (a: (2,3), b: (3,)),
// ā = g e^b = g y / a is avoided; b̄ = Σ_rows g y.
struct ScaledExp {
  static constexpr const char* name = "scaled_exp";
  static Tensor eval(const CustomInputs<Tensor>& x) { return x[0] * exp(x[1]); }
  template <class X>
  static std::vector<X> vjp(const X& g, const CustomInputs<X>& x, const X& y) {
    return {g * exp(x[1]), sum_to(g * y, x[1].shape())};
  }
};

struct TooFew {
  static constexpr const char* name = "too_few";
  static Tensor eval(const CustomInputs<Tensor>& x) { return x[0] * x[1]; }
  template <class X>
  static std::vector<X> vjp(const X& g, const CustomInputs<X>&, const X&) {
    return {g};
  }
};
struct WrongShape {
  static constexpr const char* name = "wrong_shape";
  static Tensor eval(const CustomInputs<Tensor>& x) { return sum(x[0]); }
  template <class X>
  static std::vector<X> vjp(const X& g, const CustomInputs<X>&, const X&) {
    return {g};  // should be broadcast to x's shape
  }
};

}  // namespace

TEST_CASE("custom op: value and gradient", "[custom][reverse]") {
  const Tensor x0 = rnd(Shape{2, 3}, -1.5, 1.5, 1);
  Tape tape;
  const Var x = tape.variable(x0);
  const Var y = custom<Cube>({x});
  CHECK_THAT(y.value(), AllClose(x0 * x0 * x0, 0, 0));
  CHECK(y.needs_grad());
  CHECK_THAT(tape.listing(), Contains("Custom(cube)"));
  CHECK_THAT(tape.gradient(sum(y), {x})[0], AllClose(3.0 * x0 * x0, 1e-15, 0));
  // Composed with built-in ops on both sides, against finite differences.
  gc::require_gradcheck([](const Var& v) { return sin(custom<Cube>({tanh(v) + 0.5})) * v; }, x0);
  // Several inputs with broadcasting, and a rule that uses the output.
  const Tensor a0 = rnd(Shape{2, 3}, -1, 1, 2), b0 = rnd(Shape{3}, -1, 1, 3);
  gc::require_gradcheck(
      [](const std::vector<Var>& v) {
        return custom<ScaledExp>({v[0], sin(v[1])}) * v[0];
      },
      {a0, b0});
  // A constant input gets no cotangent and the variable one is still right.
  Tape t2;
  const Var b = t2.variable(b0);
  const Var yc = custom<ScaledExp>({t2.constant(a0), b});
  CHECK_THAT(t2.gradient(sum(yc), {b})[0], AllClose(sum(a0 * exp(b0), 0), 1e-14, 1e-15));
}

TEST_CASE("custom op: reverse over reverse (hvp, Hessian) through the templated vjp",
          "[custom][reverse][hvp]") {
  const Tensor x0 = rnd(Shape{4}, -1, 1, 10);
  const Tensor v = rnd(Shape{4}, -1, 1, 11);
  // f = Σ sin(cube(x)): H = diag(6x cos(x³) - 9x⁴ sin(x³)).
  const UnaryFn f = [](const Var& x) { return sum(sin(custom<Cube>({x}))); };
  Tensor hv_ref(DType::f64, Shape{4});
  for (std::size_t i = 0; i < 4; ++i) {
    const double xi = x0.at(i), c = xi * xi * xi;
    hv_ref.set(i, (6 * xi * std::cos(c) - 9 * std::pow(xi, 4) * std::sin(c)) * v.at(i));
  }
  const Tensor hv = hvp(f, x0, v, HvpMethod::reverse_over_reverse);
  CHECK_THAT(hv, AllClose(hv_ref, 1e-13, 1e-14));
  // The recorded gradient contains the vjp's own operations: its gradient is the Hessian row.
  Tape tape;
  const Var x = tape.variable(x0);
  const Var y = f(x);
  const Var g = tape.gradient_vars(y, std::span<const Var>(&x, 1))[0];
  CHECK(g.needs_grad());
  CHECK_THAT(g.value(), AllClose(grad(f, x0), 1e-15, 0));
  CHECK_THAT(tape.gradient(sum(g * v), {x})[0], AllClose(hv_ref, 1e-13, 1e-14));
  // Two inputs: against central differences of the gradient.
  const Tensor a0 = rnd(Shape{2, 3}, -1, 1, 12), b0 = rnd(Shape{3}, -1, 1, 13);
  const Tensor va = rnd(Shape{2, 3}, -1, 1, 14), vb = rnd(Shape{3}, -1, 1, 15);
  auto grads = [](const Tensor& a, const Tensor& b) {
    return grad(
        [](const std::vector<Var>& p) {
          return sum(custom<ScaledExp>({p[0] * p[0], p[1]}) * p[1]);
        },
        {a, b});
  };
  Tape t2;
  const Var a = t2.variable(a0), b = t2.variable(b0);
  const Var s = sum(custom<ScaledExp>({a * a, b}) * b);
  const Var wrt[] = {a, b};
  const std::vector<Var> gv = t2.gradient_vars(s, wrt);
  const std::vector<Tensor> hab = t2.gradient(sum(gv[0] * va) + sum(gv[1] * vb), wrt);
  const double h = 1e-5;
  const auto gp = grads(a0 + h * va, b0 + h * vb), gm = grads(a0 - h * va, b0 - h * vb);
  CHECK_THAT(hab[0], AllClose((gp[0] - gm[0]) / (2 * h), 1e-6, 1e-7));
  CHECK_THAT(hab[1], AllClose((gp[1] - gm[1]) / (2 * h), 1e-6, 1e-7));
}

TEST_CASE("custom op: Taylor over reverse needs a Taylor rule, and uses it when given", "[custom][hvp]") {
  const Tensor x0 = rnd(Shape{3}, -1, 1, 20), v = rnd(Shape{3}, -1, 1, 21);
  const UnaryFn without = [](const Var& x) { return sum(sin(custom<Cube>({x}))); };
  CHECK_THAT(message_of<Error>([&] { (void)hvp(without, x0, v); }), Contains("cube"));
  const UnaryFn with = [](const Var& x) { return sum(sin(custom<CubeWithTaylor>({x}))); };
  CHECK_THAT(hvp(with, x0, v), AllClose(hvp(without, x0, v, HvpMethod::reverse_over_reverse), 1e-13, 1e-14));
  CHECK_THAT(hessian(with, x0),
             AllClose(hessian([](const Var& x) { return sum(sin(x * x * x)); }, x0), 1e-13, 1e-14));
}

TEST_CASE("custom op: replay re-evaluates it, and its recorded gradient", "[custom][replay]") {
  const Tensor x0 = rnd(Shape{2, 2}, -1, 1, 30), x1 = rnd(Shape{2, 2}, -1, 1, 31);
  const Tensor b0 = rnd(Shape{2}, -1, 1, 32), b1 = rnd(Shape{2}, -1, 1, 33);
  auto f = [](const Var& x, const Var& b) { return sum(custom<ScaledExp>({custom<Cube>({x}), b}) * x); };
  Tape tape;
  const Var x = tape.variable(x0), b = tape.variable(b0);
  const Var y = f(x, b);
  const Var wrt[] = {x, b};
  const std::vector<Var> g = tape.gradient_vars(y, wrt);
  tape.replay({x1, b1});
  Tape fresh;
  const Var fx = fresh.variable(x1), fb = fresh.variable(b1);
  const Var fy = f(fx, fb);
  CHECK_THAT(y.value(), AllClose(fy.value(), 0, 0));
  const std::vector<Tensor> fg = fresh.gradient(fy, {fx, fb});
  CHECK_THAT(g[0].value(), AllClose(fg[0], 1e-14, 1e-15));
  CHECK_THAT(g[1].value(), AllClose(fg[1], 1e-14, 1e-15));
  CHECK_THAT(tape.gradient(y, wrt)[0], AllClose(fg[0], 1e-14, 1e-15));
}

TEST_CASE("custom op: a rule returning the wrong cotangents is refused", "[custom][errors]") {
  Tape tape;
  const Var a = tape.variable(Tensor::ones(Shape{2})), b = tape.variable(Tensor::ones(Shape{2}));
  const Var y = sum(custom<TooFew>({a, b}));
  CHECK_THAT(message_of<Error>([&] {
               (void)tape.gradient(y, {a, b});
             }),
             Contains("too_few") && Contains("2"));
  const Var z = custom<WrongShape>({a});
  const std::string msg = message_of<ShapeError>([&] { (void)tape.gradient(z, {a}); });
  CHECK_THAT(msg, Contains("wrong_shape") && Contains("(2,)"));
  // And the recorded sweep checks the same.
  CHECK_THROWS_AS(tape.gradient_vars(z, std::span<const Var>(&a, 1)), ShapeError);
}
