// Reverse mode of every Var operation (autodiff/var.hpp), in double:
//  - first order: jetgrad::gradcheck (reverse vs central differences on ⟨w, f(x)⟩ for a random w),
//    plus independent central differences of plain-C++ reference functions for a few ops;
//  - second order: reverse over reverse H v (Tape::gradient_vars, then a gradient of ⟨∇s, v⟩)
//    against central differences of the reverse gradient;
//  - gradcheck itself: a custom op with a wrong vjp must fail it, and the report names the entry;
//  - the documented subgradients at kinks (relu'(0) = abs'(0) = 0, ties of max shared equally,
//    maximum's ties to the first operand, clamp passing at its bounds).
#include <cmath>
#include <functional>
#include <numbers>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "autodiff/custom.hpp"
#include "autodiff/functional.hpp"
#include "support/cube_ops.hpp"
#include "support/gradcheck_support.hpp"

using namespace jetgrad;
using gc::AllClose;

namespace {

struct Case {
  std::string name;
  MultiFn f;
  std::vector<Tensor> inputs;
};

Tensor rnd(const Shape& s, double lo, double hi, std::uint64_t seed) {
  return gc::random_tensor(s, lo, hi, seed);
}

// Values with |x| in [0.2, 2] and random signs: away from the kinks of abs/relu at 0.
Tensor away_from_zero(const Shape& s, std::uint64_t seed) {
  Tensor t = rnd(s, 0.2, 2.0, seed);
  const Tensor signs = rnd(s, -1.0, 1.0, seed + 1000);
  for (std::size_t i = 0; i < t.numel(); ++i) t.set(i, signs.at(i) < 0 ? -t.at(i) : t.at(i));
  return t;
}

Case unary(std::string name, std::function<Var(const Var&)> f, Tensor x) {
  return {std::move(name), [f](const std::vector<Var>& v) { return f(v[0]); }, {std::move(x)}};
}
Case binary(std::string name, std::function<Var(const Var&, const Var&)> f, Tensor a, Tensor b) {
  return {std::move(name),
          [f](const std::vector<Var>& v) { return f(v[0], v[1]); },
          {std::move(a), std::move(b)}};
}

// The scalar s(x) = Σ w ⊙ f(x) with a fixed random w of f's output shape.
struct Projected {
  MultiFn f;
  Tensor w;
  Projected(MultiFn fn, const std::vector<Tensor>& xs) : f(std::move(fn)) {
    Tape tape;
    std::vector<Var> vars;
    for (const Tensor& x : xs) vars.push_back(tape.variable(x));
    w = gc::random_tensor(f(vars).shape(), -1.0, 1.0, 99);
  }
  Var operator()(const std::vector<Var>& vars) const { return sum(f(vars) * w); }

  std::vector<Tensor> gradient(const std::vector<Tensor>& xs) const {
    Tape tape;
    std::vector<Var> vars;
    for (const Tensor& x : xs) vars.push_back(tape.variable(x));
    return tape.gradient((*this)(vars), vars);
  }
  // Reverse over reverse: ∇_x ⟨∇_x s, v⟩ = H v.
  std::vector<Tensor> hvp(const std::vector<Tensor>& xs, const std::vector<Tensor>& vs) const {
    Tape tape;
    std::vector<Var> vars;
    for (const Tensor& x : xs) vars.push_back(tape.variable(x));
    const std::vector<Var> g = tape.gradient_vars((*this)(vars), vars);
    REQUIRE(g.size() == xs.size());
    Var inner = sum(g[0] * vs[0]);
    for (std::size_t k = 1; k < g.size(); ++k) inner = inner + sum(g[k] * vs[k]);
    return tape.gradient(inner, vars);
  }
};

// H v by reverse over reverse against (∇s(x + h v) - ∇s(x - h v)) / 2h, h = 1e-5: truncation
// h² |∂⁴s| ≈ 1e-10, rounding eps |∇s| / h ≈ 1e-11 |∇s|; tolerance 1e-6 leaves a wide margin
// while a wrong second-order rule is off by O(1).
void check_reverse_over_reverse(const Case& c) {
  const Projected s(c.f, c.inputs);
  std::vector<Tensor> vs;
  for (std::size_t k = 0; k < c.inputs.size(); ++k)
    vs.push_back(rnd(c.inputs[k].shape(), -1.0, 1.0, 500 + k));
  const std::vector<Tensor> hv = s.hvp(c.inputs, vs);
  const double h = 1e-5;
  std::vector<Tensor> plus = c.inputs, minus = c.inputs;
  for (std::size_t k = 0; k < c.inputs.size(); ++k) {
    plus[k] = c.inputs[k] + h * vs[k];
    minus[k] = c.inputs[k] - h * vs[k];
  }
  const std::vector<Tensor> gp = s.gradient(plus), gm = s.gradient(minus);
  for (std::size_t k = 0; k < c.inputs.size(); ++k) {
    INFO("second order, input " << k);
    const Tensor fd = (gp[k] - gm[k]) / (2.0 * h);
    CHECK_THAT(hv[k], AllClose(fd, 1e-6, 1e-6));
  }
}

void run_cases(const std::vector<Case>& cases, bool second_order = true) {
  for (const Case& c : cases) {
    INFO("case: " << c.name);
    gc::require_gradcheck(c.f, c.inputs);
    if (second_order) check_reverse_over_reverse(c);
  }
}

}  // namespace

// ---- unary -------------------------------------------------------------------------------------

TEST_CASE("reverse mode: smooth unary ops gradcheck and reverse-over-reverse", "[reverse][unary]") {
  const Shape s{2, 3};
  std::vector<Case> cases = {
      unary(
          "neg", [](const Var& x) { return -x; }, rnd(s, -2, 2, 1)),
      unary(
          "x + c", [](const Var& x) { return x + 0.75; }, rnd(s, -2, 2, 41)),
      unary(
          "x - c", [](const Var& x) { return x - 0.25; }, rnd(s, -2, 2, 42)),
      unary(
          "c - x", [](const Var& x) { return 1.5 - x; }, rnd(s, -2, 2, 43)),
      unary(
          "c * x", [](const Var& x) { return -2.5 * x; }, rnd(s, -2, 2, 44)),
      unary(
          "exp", [](const Var& x) { return exp(x); }, rnd(s, -2, 2, 2)),
      unary(
          "log", [](const Var& x) { return log(x); }, rnd(s, 0.5, 3, 3)),
      unary(
          "sin", [](const Var& x) { return sin(x); }, rnd(s, -3, 3, 4)),
      unary(
          "cos", [](const Var& x) { return cos(x); }, rnd(s, -3, 3, 5)),
      unary(
          "tan", [](const Var& x) { return tan(x); }, rnd(s, -1.2, 1.2, 6)),
      unary(
          "tanh", [](const Var& x) { return tanh(x); }, rnd(s, -2, 2, 7)),
      unary(
          "sinh", [](const Var& x) { return sinh(x); }, rnd(s, -2, 2, 8)),
      unary(
          "cosh", [](const Var& x) { return cosh(x); }, rnd(s, -2, 2, 9)),
      unary(
          "sqrt", [](const Var& x) { return sqrt(x); }, rnd(s, 0.3, 3, 10)),
      unary(
          "square", [](const Var& x) { return square(x); }, rnd(s, -2, 2, 11)),
      unary(
          "reciprocal+", [](const Var& x) { return reciprocal(x); }, rnd(s, 0.5, 2, 12)),
      unary(
          "reciprocal-", [](const Var& x) { return reciprocal(x); }, rnd(s, -2, -0.5, 13)),
      unary(
          "sigmoid", [](const Var& x) { return sigmoid(x); }, rnd(s, -4, 4, 14)),
      unary(
          "softplus", [](const Var& x) { return softplus(x); }, rnd(s, -4, 4, 15)),
      unary(
          "erf", [](const Var& x) { return erf(x); }, rnd(s, -2, 2, 16)),
      unary(
          "abs (away from 0)", [](const Var& x) { return abs(x); }, away_from_zero(s, 17)),
      unary(
          "relu (away from 0)", [](const Var& x) { return relu(x); }, away_from_zero(s, 18)),
      unary(
          "pow 0", [](const Var& x) { return pow(x, 0.0); }, rnd(s, -2, 2, 19)),
      unary(
          "pow 1", [](const Var& x) { return pow(x, 1.0); }, rnd(s, -2, 2, 20)),
      unary(
          "pow 2", [](const Var& x) { return pow(x, 2.0); }, rnd(s, -2, 2, 21)),
      unary(
          "pow 3", [](const Var& x) { return pow(x, 3.0); }, rnd(s, -2, 2, 22)),
      unary(
          "pow -2 (negative x)", [](const Var& x) { return pow(x, -2.0); }, rnd(s, -2, -0.5, 23)),
      unary(
          "pow 0.5", [](const Var& x) { return pow(x, 0.5); }, rnd(s, 0.3, 3, 24)),
      unary(
          "pow -1.5", [](const Var& x) { return pow(x, -1.5); }, rnd(s, 0.3, 3, 25)),
      unary(
          "pow 2.5", [](const Var& x) { return pow(x, 2.5); }, rnd(s, 0.3, 3, 26)),
      unary(
          "composite", [](const Var& x) { return sum(sin(x) * exp(x)) + 2.0; }, rnd(s, -1, 1, 28)),
      unary(
          "0-d input", [](const Var& x) { return exp(sin(x)) * x; }, rnd(Shape{}, -1, 1, 29)),
  };
  run_cases(cases);
}

TEST_CASE("reverse mode: stop_gradient blocks exactly its branch", "[reverse][unary]") {
  const Tensor x0 = rnd(Shape{4}, -2, 2, 31);
  const Tensor g = grad([](const Var& x) { return sum(x * stop_gradient(x)); }, x0);
  CHECK_THAT(g, AllClose(x0, 0, 0));  // d/dx (x · c) with c = x frozen
}

// ---- binary ------------------------------------------------------------------------------------

TEST_CASE("reverse mode: binary ops on two variables", "[reverse][binary]") {
  const Shape s{2, 3};
  const Tensor a = rnd(s, -2, 2, 40), b_any = rnd(s, -2, 2, 41), b_nonzero = away_from_zero(s, 42);
  // b apart from a by at least 0.2, so maximum/minimum never meet a tie within a step.
  const Tensor b_apart = a + away_from_zero(s, 43);
  std::vector<Case> cases = {
      binary(
          "a + b", [](const Var& x, const Var& y) { return x + y; }, a, b_any),
      binary(
          "a - b", [](const Var& x, const Var& y) { return x - y; }, a, b_any),
      binary(
          "a * b", [](const Var& x, const Var& y) { return x * y; }, a, b_any),
      binary(
          "a / b", [](const Var& x, const Var& y) { return x / y; }, a, b_nonzero),
      binary(
          "pow(a, b)", [](const Var& x, const Var& y) { return pow(x, y); }, rnd(s, 0.5, 2, 44), b_any),
      binary(
          "maximum", [](const Var& x, const Var& y) { return maximum(x, y); }, a, b_apart),
      binary(
          "minimum", [](const Var& x, const Var& y) { return minimum(x, y); }, a, b_apart),
      binary(
          "a * a (same var twice)", [](const Var& x, const Var&) { return x * x * x; }, a, b_any),
      binary(
          "compound assignment",
          [](const Var& x, const Var& y) {
            Var z = x;
            z += y;
            z *= x;
            z -= y;
            z /= (y * y + 1.0);
            return z;
          },
          a, b_any),
  };
  run_cases(cases);
}

TEST_CASE("reverse mode: Var with Tensor and number operands", "[reverse][binary]") {
  const Shape s{2, 3};
  const Tensor x0 = away_from_zero(s, 50);
  const Tensor c = away_from_zero(s, 51);
  const Tensor pos = rnd(s, 0.5, 2, 52);
  std::vector<Case> cases = {
      unary(
          "x + T", [c](const Var& x) { return x + c; }, x0),
      unary(
          "T + x", [c](const Var& x) { return c + x; }, x0),
      unary(
          "x + 2", [](const Var& x) { return x + 2.0; }, x0),
      unary(
          "2 + x", [](const Var& x) { return 2.0 + x; }, x0),
      unary(
          "x - T", [c](const Var& x) { return x - c; }, x0),
      unary(
          "T - x", [c](const Var& x) { return c - x; }, x0),
      unary(
          "x - 2", [](const Var& x) { return x - 2.0; }, x0),
      unary(
          "2 - x", [](const Var& x) { return 2.0 - x; }, x0),
      unary(
          "x * T", [c](const Var& x) { return x * c; }, x0),
      unary(
          "T * x", [c](const Var& x) { return c * x; }, x0),
      unary(
          "x * 3", [](const Var& x) { return x * 3.0; }, x0),
      unary(
          "3 * x", [](const Var& x) { return 3.0 * x; }, x0),
      unary(
          "x / T", [c](const Var& x) { return x / c; }, x0),
      unary(
          "T / x", [c](const Var& x) { return c / x; }, x0),
      unary(
          "x / 3", [](const Var& x) { return x / 3.0; }, x0),
      unary(
          "3 / x", [](const Var& x) { return 3.0 / x; }, x0),
      unary(
          "pow(x, T)", [c](const Var& x) { return pow(x, c); }, pos),
      unary(
          "pow(T, x)", [pos](const Var& x) { return pow(pos, x); }, x0),
      unary(
          "pow(2, x)", [](const Var& x) { return pow(2.0, x); }, x0),
      unary(
          "maximum(x, T)", [c](const Var& x) { return maximum(x, c); }, c + away_from_zero(s, 53)),
      unary(
          "maximum(T, x)", [c](const Var& x) { return maximum(c, x); }, c + away_from_zero(s, 54)),
      unary(
          "maximum(x, 0.5)", [](const Var& x) { return maximum(x, 0.5); }, x0 + 0.5),
      unary(
          "maximum(0.5, x)", [](const Var& x) { return maximum(0.5, x); }, x0 + 0.5),
      unary(
          "minimum(x, T)", [c](const Var& x) { return minimum(x, c); }, c + away_from_zero(s, 55)),
      unary(
          "minimum(T, x)", [c](const Var& x) { return minimum(c, x); }, c + away_from_zero(s, 56)),
      unary(
          "minimum(x, 0.5)", [](const Var& x) { return minimum(x, 0.5); }, x0 + 0.5),
      unary(
          "minimum(0.5, x)", [](const Var& x) { return minimum(0.5, x); }, x0 + 0.5),
  };
  run_cases(cases);
}

TEST_CASE("reverse mode: broadcasting binary ops", "[reverse][binary][broadcast]") {
  struct Pair {
    Shape a, b;
  };
  const std::vector<Pair> pairs = {{{3, 1}, {1, 4}}, {{5}, {2, 5}}, {{2, 5}, {5}},
                                   {{}, {2, 3}},     {{2, 3}, {}},  {{2, 1, 3}, {4, 1}}};
  for (const Pair& p : pairs) {
    INFO("shapes " << p.a.str() << " x " << p.b.str());
    const Tensor a = rnd(p.a, -2, 2, 60), b = away_from_zero(p.b, 61), pa = rnd(p.a, 0.5, 2, 62);
    // For maximum/minimum, apart values: a in [-2, -1.1] ∪ b in [-0.9, 0.9] would tie nowhere.
    const Tensor a_low = rnd(p.a, -3, -2.1, 63), b_mid = rnd(p.b, -1.9, 1.9, 64);
    const Tensor cond_src = away_from_zero(p.a, 65);
    std::vector<Case> cases = {
        binary(
            "add", [](const Var& x, const Var& y) { return x + y; }, a, b),
        binary(
            "sub", [](const Var& x, const Var& y) { return x - y; }, a, b),
        binary(
            "mul", [](const Var& x, const Var& y) { return x * y; }, a, b),
        binary(
            "div", [](const Var& x, const Var& y) { return x / y; }, a, b),
        binary(
            "pow", [](const Var& x, const Var& y) { return pow(x, y); }, pa, b),
        binary(
            "maximum", [](const Var& x, const Var& y) { return maximum(x, y); }, a_low, b_mid),
        binary(
            "minimum", [](const Var& x, const Var& y) { return minimum(x, y); }, a_low, b_mid),
        binary(
            "where",
            [cond_src](const Var& x, const Var& y) { return where(greater(cond_src, x * 0.0), x, y); }, a, b),
    };
    run_cases(cases);
  }
}

TEST_CASE("reverse mode: comparisons give masks without gradient; where routes it", "[reverse][compare]") {
  const Tensor a0 = Tensor::from({2, 3}, {1, -2, 3, 0.5, 0.5, -1});
  const Tensor b0 = Tensor::from({2, 3}, {0, -2, 4, 0.5, -0.5, 1});
  using CmpFn = Var (*)(const Var&, const Var&);
  struct Cmp {
    const char* name;
    CmpFn fn;
    std::function<bool(double, double)> ref;
  };
  const std::vector<Cmp> cmps = {
      {"less", static_cast<CmpFn>(&less), [](double x, double y) { return x < y; }},
      {"less_equal", static_cast<CmpFn>(&less_equal), [](double x, double y) { return x <= y; }},
      {"greater", static_cast<CmpFn>(&greater), [](double x, double y) { return x > y; }},
      {"greater_equal", static_cast<CmpFn>(&greater_equal), [](double x, double y) { return x >= y; }},
      {"equal", static_cast<CmpFn>(&equal), [](double x, double y) { return x == y; }},
      {"not_equal", static_cast<CmpFn>(&not_equal), [](double x, double y) { return x != y; }},
  };
  for (const Cmp& c : cmps) {
    INFO(c.name);
    Tape tape;
    const Var a = tape.variable(a0), b = tape.variable(b0);
    const Var m = c.fn(a, b);
    CHECK_FALSE(m.needs_grad());
    Tensor expected(DType::f64, a0.shape());
    for (std::size_t i = 0; i < 6; ++i) expected.set(i, c.ref(a0.at(i), b0.at(i)) ? 1.0 : 0.0);
    CHECK_THAT(m.value(), AllClose(expected, 0, 0));
    // d/da Σ m a b = m b exactly (the mask is a constant), d/db = m a.
    const auto g = tape.gradient(sum(m * a * b), {a, b});
    CHECK_THAT(g[0], AllClose(expected * b0, 0, 0));
    CHECK_THAT(g[1], AllClose(expected * a0, 0, 0));
  }
  // The operator sugar and mixed forms record the same comparisons.
  Tape tape;
  const Var a = tape.variable(a0), b = tape.variable(b0);
  CHECK_THAT((a < 0.5).value(), AllClose(less(a0, Tensor(0.5)), 0, 0));
  CHECK_THAT((a > b).value(), AllClose(greater(a0, b0), 0, 0));
  CHECK_THAT((a <= 0.5).value(), AllClose(less_equal(a0, Tensor(0.5)), 0, 0));
  CHECK_THAT(less(a0, b).value(), AllClose(less(a0, b0), 0, 0));
  CHECK_THAT(greater(1.0, b).value(), AllClose(less(b0, Tensor(1.0)), 0, 0));

  // where: the gradient goes to a where cond holds and to b elsewhere; none to cond's operand.
  const Var w = where(a > b, a * 2.0, b * 3.0);
  const auto g = tape.gradient(sum(w), {a, b});
  const Tensor mask = greater(a0, b0);
  CHECK_THAT(g[0], AllClose(mask * 2.0, 0, 0));
  CHECK_THAT(g[1], AllClose((1.0 - mask) * 3.0, 0, 0));
  const auto g2 = tape.gradient(sum(where(a > b, a, 5.0) + where(a > b, 5.0, b)), {a, b});
  CHECK_THAT(g2[0], AllClose(mask, 0, 0));
  CHECK_THAT(g2[1], AllClose(1.0 - mask, 0, 0));
}

TEST_CASE("reverse mode: clamp", "[reverse][clamp]") {
  // Away from the bounds ±1 (|x ∓ 1| >= 0.1): gradcheck.
  Tensor x0 = rnd(Shape{3, 4}, -2, 2, 70);
  for (std::size_t i = 0; i < x0.numel(); ++i)
    if (std::abs(std::abs(x0.at(i)) - 1.0) < 0.1) x0.set(i, x0.at(i) * 0.5);
  run_cases({unary(
      "clamp", [](const Var& x) { return clamp(x, -1.0, 1.0) * x; }, x0)});
  // Documented: at the bounds the gradient passes (subgradient 1); outside it is 0.
  const Tensor at = Tensor::from({5}, {-1.0, 1.0, -3.0, 0.25, 3.0});
  const Tensor g = grad([](const Var& x) { return sum(clamp(x, -1.0, 1.0)); }, at);
  CHECK_THAT(g, AllClose(Tensor::from({5}, {1, 1, 0, 1, 0}), 0, 0));
  Tape tape;
  const Var x = tape.variable(at);
  CHECK_THROWS_AS(clamp(x, 1.0, -1.0), ValueError);
}

// ---- reductions --------------------------------------------------------------------------------

TEST_CASE("reverse mode: reductions over all elements and along each axis of a rank-3 tensor",
          "[reverse][reduce]") {
  const Shape s{2, 3, 4};
  const Tensor x = rnd(s, -2, 2, 80);
  const Tensor distinct = gc::distinct_tensor(s, -3, 3, 81);
  const Tensor near_one = rnd(s, 0.5, 1.5, 82);
  using AllFn = Var (*)(const Var&);
  using AxisFn = Var (*)(const Var&, int, bool);
  struct Red {
    const char* name;
    AllFn all;
    AxisFn along;
    Tensor at;
  };
  const std::vector<Red> reds = {
      {"sum", static_cast<AllFn>(&sum), static_cast<AxisFn>(&sum), x},
      {"mean", static_cast<AllFn>(&mean), static_cast<AxisFn>(&mean), x},
      {"max", static_cast<AllFn>(&max), static_cast<AxisFn>(&max), distinct},
      {"min", static_cast<AllFn>(&min), static_cast<AxisFn>(&min), distinct},
      {"prod", static_cast<AllFn>(&prod), static_cast<AxisFn>(&prod), near_one},
      {"logsumexp", static_cast<AllFn>(&logsumexp), static_cast<AxisFn>(&logsumexp), x},
  };
  for (const Red& r : reds) {
    INFO(r.name);
    // Composed with a smooth op, so the second-order check sees a nonzero Hessian.
    run_cases({unary(
        std::string(r.name) + " all", [&r](const Var& v) { return r.all(v * v * 0.5 + v); }, r.at)});
    for (int axis : {0, 1, 2, -1, -3}) {
      for (bool keep : {false, true}) {
        INFO("axis " << axis << (keep ? ", keepdims" : ""));
        const Case c = unary(
            std::string(r.name) + " axis",
            [&r, axis, keep](const Var& v) { return r.along(v, axis, keep) * r.along(v, axis, keep); }, r.at);
        // Output shapes are right too.
        Tape tape;
        const Var out = r.along(tape.variable(r.at), axis, keep);
        const int a = axis < 0 ? axis + 3 : axis;
        Shape expected;
        for (int i = 0; i < 3; ++i) {
          if (i != a)
            expected.push_back(s[i]);
          else if (keep)
            expected.push_back(1);
        }
        CHECK(out.shape() == expected);
        run_cases({c});
      }
    }
  }
}

TEST_CASE("reverse mode: softmax and log_softmax along each axis", "[reverse][reduce]") {
  const Tensor x = rnd(Shape{2, 3, 4}, -2, 2, 90);
  for (int axis : {0, 1, 2, -1}) {
    INFO("axis " << axis);
    run_cases({unary(
                   "softmax", [axis](const Var& v) { return softmax(v, axis); }, x),
               unary(
                   "log_softmax", [axis](const Var& v) { return log_softmax(v, axis); }, x)});
  }
}

TEST_CASE("reverse mode: prod with zeros is exact", "[reverse][reduce]") {
  // One zero: only the zero's entry has a gradient, the product of the others.
  const Tensor one_zero = Tensor::from({5}, {2.0, 0.0, -3.0, 0.5, 4.0});
  CHECK_THAT(grad([](const Var& x) { return prod(x); }, one_zero),
             AllClose(Tensor::from({5}, {0, -12.0, 0, 0, 0}), 0, 1e-15));
  // Two zeros: every partial derivative is zero.
  const Tensor two_zeros = Tensor::from({5}, {2.0, 0.0, -3.0, 0.0, 4.0});
  CHECK_THAT(grad([](const Var& x) { return prod(x); }, two_zeros), AllClose(Tensor::zeros(Shape{5}), 0, 0));
  // Along an axis (odd and even lengths), against Π_{j≠i} x_j written out.
  const Tensor m = Tensor::from({2, 3}, {0.0, 2.0, 3.0, 1.5, -2.0, 0.5});
  const Tensor gm = grad([](const Var& x) { return sum(prod(x, 1)); }, m);
  CHECK_THAT(gm, AllClose(Tensor::from({2, 3}, {6.0, 0.0, 0.0, -1.0, 0.75, -3.0}), 0, 1e-15));
  // Second order at a zero: ∂²/∂x1∂x3 of x0 x1 x2 x3 x4 at x1 = 0 is x0 x2 x4 = -24.
  const Tensor H = hessian([](const Var& x) { return prod(x); }, one_zero);
  CHECK(H.at(1 * 5 + 3) == Approx(2.0 * -3.0 * 4.0).margin(1e-12));
  gc::require_gradcheck([](const Var& x) { return prod(x); }, one_zero);
  gc::require_gradcheck([](const Var& x) { return prod(x, 0, true); }, two_zeros);
  // Empty axis: the product is 1 and has no gradient to give.
  CHECK_THAT(grad([](const Var& x) { return sum(prod(x, 1)); }, Tensor::zeros(Shape{3, 0})),
             AllClose(Tensor::zeros(Shape{3, 0}), 0, 0));
}

// ---- matmul ------------------------------------------------------------------------------------

TEST_CASE("reverse mode: matmul, 1-D promotions, batched and broadcast batch", "[reverse][matmul]") {
  struct MM {
    Shape a, b, out;
  };
  const std::vector<MM> mms = {
      {{2, 3}, {3, 4}, {2, 4}},
      {{3}, {3, 4}, {4}},
      {{2, 3}, {3}, {2}},
      {{3}, {3}, {}},
      {{5, 2, 3}, {5, 3, 4}, {5, 2, 4}},
      {{5, 2, 3}, {3, 4}, {5, 2, 4}},
      {{2, 3}, {5, 3, 4}, {5, 2, 4}},
      {{2, 1, 2, 3}, {3, 3, 4}, {2, 3, 2, 4}},
      {{3}, {5, 3, 4}, {5, 4}},
      {{5, 2, 3}, {3}, {5, 2}},
  };
  for (const MM& m : mms) {
    INFO(m.a.str() << " @ " << m.b.str());
    const Tensor a = rnd(m.a, -1, 1, 100), b = rnd(m.b, -1, 1, 101);
    Tape tape;
    CHECK(matmul(tape.variable(a), tape.variable(b)).shape() == m.out);
    run_cases({binary(
                   "matmul", [](const Var& x, const Var& y) { return matmul(x, y); }, a, b),
               binary(
                   "matmul squared",
                   [](const Var& x, const Var& y) {
                     const Var z = matmul(x, y);
                     return z * z;
                   },
                   a, b)});
    run_cases({unary(
                   "matmul(x, T)", [b](const Var& x) { return matmul(x, b) * matmul(x, b); }, a),
               unary(
                   "matmul(T, x)", [a](const Var& x) { return matmul(a, x) * matmul(a, x); }, b)});
  }
  Tape tape;
  CHECK_THROWS_AS(matmul(tape.variable(Tensor(1.0)), tape.variable(Tensor::ones(Shape{2}))), ShapeError);
}

TEST_CASE("reverse mode: matmul with transposed operands, every flag pair", "[reverse][matmul]") {
  struct MM {
    Shape a, b;  // as stored
    Transposed t;
  };
  const std::vector<MM> mms = {
      {{3, 2}, {3, 4}, {.a = true}},
      {{2, 3}, {4, 3}, {.b = true}},
      {{3, 2}, {4, 3}, {.a = true, .b = true}},
      {{5, 3, 2}, {3, 4}, {.a = true}},
      {{5, 2, 3}, {4, 3}, {.b = true}},
      {{2, 3}, {5, 4, 3}, {.b = true}},
      {{2, 1, 3, 2}, {3, 4, 3}, {.a = true, .b = true}},
      {{3}, {4, 3}, {.b = true}},
  };
  for (const MM& m : mms) {
    INFO(m.a.str() << (m.t.a ? "ᵀ" : "") << " @ " << m.b.str() << (m.t.b ? "ᵀ" : ""));
    const Tensor a = rnd(m.a, -1, 1, 102), b = rnd(m.b, -1, 1, 103);
    const Transposed t = m.t;
    run_cases({binary(
                   "flagged matmul squared",
                   [t](const Var& x, const Var& y) {
                     const Var z = matmul(x, y, t);
                     return z * z;
                   },
                   a, b),
               unary(
                   "flagged matmul, constant b", [b, t](const Var& x) { return sin(matmul(x, b, t)); }, a),
               unary(
                   "flagged matmul, constant a", [a, t](const Var& x) { return sin(matmul(a, x, t)); }, b)});
  }
  Tape tape;
  CHECK_THROWS_WITH(
      matmul(tape.variable(Tensor::ones(Shape{3})), tape.variable(Tensor::ones(Shape{3, 2})), {.a = true}),
      Catch::Contains("transposed operand needs at least two axes") && Catch::Contains("(3,) (transposed)"));
}

// ---- layout ------------------------------------------------------------------------------------

TEST_CASE("reverse mode: layout ops", "[reverse][layout]") {
  const Tensor x = rnd(Shape{2, 3, 4}, -2, 2, 110);
  const std::vector<std::size_t> idx = {2, 0, 2, 1};
  std::vector<Case> cases = {
      unary(
          "reshape (4, 6)",
          [](const Var& v) {
            return reshape(v, Shape{4, 6}) * 2.0;
          },
          x),
      unary(
          "reshape (24)", [](const Var& v) { return sin(reshape(v, Shape{24})); }, x),
      unary(
          "reshape same shape",
          [](const Var& v) {
            return reshape(v, Shape{2, 3, 4}) * v;
          },
          x),
      unary(
          "transpose", [](const Var& v) { return transpose(v) * transpose(v); }, x),
      unary(
          "transpose (1, 2, 0)",
          [](const Var& v) {
            return sin(transpose(v, {1, 2, 0}));
          },
          x),
      unary(
          "transpose (0, -1, 1)",
          [](const Var& v) {
            return exp(transpose(v, {0, -1, 1}));
          },
          x),
      unary(
          "broadcast_to (3,1)->(2,3,4)",
          [](const Var& v) {
            return sin(broadcast_to(v, Shape{2, 3, 4}));
          },
          rnd(Shape{3, 1}, -2, 2, 111)),
      unary(
          "broadcast_to (4)->(3,4)",
          [](const Var& v) {
            return sin(broadcast_to(v, Shape{3, 4}));
          },
          rnd(Shape{4}, -2, 2, 112)),
      unary(
          "broadcast_to ()->(2,2)",
          [](const Var& v) {
            return sin(broadcast_to(v, Shape{2, 2}));
          },
          rnd(Shape{}, -2, 2, 113)),
      unary(
          "sum_to (3,1)",
          [](const Var& v) {
            return sin(sum_to(v, Shape{3, 1}));
          },
          x),
      unary(
          "sum_to (4)", [](const Var& v) { return sin(sum_to(v, Shape{4})); }, x),
      unary(
          "sum_to (2,1,4)",
          [](const Var& v) {
            return sin(sum_to(v, Shape{2, 1, 4}));
          },
          x),
      unary(
          "sum_to ()", [](const Var& v) { return sin(sum_to(v, Shape{})); }, x),
      unary(
          "slice axis 0", [](const Var& v) { return sin(slice(v, 0, 1, 2)); }, x),
      unary(
          "slice axis 1 step 2", [](const Var& v) { return sin(slice(v, 1, 0, 3, 2)); }, x),
      unary(
          "slice axis -1 step 3 clipped", [](const Var& v) { return sin(slice(v, -1, 1, 100, 3)); }, x),
      unary(
          "slice axis 2 step 2", [](const Var& v) { return sin(slice(v, 2, 1, 4, 2)); }, x),
      unary(
          "unslice axis 1 step 2",
          [](const Var& v) {
            return sin(unslice(v, Shape{2, 5, 4}, 1, 1, 5, 2)) + 0.0;
          },
          rnd(Shape{2, 2, 4}, -2, 2, 114)),
      unary(
          "unslice axis 0",
          [](const Var& v) {
            return cos(unslice(v, Shape{4, 3}, 0, 1, 3));
          },
          rnd(Shape{2, 3}, -2, 2, 115)),
      unary(
          "concat axis 1",
          [](const Var& v) {
            return sin(concat({v, v * 2.0, slice(v, 1, 0, 1)}, 1));
          },
          x),
      unary(
          "concat axis 0",
          [](const Var& v) {
            return sin(concat({v, exp(v)}, 0));
          },
          x),
      unary(
          "concat axis -1",
          [](const Var& v) {
            return sin(concat({slice(v, 2, 0, 1), v}, -1));
          },
          x),
      unary(
          "gather axis 1 (repeats)", [idx](const Var& v) { return sin(gather(v, idx, 1)); }, x),
      unary(
          "gather axis -1",
          [](const Var& v) {
            const std::vector<std::size_t> i = {3, 3, 0};
            return sin(gather(v, i, -1));
          },
          x),
      unary(
          "scatter_add axis 1 (repeats)",
          [idx](const Var& v) {
            return sin(scatter_add(v, idx, 1, Shape{2, 3, 4}));
          },
          rnd(Shape{2, 4, 4}, -2, 2, 116)),
      unary(
          "scatter_add axis 0",
          [](const Var& v) {
            const std::vector<std::size_t> i = {1, 1};
            return cos(scatter_add(v, i, 0, Shape{3, 2}));
          },
          rnd(Shape{2, 2}, -2, 2, 117)),
  };
  run_cases(cases);
}

TEST_CASE("reverse mode: layout adjoint pairs give the exact transposed maps", "[reverse][layout]") {
  // d/dx Σ w ⊙ slice(x) = unslice(w), written out by hand for a strided slice.
  const Tensor x0 = Tensor::arange(7);
  const Tensor w = Tensor::from({2}, {10, 20});  // elements 1 and 4
  const Tensor g = grad([w](const Var& x) { return sum(slice(x, 0, 1, 7, 3) * w); }, x0);
  CHECK_THAT(g, AllClose(Tensor::from({7}, {0, 10, 0, 0, 20, 0, 0}), 0, 0));
  const Tensor w3 = Tensor::from({3}, {10, 20, 30});  // elements 0, 3, 6
  const Tensor g3 = grad([w3](const Var& x) { return sum(slice(x, 0, 0, 7, 3) * w3); }, x0);
  CHECK_THAT(g3, AllClose(Tensor::from({7}, {10, 0, 0, 20, 0, 0, 30}), 0, 0));
  // gather with repeated indices accumulates.
  const std::vector<std::size_t> idx = {2, 2, 0};
  const Tensor gg = grad(
      [&idx](const Var& x) {
        return sum(gather(x, idx, 0) * Tensor::from({3}, {1, 2, 4}));
      },
      Tensor::arange(4));
  CHECK_THAT(gg, AllClose(Tensor::from({4}, {4, 0, 3, 0}), 0, 0));
}

// ---- independent central differences of plain C++ functions -----------------------------------

TEST_CASE("reverse mode: gradients against central differences of plain C++ references", "[reverse][fd]") {
  // h = 1e-6 in double: error ≈ h² |f'''| + eps |f| / h ≲ 1e-9 for these |f| ≲ 10.
  const double rtol = 1e-6, atol = 1e-8;
  const Tensor x0 = rnd(Shape{6}, -1, 1, 120);

  SECTION("sum(sin(x) * exp(x))") {
    auto ref = [](const Tensor& x) {
      double s = 0;
      for (std::size_t i = 0; i < x.numel(); ++i) s += std::sin(x.at(i)) * std::exp(x.at(i));
      return s;
    };
    const Tensor g = grad([](const Var& x) { return sum(sin(x) * exp(x)); }, x0);
    CHECK_THAT(g, AllClose(gc::central_difference(ref, x0), rtol, atol));
  }
  SECTION("logsumexp and log_softmax") {
    auto lse = [](const Tensor& x) {
      double s = 0;
      for (std::size_t i = 0; i < x.numel(); ++i) s += std::exp(x.at(i));
      return std::log(s);
    };
    CHECK_THAT(grad([](const Var& x) { return logsumexp(x); }, x0),
               AllClose(gc::central_difference(lse, x0), rtol, atol));
    // Σ_i i · log_softmax(x)_i
    auto ls = [&lse](const Tensor& x) {
      const double l = lse(x);
      double s = 0;
      for (std::size_t i = 0; i < x.numel(); ++i) s += static_cast<double>(i) * (x.at(i) - l);
      return s;
    };
    CHECK_THAT(grad([](const Var& x) { return sum(log_softmax(x) * Tensor::arange(6)); }, x0),
               AllClose(gc::central_difference(ls, x0), rtol, atol));
  }
  SECTION("matmul: xᵀ A x with A not symmetric") {
    const Tensor A = rnd(Shape{6, 6}, -1, 1, 121);
    auto ref = [&A](const Tensor& x) {
      double s = 0;
      for (std::size_t i = 0; i < 6; ++i)
        for (std::size_t j = 0; j < 6; ++j) s += x.at(i) * A.at(i * 6 + j) * x.at(j);
      return s;
    };
    const Tensor g = grad([&A](const Var& x) { return matmul(x, matmul(A, x)); }, x0);
    CHECK_THAT(g, AllClose(gc::central_difference(ref, x0), rtol, atol));
  }
  SECTION("prod and pow(Var, Var)") {
    const Tensor p0 = rnd(Shape{6}, 0.5, 1.5, 122);
    auto pr = [](const Tensor& x) {
      double s = 1;
      for (std::size_t i = 0; i < x.numel(); ++i) s *= x.at(i);
      return s;
    };
    CHECK_THAT(grad([](const Var& x) { return prod(x); }, p0),
               AllClose(gc::central_difference(pr, p0), rtol, atol));
    auto pw = [](const Tensor& x) {
      double s = 0;
      for (std::size_t i = 0; i + 1 < x.numel(); ++i) s += std::pow(x.at(i), x.at(i + 1));
      return s;
    };
    CHECK_THAT(grad([](const Var& x) { return sum(pow(slice(x, 0, 0, 5), slice(x, 0, 1, 6))); }, p0),
               AllClose(gc::central_difference(pw, p0), rtol, atol));
  }
  SECTION("max along an axis") {
    const Tensor d = gc::distinct_tensor(Shape{2, 3}, -2, 2, 123);
    auto ref = [](const Tensor& x) {
      return std::max({x.at(0), x.at(1), x.at(2)}) * 2.0 + std::max({x.at(3), x.at(4), x.at(5)}) * 3.0;
    };
    const Tensor g = grad([](const Var& x) { return sum(max(x, 1) * Tensor::from({2}, {2, 3})); }, d);
    CHECK_THAT(g, AllClose(gc::central_difference(ref, d), rtol, atol));
  }
}

// ---- kinks: the documented subgradients ----------------------------------------------------------

TEST_CASE("reverse mode: subgradients at kinks", "[reverse][kink]") {
  const Tensor x0 = Tensor::from({3}, {-1.0, 0.0, 2.0});
  SECTION("relu'(0) = 0 and abs'(0) = 0") {
    CHECK_THAT(grad([](const Var& x) { return sum(relu(x)); }, x0),
               AllClose(Tensor::from({3}, {0, 0, 1}), 0, 0));
    CHECK_THAT(grad([](const Var& x) { return sum(abs(x)); }, x0),
               AllClose(Tensor::from({3}, {-1, 0, 1}), 0, 0));
  }
  SECTION("max ties share the cotangent equally, over all elements and along an axis") {
    const Tensor t = Tensor::from({2, 4}, {1, 3, 3, 2, 5, 5, 5, 0});
    CHECK_THAT(grad([](const Var& x) { return max(x); }, t),
               AllClose(Tensor::from({2, 4}, {0, 0, 0, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3, 0}), 0, 1e-15));
    CHECK_THAT(grad(
                   [](const Var& x) {
                     return sum(max(x, 1) * Tensor::from({2}, {1, 6}));
                   },
                   t),
               AllClose(Tensor::from({2, 4}, {0, 0.5, 0.5, 0, 2, 2, 2, 0}), 0, 1e-15));
    CHECK_THAT(grad([](const Var& x) { return sum(max(x, 0, true)); }, Tensor::from({2, 2}, {1, 4, 1, 2})),
               AllClose(Tensor::from({2, 2}, {0.5, 1, 0.5, 0}), 0, 1e-15));
    CHECK_THAT(grad([](const Var& x) { return min(x); }, Tensor::from({4}, {2, -1, 7, -1})),
               AllClose(Tensor::from({4}, {0, 0.5, 0, 0.5}), 0, 1e-15));
  }
  SECTION("maximum/minimum ties go to the first operand") {
    Tape tape;
    const Var a = tape.variable(Tensor::from({3}, {1, 2, 3})),
              b = tape.variable(Tensor::from({3}, {1, 5, 3}));
    auto g = tape.gradient(sum(maximum(a, b)), {a, b});
    CHECK_THAT(g[0], AllClose(Tensor::from({3}, {1, 0, 1}), 0, 0));
    CHECK_THAT(g[1], AllClose(Tensor::from({3}, {0, 1, 0}), 0, 0));
    g = tape.gradient(sum(minimum(a, b)), {a, b});
    CHECK_THAT(g[0], AllClose(Tensor::from({3}, {1, 1, 1}), 0, 0));
    CHECK_THAT(g[1], AllClose(Tensor::from({3}, {0, 0, 0}), 0, 0));
  }
}

// ---- gradcheck must be able to fail --------------------------------------------------------------

namespace {

// x³ (tests/support/cube_ops.hpp) with a vjp that is wrong at element 3 only (an extra +1).
struct WrongCube : test::Cube {
  static constexpr const char* name = "wrong_cube";
  template <class X>
  static std::vector<X> vjp(const X& g, const CustomInputs<X>& x, const X&) {
    Tensor bump(DType::f64, x[0].shape());
    bump.set(3, 1.0);
    return {g * (3.0 * x[0] * x[0]) + bump};
  }
};
using RightCube = test::Cube;

}  // namespace

TEST_CASE("gradcheck fails a wrong vjp and its report names the worst entry", "[reverse][gradcheck]") {
  const Tensor x0 = rnd(Shape{2, 3}, -1, 1, 130);
  const GradcheckReport ok = gradcheck([](const Var& x) { return custom<RightCube>({x}); }, x0);
  INFO(ok.str());
  CHECK(ok.passed);
  CHECK(ok.checked == 6);
  CHECK(ok.max_abs_error < 1e-8);

  const GradcheckReport bad = gradcheck([](const Var& x) { return sum(custom<WrongCube>({x})); }, x0);
  INFO(bad.str());
  CHECK_FALSE(bad.passed);
  REQUIRE_FALSE(bad.worst.empty());
  CHECK(bad.worst[0].input == 0);
  CHECK(bad.worst[0].index == 3);
  CHECK(bad.worst[0].abs_error == Approx(1.0).margin(1e-6));
  CHECK(bad.max_abs_error == Approx(1.0).margin(1e-6));
  const std::string text = bad.str();
  CHECK_THAT(text, Catch::Contains("FAILED"));
  // The first row of the table is the worst entry: input 0, index 3.
  std::istringstream lines(text);
  std::string line;
  std::vector<std::string> rows;
  while (std::getline(lines, line)) rows.push_back(line);
  REQUIRE(rows.size() >= 4);
  std::istringstream first_row(rows[3]);
  std::size_t input = 99, index = 99;
  first_row >> input >> index;
  CHECK(input == 0);
  CHECK(index == 3);

  // Several inputs: an error in the second one is attributed to input 1.
  const GradcheckReport bad2 =
      gradcheck([](const std::vector<Var>& v) { return sum(v[0] * 2.0) + sum(custom<WrongCube>({v[1]})); },
                std::vector<Tensor>{x0, x0 * 0.5});
  CHECK_FALSE(bad2.passed);
  REQUIRE_FALSE(bad2.worst.empty());
  CHECK(bad2.worst[0].input == 1);
  CHECK(bad2.worst[0].index == 3);

  // A tensor output is projected on a random cotangent, so the wrong entry is still caught.
  const GradcheckReport bad3 = gradcheck([](const Var& x) { return custom<WrongCube>({x}); }, x0);
  CHECK_FALSE(bad3.passed);

  GradcheckOptions zero_step;
  zero_step.step = 0.0;
  CHECK_THROWS_AS(gradcheck([](const Var& x) { return sum(x); }, x0, zero_step), ValueError);
}

// ---- the scalar lane: 0-d float64 code runs its rules on doubles ------------------------------------

TEST_CASE("reverse mode: 0-d float64 (scalar lane) equals the tensor path and finite differences",
          "[reverse][scalar]") {
  // Each op once on 0-d variables (the scalar lane) and once on shape-(1,) ones (the tensor path).
  using F2 = std::function<Var(const Var&, const Var&)>;
  struct Op2 {
    const char* name;
    F2 f;
    double a, b;
  };
  const std::vector<Op2> ops = {
      {"neg", [](const Var& x, const Var&) { return -x; }, 0.3, 0},
      {"exp", [](const Var& x, const Var&) { return exp(x); }, 0.3, 0},
      {"log", [](const Var& x, const Var&) { return log(x); }, 1.7, 0},
      {"sin", [](const Var& x, const Var&) { return sin(x); }, 0.3, 0},
      {"cos", [](const Var& x, const Var&) { return cos(x); }, 0.3, 0},
      {"tan", [](const Var& x, const Var&) { return tan(x); }, 0.3, 0},
      {"tanh", [](const Var& x, const Var&) { return tanh(x); }, 0.3, 0},
      {"sinh", [](const Var& x, const Var&) { return sinh(x); }, 0.3, 0},
      {"cosh", [](const Var& x, const Var&) { return cosh(x); }, 0.3, 0},
      {"sqrt", [](const Var& x, const Var&) { return sqrt(x); }, 1.7, 0},
      {"pow 3", [](const Var& x, const Var&) { return pow(x, 3.0); }, -0.8, 0},
      {"pow 2", [](const Var& x, const Var&) { return pow(x, 2.0); }, -0.8, 0},
      {"pow 1", [](const Var& x, const Var&) { return pow(x, 1.0); }, -0.8, 0},
      {"pow 0", [](const Var& x, const Var&) { return pow(x, 0.0) * x; }, -0.8, 0},
      {"pow -1.5", [](const Var& x, const Var&) { return pow(x, -1.5); }, 1.7, 0},
      {"sigmoid", [](const Var& x, const Var&) { return sigmoid(x); }, -0.8, 0},
      {"softplus", [](const Var& x, const Var&) { return softplus(x); }, -0.8, 0},
      {"erf", [](const Var& x, const Var&) { return erf(x); }, -0.8, 0},
      {"abs", [](const Var& x, const Var&) { return abs(x); }, -0.8, 0},
      {"relu+", [](const Var& x, const Var&) { return relu(x); }, 0.8, 0},
      {"relu-", [](const Var& x, const Var&) { return relu(x) + x; }, -0.8, 0},
      {"add", [](const Var& x, const Var& y) { return x + y * y; }, 0.3, -1.2},
      {"sub", [](const Var& x, const Var& y) { return x - y * y; }, 0.3, -1.2},
      {"mul", [](const Var& x, const Var& y) { return x * y * x; }, 0.3, -1.2},
      {"div", [](const Var& x, const Var& y) { return x / (y * x); }, 0.3, -1.2},
      {"pow(a, b)", [](const Var& x, const Var& y) { return pow(x, y); }, 1.3, -1.2},
      {"maximum", [](const Var& x, const Var& y) { return maximum(x, y) * x; }, 0.3, -1.2},
      {"minimum", [](const Var& x, const Var& y) { return minimum(x, y) * x; }, 0.3, -1.2},
      {"where", [](const Var& x, const Var& y) { return where(x > y, x * y, y * y); }, 0.3, -1.2},
      {"where (false)", [](const Var& x, const Var& y) { return where(x < y, x * y, y * y * x); }, 0.3, -1.2},
      {"clamp", [](const Var& x, const Var& y) { return clamp(x * y, -0.2, 1.0) + clamp(x, 0.0, 0.2); }, 0.3,
       -1.2},
      {"number mixes", [](const Var& x, const Var& y) { return (2.0 - x) / (3.0 + y) * 0.5 + 1.0 / x; }, 0.3,
       -1.2},
      {"stop_gradient", [](const Var& x, const Var& y) { return stop_gradient(x * y) * x; }, 0.3, -1.2},
  };
  for (const Op2& op : ops) {
    INFO(op.name);
    auto run = [&op](const Shape& s, double a, double b) {
      Tape tape;
      const Var x = tape.variable(Tensor::full(s, a)), y = tape.variable(Tensor::full(s, b));
      const Var out = sum(op.f(x, y));
      const std::vector<Tensor> g = tape.gradient(out, {x, y});
      // Second order: the gradient of ⟨∇, (1, 1)⟩ by reverse over reverse.
      const Var xy[] = {x, y};
      const std::vector<Var> gv = tape.gradient_vars(out, xy);
      const std::vector<Tensor> h = tape.gradient(sum(gv[0]) + sum(gv[1]), {x, y});
      return std::vector<double>{out.item(), g[0].at(0), g[1].at(0), h[0].at(0), h[1].at(0)};
    };
    const std::vector<double> lane = run(Shape{}, op.a, op.b), tensor = run(Shape{1}, op.a, op.b);
    for (std::size_t k = 0; k < lane.size(); ++k) {
      INFO("quantity " << k << " (value, d/da, d/db, then H·(1,1))");
      CHECK(lane[k] == Approx(tensor[k]).epsilon(1e-14).margin(1e-15));
    }
    // Finite differences see through stop_gradient; only the lane/tensor agreement applies to it.
    if (std::string(op.name) == "stop_gradient") continue;
    // d/da by central differences of the 0-d values (h = 1e-6: error ~1e-10 here).
    const double h = 1e-6;
    const double fd = (run(Shape{}, op.a + h, op.b)[0] - run(Shape{}, op.a - h, op.b)[0]) / (2 * h);
    CHECK(lane[1] == Approx(fd).margin(1e-8).epsilon(1e-7));
    // Second derivative along (1, 1) by central differences of the gradient.
    const double h2 = 1e-5;
    const std::vector<double> p = run(Shape{}, op.a + h2, op.b + h2), m = run(Shape{}, op.a - h2, op.b - h2);
    CHECK(lane[3] == Approx((p[1] - m[1]) / (2 * h2)).margin(1e-6).epsilon(1e-6));
    CHECK(lane[4] == Approx((p[2] - m[2]) / (2 * h2)).margin(1e-6).epsilon(1e-6));
  }
  // A 0-d loop (the textbook scalar program) with replay.
  auto newton = [](const Var& x) {
    Var y = x;
    for (int i = 0; i < 5; ++i) y = y - (y * y - x) / (2.0 * y);  // → √x
    return y;
  };
  Tape tape;
  const Var x = tape.variable(Tensor(2.0));
  const Var y = newton(x);
  CHECK(y.item() == Approx(std::sqrt(2.0)).epsilon(1e-12));
  CHECK(tape.gradient(y, {x})[0].item() == Approx(0.5 / std::sqrt(2.0)).epsilon(1e-10));
  tape.replay({Tensor(3.0)});
  CHECK(y.item() == Approx(std::sqrt(3.0)).epsilon(1e-10));
  CHECK(tape.gradient(y, {x})[0].item() == Approx(0.5 / std::sqrt(3.0)).epsilon(1e-8));
  // float32 0-d values stay off the lane and still work.
  const Tensor gf = grad([](const Var& v) { return v * v * sin(v); }, Tensor(0.5, DType::f32));
  CHECK(gf.dtype() == DType::f32);
  CHECK(gf.item() == Approx(2 * 0.5 * std::sin(0.5) + 0.25 * std::cos(0.5)).epsilon(1e-6));
}
