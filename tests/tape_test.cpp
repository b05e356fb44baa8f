// The tape's features (autodiff/tape.hpp): eager recording, NoGrad, several outputs and
// cotangents, several inputs, replay (= re-recording, branch checks), thread and clear() checks,
// listing / DOT, anomaly mode, 0-d code.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "autodiff/functional.hpp"
#include "support/gradcheck_support.hpp"
#include "support/messages.hpp"

using namespace jetgrad;
using Catch::Contains;
using gc::AllClose;

namespace {

Tensor rnd(const Shape& s, double lo, double hi, std::uint64_t seed) {
  return gc::random_tensor(s, lo, hi, seed);
}

using jetgrad::test::message_of;

// "#i", as error messages name entry i (built with a stream: GCC 12's -Wrestrict misfires on
// "#" + std::to_string(i)).
std::string entry_ref(std::size_t i) {
  std::ostringstream os;
  os << '#' << i;
  return os.str();
}

}  // namespace

TEST_CASE("tape: eager recording computes values as it records", "[tape]") {
  Tape tape;
  CHECK(tape.size() == 0);
  const Tensor x0 = Tensor::from({3}, {0.5, 1.0, 2.0});
  const Var x = tape.variable(x0);
  CHECK(tape.size() == 1);
  CHECK(x.needs_grad());
  CHECK(x.shape() == Shape{3});
  const Var s = sin(x);
  CHECK(tape.size() == 2);
  CHECK(s.value().at(2) == Approx(std::sin(2.0)).epsilon(1e-15));
  const Var y = sum(s * exp(x)) + 2.0;
  double expected = 2.0;
  for (double v : {0.5, 1.0, 2.0}) expected += std::sin(v) * std::exp(v);
  CHECK(y.item() == Approx(expected).epsilon(1e-14));
  CHECK(y.rank() == 0);
  CHECK(y.dtype() == DType::f64);
  CHECK(tape.inputs().size() == 1);
  const Var c = tape.constant(Tensor(3.0));
  CHECK_FALSE(c.needs_grad());
  const Var unattached;
  CHECK_FALSE(unattached.attached());
  CHECK_THROWS_AS(unattached.value(), TapeError);
  CHECK_THROWS_AS(exp(unattached), TapeError);
}

TEST_CASE("tape: NoGrad scopes record values but no gradient", "[tape][nograd]") {
  Tape tape;
  const Tensor x0 = Tensor::from({2}, {0.3, -0.7});
  const Var x = tape.variable(x0);
  CHECK_FALSE(NoGrad::active());
  Var frozen;
  {
    NoGrad ng;
    CHECK(NoGrad::active());
    const std::size_t before = tape.size();
    frozen = exp(x) * 2.0;
    CHECK(tape.size() > before);  // still recorded, so replays stay right
    CHECK_FALSE(frozen.needs_grad());
    {
      NoGrad nested;
      CHECK(NoGrad::active());
    }
    CHECK(NoGrad::active());  // the outer scope survives the inner one's end
  }
  CHECK_FALSE(NoGrad::active());
  CHECK_THAT(frozen.value(), AllClose(exp(x0) * 2.0, 1e-15, 0));
  // y = x · frozen: only the direct path carries gradient.
  const Var y = sum(x * frozen);
  CHECK_THAT(tape.gradient(y, {x})[0], AllClose(exp(x0) * 2.0, 1e-15, 0));
  // An output computed entirely under NoGrad gives zero gradients, not an error.
  Var z;
  {
    NoGrad ng;
    z = sum(sin(x));
  }
  CHECK_THAT(tape.gradient(z, {x})[0], AllClose(Tensor::zeros(Shape{2}), 0, 0));
  // NoGrad is per thread: another thread does not see this one's scope.
  NoGrad ng;
  bool other_active = true;
  std::thread([&] { other_active = NoGrad::active(); }).join();
  CHECK_FALSE(other_active);
}

TEST_CASE("tape: vjp with any cotangent equals Jᵀw from finite differences", "[tape][vjp]") {
  const Tensor x0 = rnd(Shape{4}, -1, 1, 1);
  auto F = [](const Var& x) {
    return concat({sin(x) * x, reshape(sum(exp(x)), Shape{1})}, 0);
  };  // R^4 -> R^5
  const Tensor w = rnd(Shape{5}, -1, 1, 2);
  Tape tape;
  const Var x = tape.variable(x0);
  const Var y = F(x);
  const Var wrt[] = {x};
  const Tensor g = tape.vjp(y, w, wrt)[0];
  // Jᵀ w by central differences of ⟨w, F(x)⟩ evaluated in plain C++.
  auto ref = [&w](const Tensor& xs) {
    double s = 0, e = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      s += w.at(i) * std::sin(xs.at(i)) * xs.at(i);
      e += std::exp(xs.at(i));
    }
    return s + w.at(4) * e;
  };
  CHECK_THAT(g, AllClose(gc::central_difference(ref, x0), 1e-6, 1e-8));
  // The functional form agrees, and returns f(x).
  const auto [value, g2] = vjp(F, x0, w);
  CHECK_THAT(g2, AllClose(g, 0, 0));
  CHECK(value.shape() == Shape{5});
  // A cotangent of the wrong shape is refused, naming both shapes.
  const std::string msg = message_of<ShapeError>([&] { tape.vjp(y, Tensor::ones(Shape{4}), wrt); });
  CHECK_THAT(msg, Contains("(4,)") && Contains("(5,)"));
  CHECK_THROWS_AS(tape.vjp(y, Tensor::ones(Shape{5}, DType::f32), wrt), DTypeError);
  // gradient() of a non-scalar names the shape.
  CHECK_THAT(message_of<ShapeError>([&] { tape.gradient(y, {x}); }), Contains("(5,)"));
}

TEST_CASE("tape: several outputs with a cotangent each", "[tape][vjp]") {
  const Tensor a0 = rnd(Shape{2, 3}, -1, 1, 3), b0 = rnd(Shape{3}, -1, 1, 4);
  const Tensor c1 = rnd(Shape{2, 3}, -1, 1, 5), c2 = rnd(Shape{3}, -1, 1, 6);
  Tape tape;
  const Var a = tape.variable(a0), b = tape.variable(b0);
  const Var h = tanh(a * b);         // (2,3)
  const Var y1 = h * a;              // (2,3)
  const Var y2 = sum(h, 0) + b * b;  // (3): shares h with y1
  const Var outs[] = {y1, y2};
  const Tensor cots[] = {c1, c2};
  const Var wrt[] = {a, b};
  const std::vector<Tensor> g = tape.vjp(outs, cots, wrt);
  // The contributions add up: the same as the gradient of ⟨c1, y1⟩ + ⟨c2, y2⟩.
  const std::vector<Tensor> ref = tape.gradient(sum(y1 * c1) + sum(y2 * c2), wrt);
  CHECK_THAT(g[0], AllClose(ref[0], 1e-14, 1e-15));
  CHECK_THAT(g[1], AllClose(ref[1], 1e-14, 1e-15));
  // And each output alone.
  const std::vector<Tensor> g1 = tape.vjp(y1, c1, wrt), g2 = tape.vjp(y2, c2, wrt);
  CHECK_THAT(g[0], AllClose(g1[0] + g2[0], 1e-14, 1e-15));
  CHECK_THAT(g[1], AllClose(g1[1] + g2[1], 1e-14, 1e-15));
  // Both against finite differences.
  gc::require_gradcheck(
      [&](const std::vector<Var>& v) {
        const Var hh = tanh(v[0] * v[1]);
        return sum(hh * v[0] * c1) + sum((sum(hh, 0) + v[1] * v[1]) * c2);
      },
      {a0, b0});
  // The same output twice counts twice; mismatched counts are refused.
  const Var twice[] = {y2, y2};
  const Tensor cc[] = {c2, c2};
  CHECK_THAT(tape.vjp(twice, cc, wrt)[1], AllClose(g2[1] * 2.0, 1e-14, 1e-15));
  CHECK_THROWS_AS(tape.vjp(twice, std::span<const Tensor>(cots, 1), wrt), ValueError);
}

TEST_CASE("tape: gradients of several inputs, unconnected ones and intermediates", "[tape][grad]") {
  const Tensor a0 = rnd(Shape{3}, -1, 1, 7), b0 = rnd(Shape{2, 3}, -1, 1, 8);
  Tape tape;
  const Var a = tape.variable(a0), b = tape.variable(b0), unused = tape.variable(Tensor::ones(Shape{4}));
  const Var h = a * b;  // (2,3)
  const Var y = sum(sin(h)) + sum(a);
  const std::vector<Tensor> g = tape.gradient(y, {a, b, unused, h});
  REQUIRE(g.size() == 4);
  const Tensor ch = cos(a0 * b0);
  CHECK_THAT(g[0], AllClose(sum(ch * b0, 0) + 1.0, 1e-14, 1e-15));
  CHECK_THAT(g[1], AllClose(ch * a0, 1e-14, 1e-15));
  CHECK_THAT(g[2], AllClose(Tensor::zeros(Shape{4}), 0, 0));
  CHECK_THAT(g[3], AllClose(ch, 1e-14, 1e-15));  // an intermediate's own adjoint
  // Order of wrt does not matter, and asking for the intermediate does not change the inputs' gradients.
  const std::vector<Tensor> g2 = tape.gradient(y, {b, a});
  CHECK_THAT(g2[0], AllClose(g[1], 0, 0));
  CHECK_THAT(g2[1], AllClose(g[0], 0, 0));
  // The output itself, and a variable made after the output.
  CHECK_THAT(tape.gradient(y, {y})[0], AllClose(Tensor(1.0), 0, 0));
  const Var later = tape.variable(Tensor(2.0));
  CHECK_THAT(tape.gradient(y, {later})[0], AllClose(Tensor(0.0), 0, 0));
  // Sweeping twice gives the same (adjoints are not left behind on the tape).
  CHECK_THAT(tape.gradient(y, {a})[0], AllClose(g[0], 0, 0));
  // A variable named twice gets its gradient in both places (the adjoints are handed over, not copied).
  const std::vector<Tensor> g3 = tape.gradient(y, {a, b, a, h, h});
  REQUIRE(g3.size() == 5);
  CHECK_THAT(g3[0], AllClose(g[0], 0, 0));
  CHECK_THAT(g3[2], AllClose(g[0], 0, 0));
  CHECK_THAT(g3[1], AllClose(g[1], 0, 0));
  CHECK_THAT(g3[3], AllClose(g[3], 0, 0));
  CHECK_THAT(g3[4], AllClose(g[3], 0, 0));
  // Variables from another tape are refused.
  Tape other;
  const Var foreign = other.variable(a0);
  CHECK_THROWS_AS(tape.gradient(y, {foreign}), TapeError);
  CHECK_THROWS_AS(a + foreign, TapeError);
}

TEST_CASE("tape: reverse rules adding into an existing adjoint agree with finite differences",
          "[tape][grad]") {
  // Each function gives its input (or an intermediate) a second contribution through a rule that adds
  // into the adjoint accumulated so far: slices (overlapping, strided, with outer and inner axes), x·x,
  // products with a constant, with an operand of the same shape and with a broadcast operand. The
  // gradient must equal central differences of the values, the anomaly-mode sweep (which takes every
  // contribution as a separate cotangent) and the recorded sweep.
  struct Case {
    std::string name;
    Shape shape;
    std::function<Var(const Var&)> f;
    std::function<Tensor(const Tensor&)> value;
  };
  auto both = [](auto g) {
    return std::pair{std::function<Var(const Var&)>([g](const Var& x) { return g(x); }),
                     std::function<Tensor(const Tensor&)>([g](const Tensor& x) { return g(x); })};
  };
  std::vector<Case> cases;
  auto add = [&](std::string name, Shape shape, auto g) {
    auto [f, v] = both(g);
    cases.push_back({std::move(name), shape, f, v});
  };
  add("rosenbrock", Shape{9}, [](const auto& x) {
    const auto n = static_cast<std::ptrdiff_t>(x.numel());
    const auto a = slice(x, 0, 0, n - 1), b = slice(x, 0, 1, n);
    const auto t = b - a * a, u = 1.0 - a;
    return sum(100.0 * t * t + u * u);
  });
  add("overlapping and strided slices along a middle axis", Shape{3, 7, 2}, [](const auto& x) {
    return sum(sin(slice(x, 1, 0, 7, 2))) + sum(slice(x, 1, 1, 6) * slice(x, 1, 2, 7)) +
           sum(exp(slice(x, 1, -3, 100)));
  });
  add("x·x, constant and same-shape products into one adjoint", Shape{4, 3}, [](const auto& x) {
    const auto s = sin(x);
    return sum(s * s + 3.0 * s + s * cos(x) + x * x);
  });
  add("products with broadcast operands", Shape{3, 4}, [](const auto& x) {
    const auto row = slice(x, 0, 0, 1);  // (1, 4), broadcast against (3, 4)
    const auto e = exp(x);
    return sum(e * row + e * x + tanh(x) * row * 2.0);
  });
  // Recorded in this order, x·x gives s its adjoint first; the reverse sweep then reaches a - s, c·s,
  // c - s and -s, which add into it in place.
  add("-s, c - s, c·s and a - s into an existing adjoint", Shape{3, 4}, [](const auto& x) {
    const auto s = sin(x);
    const auto neg = -s;
    const auto from_two = 2.0 - s;
    const auto scaled = 5.0 * s;
    const auto diff = cos(x) - s;
    const auto square = s * s;
    return sum(neg + from_two + scaled + diff + square);
  });
  // -s adds into s's adjoint, which is the very cotangent of -s (sums hand theirs through): the
  // in-place addition must first give the adjoint its own buffer.
  add("in place into an adjoint that shares the cotangent's buffer", Shape{5}, [](const auto& x) {
    const auto s = sin(x);
    const auto neg = -s;
    const auto p = s + cos(x);
    return sum(p + neg);
  });
  // Each sum hands its term a cotangent of its own, at its last use: the product and x·x write
  // their cotangents over its buffer; c - e, -e and c·e hand it on with a factor.
  add("cotangents written over the incoming cotangent's buffer", Shape{2, 5}, [](const auto& x) {
    const auto e = exp(x), s = sin(x);
    return sum(e * s) + sum(s * s) + sum(2.0 - e) + sum(-s) + sum(3.0 * e);
  });
  // Linear rules hand their cotangent on with a factor (-1, c). Recorded first, the product, x·x and
  // slice then add into adjoints whose factor is the opposite of their cotangent's; 2·(-(3 - 5x))
  // chains factors; 0.5 s and -s give s two adjoints of different factors to combine.
  add("adjoints held with a factor: chains, sign flips and additions into them", Shape{3, 5},
      [](const auto& x) {
        const auto s = sin(x);
        const auto product = s * cos(x);
        const auto square = s * s;
        const auto part = slice(x, 1, 1, 4);
        return sum(product) + sum(square) + sum(exp(part)) + sum(-s) + sum(0.5 * s) + sum(-x) +
               sum(2.0 * (-(3.0 - 5.0 * x)));
      });
  add("a factor reaching a 0-d input of a tensor product", Shape{4}, [](const auto& x) {
    const auto c = sum(sin(x));  // 0-d
    return sum(-(x * c)) + sum(3.0 - tanh(x) * c);
  });
  for (const Case& c : cases) {
    INFO(c.name);
    const Tensor x0 = rnd(c.shape, -1, 1, 11);
    Tape tape;
    const Var x = tape.variable(x0);
    const Var y = c.f(x);
    const Tensor g = tape.gradient(y, {x})[0];
    const Tensor fd = gc::central_difference([&](const Tensor& xs) { return c.value(xs).item(); }, x0);
    CHECK_THAT(g, AllClose(fd, 1e-6, 1e-7));
    tape.set_detect_anomaly(true);
    CHECK_THAT(tape.gradient(y, {x})[0], AllClose(g, 1e-14, 1e-14));
    tape.set_detect_anomaly(false);
    const Var wrt[] = {x};
    CHECK_THAT(tape.gradient_vars(y, wrt)[0].value(), AllClose(g, 1e-14, 1e-14));
  }
}

TEST_CASE("tape: adding into an adjoint never writes to a cotangent the caller still holds", "[tape][vjp]") {
  // x's adjoint is first the caller's cotangent w2 itself (reshape hands it through, sharing its
  // buffer), then x · x adds 2 g x into it in place: w2 must keep its values.
  const Tensor x0 = rnd(Shape{2, 3}, -1, 1, 12);
  const Tensor w1 = rnd(Shape{2, 3}, -1, 1, 13), w2 = rnd(Shape{6}, -1, 1, 14);
  const Tensor w2_before = w2.to(DType::f64);
  Tape tape;
  const Var x = tape.variable(x0);
  const Var m = x * x;
  const Var r = reshape(x, Shape{6});
  const Var outputs[] = {m, r}, wrt[] = {x};
  const Tensor cotangents[] = {w1, w2};
  const Tensor g = tape.vjp(outputs, cotangents, wrt)[0];
  CHECK_THAT(w2, AllClose(w2_before, 0, 0));
  CHECK_THAT(g, AllClose(2.0 * x0 * w1 + reshape(w2, Shape{2, 3}), 1e-15, 1e-15));
}

TEST_CASE("tape: a recorded gradient multiplies by its seed's ones nowhere", "[tape][grad]") {
  const Tensor a0 = rnd(Shape{4}, -1, 1, 17), b0 = rnd(Shape{4}, -1, 1, 18);
  Tape tape;
  const Var a = tape.variable(a0), b = tape.variable(b0);
  const Var y = sum(a * b + b * b);
  const std::size_t before = tape.size();
  const Var wrt[] = {a, b};
  const std::vector<Var> g = tape.gradient_vars(y, wrt);
  // ā = b is b's own entry; b̄ = a + 2b takes three: 2b, the addition, and the seed's constant.
  CHECK(g[0].index() == b.index());
  CHECK(tape.size() - before == 3);
  CHECK_THAT(g[0].value(), AllClose(b0, 0, 0));
  CHECK_THAT(g[1].value(), AllClose(a0 + 2.0 * b0, 1e-15, 1e-15));
  // A mean's division takes the seed as the ones it needs (no second constant): seed, g / 4, the
  // sum's reshape and broadcast, and 2 g a.
  const Var m = sum(a * a) / 4.0;
  const std::size_t before_mean = tape.size();
  const Var gm = tape.gradient_vars(m, std::span<const Var>(wrt, 1))[0];
  CHECK(tape.size() - before_mean == 6);
  CHECK_THAT(gm.value(), AllClose(0.5 * a0, 1e-15, 1e-15));
  // A cotangent of ones that is itself a variable is multiplied by: its own gradient must flow.
  const Var w = tape.variable(Tensor::ones(Shape{4}));
  const Var p = a * b;
  const Var outputs[] = {p}, cotangents[] = {w}, wrt_a[] = {a};
  const Var ga = tape.vjp_vars(outputs, cotangents, wrt_a)[0];
  CHECK_THAT(tape.gradient(sum(ga * a), {w})[0], AllClose(a0 * b0, 1e-15, 1e-15));
}

TEST_CASE("tape: a rule writes over a cotangent's buffer only when nothing else holds it", "[tape][vjp]") {
  // The caller's cotangent of a product, -x and c·x is read, never written; an intermediate asked
  // for keeps its adjoint although its product's rule comes after.
  const Tensor x0 = rnd(Shape{7}, -1, 1, 15), w0 = rnd(Shape{7}, -1, 1, 16);
  const Tensor w = w0.to(DType::f64), before = w0.to(DType::f64);
  Tape tape;
  const Var x = tape.variable(x0);
  const Var s = sin(x);
  for (const Var& y : {x * s, s * s, -s, 3.0 * s, 2.0 - s}) {
    const Var outputs[] = {y}, wrt[] = {x};
    const Tensor cotangents[] = {w};
    const Tensor g = tape.vjp(outputs, cotangents, wrt)[0];
    CHECK_THAT(w, AllClose(before, 0, 0));
    const Var wv = tape.constant(w);
    const Var gv = tape.gradient_vars(sum(y * wv), std::span<const Var>(wrt))[0];
    CHECK_THAT(g, AllClose(gv.value(), 1e-15, 1e-15));
  }
  const Var m = x * s;
  const Var y = sum(exp(m));
  const std::vector<Tensor> g = tape.gradient(y, {x, m});
  const Tensor em = exp(x0 * sin(x0));
  CHECK_THAT(g[1], AllClose(em, 1e-15, 1e-15));
  CHECK_THAT(g[0], AllClose(em * (sin(x0) + x0 * cos(x0)), 1e-14, 1e-15));
  // An intermediate's adjoint held with a factor is handed out multiplied: -1 and 2.5 here.
  const Var z = sum(-s) + sum(2.5 * m);
  const std::vector<Tensor> gz = tape.gradient(z, {s, m});
  CHECK_THAT(gz[0], AllClose(-1.0 + 2.5 * x0, 1e-15, 1e-15));
  CHECK_THAT(gz[1], AllClose(Tensor::full(Shape{7}, 2.5), 0, 0));
}

// ---- replay --------------------------------------------------------------------------------------

namespace {

struct ReplayCase {
  std::string name;
  std::function<Var(const std::vector<Var>&)> f;
  std::vector<Shape> shapes;
  double lo, hi;
};

}  // namespace

TEST_CASE("tape: replay at new inputs equals re-recording", "[tape][replay]") {
  const Tensor W = rnd(Shape{3, 4}, -1, 1, 10);
  const std::vector<ReplayCase> cases = {
      {"elementwise",
       [](const std::vector<Var>& v) { return sum(sin(v[0]) * exp(v[0]) / (v[0] * v[0] + 1.0)); },
       {{2, 3}},
       -1,
       1},
      {"mlp-like",
       [W](const std::vector<Var>& v) {
         const Var h = tanh(matmul(v[0], W) + v[1]);
         return sum(log_softmax(h, 1) * 0.5) + sum(relu(h));
       },
       {{2, 3}, {4}},
       -1,
       1},
      {"reductions",
       [](const std::vector<Var>& v) {
         return sum(max(v[0], 1)) + sum(prod(v[0], 0)) + logsumexp(v[0]) + mean(min(v[0], -1, true));
       },
       {{3, 4}},
       -1,
       1},
      {"layout",
       [](const std::vector<Var>& v) {
         const std::vector<std::size_t> idx = {1, 0, 1};
         const Var t = concat({slice(v[0], 1, 0, 3, 2), gather(v[0], idx, 1)}, 1);
         return sum(transpose(t) * broadcast_to(v[1], Shape{5, 2})) +
                sum(where(v[0] > 0.0, v[0], 0.5 * v[0]));
       },
       {{2, 3}, {2}},
       -1,
       1},
      {"pow and maximum",
       [](const std::vector<Var>& v) {
         return sum(pow(v[0], v[1]) + maximum(v[0], v[1]) + clamp(v[1], 0.6, 0.9));
       },
       {{3}, {3}},
       0.5,
       1.5},
  };
  for (const ReplayCase& c : cases) {
    INFO(c.name);
    std::vector<Tensor> x0, x1;
    for (std::size_t k = 0; k < c.shapes.size(); ++k) {
      x0.push_back(rnd(c.shapes[k], c.lo, c.hi, 20 + k));
      x1.push_back(rnd(c.shapes[k], c.lo, c.hi, 40 + k));
    }
    Tape tape;
    std::vector<Var> vars;
    for (const Tensor& x : x0) vars.push_back(tape.variable(x));
    const Var y = c.f(vars);
    const std::vector<Var> gvars = tape.gradient_vars(y, vars);  // the gradient is recorded too
    const std::size_t size = tape.size();

    tape.replay(x1);
    CHECK(tape.size() == size);  // nothing re-recorded

    Tape fresh;
    std::vector<Var> fvars;
    for (const Tensor& x : x1) fvars.push_back(fresh.variable(x));
    const Var fy = c.f(fvars);
    const std::vector<Tensor> fg = fresh.gradient(fy, fvars);
    // Same kernels, same order: equal to the last bit.
    CHECK_THAT(y.value(), AllClose(fy.value(), 0, 0));
    for (std::size_t k = 0; k < vars.size(); ++k) {
      INFO("input " << k);
      // The recorded gradient graph replays too: ∇f at the new point without re-recording.
      CHECK_THAT(gvars[k].value(), AllClose(fg[k], 1e-14, 1e-15));
      // A reverse sweep after the replay uses the new values.
      CHECK_THAT(tape.gradient(y, vars)[k], AllClose(fg[k], 1e-14, 1e-15));
    }
    // Every entry recorded by f matches the fresh recording.
    for (std::size_t i = 0; i < fresh.size(); ++i) {
      INFO("entry #" << i);
      CHECK_THAT(tape.value(i), AllClose(fresh.value(i), 0, 0));
    }
    // Replaying back at x0 restores the original values.
    Tape again;
    std::vector<Var> avars;
    for (const Tensor& x : x0) avars.push_back(again.variable(x));
    const Var ay = c.f(avars);
    tape.replay(x0);
    CHECK_THAT(y.value(), AllClose(ay.value(), 0, 0));
  }
}

TEST_CASE("tape: replay checks its inputs", "[tape][replay]") {
  Tape tape;
  const Var x = tape.variable(Tensor::ones(Shape{3}));
  (void)sum(x * x);
  CHECK_THROWS_AS(tape.replay({Tensor::ones(Shape{3}), Tensor::ones(Shape{3})}), ValueError);
  const std::string msg = message_of<ShapeError>([&] { tape.replay({Tensor::ones(Shape{4})}); });
  CHECK_THAT(msg, Contains("(3,)") && Contains("(4,)"));
  CHECK_THROWS_AS(tape.replay({Tensor::ones(Shape{3}, DType::f32)}), ShapeError);
}

TEST_CASE("tape: a replay whose recorded branch flips raises TapeError naming the entry",
          "[tape][replay][branch]") {
  auto f = [](const Var& x) {
    Var y;
    if (branch(x > 0.0))
      y = log(x);
    else
      y = -x;
    return sum(y);
  };
  Tape tape;
  const Var x = tape.variable(Tensor::from({2}, {0.5, 2.0}));
  const Var cond = x > 0.0;
  const std::size_t branch_entry = tape.size();
  const bool taken = branch(cond);
  CHECK(taken);
  CHECK(tape.node(branch_entry).op == Op::Branch);
  const Var y = sum(log(x));
  // Same side of the branch: fine, and equal to re-recording.
  tape.replay({Tensor::from({2}, {1.5, 3.0})});
  CHECK(y.item() == Approx(std::log(1.5) + std::log(3.0)).epsilon(1e-15));
  CHECK(f(Tape().variable(Tensor::from({2}, {1.5, 3.0}))).item() == Approx(y.item()).epsilon(1e-15));
  // One element flips the recorded "all true".
  const std::string msg = message_of<TapeError>([&] { tape.replay({Tensor::from({2}, {1.5, -3.0})}); });
  INFO(msg);
  CHECK_THAT(msg, Contains(entry_ref(branch_entry)));
  CHECK_THAT(msg, Contains("true"));

  // A branch recorded false flips to true.
  Tape t2;
  const Var z = t2.variable(Tensor(-1.0));
  const Var c2 = z > 0.0;
  const std::size_t e2 = t2.size();
  CHECK_FALSE(branch(c2));
  (void)(-z);
  const std::string m2 = message_of<TapeError>([&] { t2.replay({Tensor(1.0)}); });
  CHECK_THAT(m2, Contains(entry_ref(e2)));
  // Branch entries show in the listing.
  CHECK_THAT(t2.listing(), Contains("Branch"));
}

// ---- misuse ------------------------------------------------------------------------------------

TEST_CASE("tape: use from another thread raises TapeError", "[tape][thread]") {
  Tape tape;
  const Var x = tape.variable(Tensor::from({2}, {1.0, 2.0}));
  const Var y = sum(x * x);
  std::string record_error, gradient_error, replay_error, variable_error;
  std::thread([&] {
    record_error = message_of<TapeError>([&] { (void)exp(x); });
    gradient_error = message_of<TapeError>([&] { (void)tape.gradient(y, {x}); });
    replay_error = message_of<TapeError>([&] { tape.replay({Tensor::ones(Shape{2})}); });
    variable_error = message_of<TapeError>([&] { (void)tape.variable(Tensor(1.0)); });
  }).join();
  CHECK_THAT(record_error, Contains("thread"));
  CHECK_THAT(gradient_error, Contains("thread"));
  CHECK_THAT(replay_error, Contains("thread"));
  CHECK_THAT(variable_error, Contains("thread"));
  // The owning thread still works, and nothing was recorded by the failed calls.
  CHECK_THAT(tape.gradient(y, {x})[0], AllClose(Tensor::from({2}, {2.0, 4.0}), 0, 0));
}

TEST_CASE("tape: two threads record and sweep their own tapes at once", "[tape][thread]") {
  auto work = [](double offset, Tensor* out) {
    for (int rep = 0; rep < 20; ++rep) {
      *out = grad([](const Var& x) { return sum(sin(x) * exp(x)); },
                  Tensor::from({3}, {offset, offset + 0.1, 0.3}));
    }
  };
  Tensor g1, g2;
  std::thread t1(work, 0.1, &g1), t2(work, 0.2, &g2);
  t1.join();
  t2.join();
  auto expect = [](double v) { return std::exp(v) * (std::sin(v) + std::cos(v)); };
  CHECK(g1.at(0) == Approx(expect(0.1)).epsilon(1e-14));
  CHECK(g2.at(1) == Approx(expect(0.3)).epsilon(1e-14));
}

TEST_CASE("tape: variables recorded before clear() raise TapeError", "[tape][clear]") {
  Tape tape;
  const Var x = tape.variable(Tensor::from({2}, {1.0, 2.0}));
  const Var y = sum(x * x);
  tape.clear();
  CHECK(tape.size() == 0);
  CHECK(tape.inputs().empty());
  const std::string msg = message_of<TapeError>([&] { (void)y.value(); });
  CHECK_THAT(msg, Contains("cleared"));
  CHECK_THROWS_AS(exp(x), TapeError);
  CHECK_THROWS_AS(x.needs_grad(), TapeError);
  // Even with new entries at the same indices, the old handles stay invalid.
  const Var x2 = tape.variable(Tensor::from({2}, {3.0, 4.0}));
  const Var y2 = sum(x2 * x2);
  CHECK_THROWS_AS(tape.gradient(y, {x2}), TapeError);
  CHECK_THROWS_AS(tape.gradient(y2, {x}), TapeError);
  CHECK_THAT(tape.gradient(y2, {x2})[0], AllClose(Tensor::from({2}, {6.0, 8.0}), 0, 0));
  tape.replay({Tensor::from({2}, {1.0, 1.0})});
  CHECK(y2.item() == 2.0);
}

// ---- listing, DOT, anomaly ------------------------------------------------------------------------

TEST_CASE("tape: listing() and to_dot() are readable", "[tape][listing]") {
  Tape tape;
  const Var x = tape.variable(Tensor::from({3}, {0.5, 1.0, 2.0}));
  Var frozen;
  {
    NoGrad ng;
    frozen = cos(x);
  }
  const Var y = sum(sin(x) * exp(x) + frozen, 0, false);
  (void)pow(x, 3.0);
  (void)max(x);
  const std::string listing = tape.listing();
  INFO(listing);
  // One line per entry: "%i = Op %inputs  : dtype shape".
  std::size_t lines = 0;
  for (char ch : listing) lines += ch == '\n';
  CHECK(lines == tape.size());
  CHECK_THAT(listing, Contains("%0 = Input"));
  CHECK_THAT(listing, Contains("Sin %0"));
  CHECK_THAT(listing, Contains("Exp %0"));
  CHECK_THAT(listing, Contains("Cos %0"));
  CHECK_THAT(listing, Contains("[no grad]"));
  CHECK_THAT(listing, Contains("float64(3,)"));
  CHECK_THAT(listing, Contains("Sum(axis=-1)"));
  CHECK_THAT(listing, Contains("PowScalar(p=3)"));
  CHECK_THAT(listing, Contains("Max(all)"));
  CHECK(y.numel() == 1);

  const std::string dot = tape.to_dot();
  INFO(dot);
  CHECK(dot.rfind("digraph", 0) == 0);
  CHECK(std::count(dot.begin(), dot.end(), '{') == std::count(dot.begin(), dot.end(), '}'));
  CHECK_THAT(dot, Contains("n0 -> n1"));
  CHECK_THAT(dot, Contains("Sin"));
  std::size_t edges = 0;
  for (std::size_t pos = 0; (pos = dot.find("->", pos)) != std::string::npos; ++pos) ++edges;
  std::size_t expected_edges = 0;
  for (std::size_t i = 0; i < tape.size(); ++i) expected_edges += tape.node(i).num_inputs;
  CHECK(edges == expected_edges);
}

TEST_CASE("tape: anomaly mode names the first entry producing NaN or Inf", "[tape][anomaly]") {
  SECTION("while recording") {
    Tape tape;
    tape.set_detect_anomaly(true);
    CHECK(tape.detect_anomaly());
    const Var x = tape.variable(Tensor::from({3}, {1.0, -1.0, 2.0}));
    const Var s = x * 2.0;
    const std::size_t bad = tape.size();
    const std::string msg = message_of<Error>([&] { (void)log(sqrt(s)); });  // sqrt(-2) is the first NaN
    INFO(msg);
    CHECK_THAT(msg, Contains(entry_ref(bad)));
    CHECK_THAT(msg, Contains("Sqrt"));
    CHECK_THAT(msg, Contains("element 1"));
    // Infinity too.
    const std::string inf = message_of<Error>([&] { (void)(1.0 / (x - 1.0)); });
    CHECK_THAT(inf, Contains("Div"));
  }
  SECTION("off by default") {
    Tape tape;
    const Var x = tape.variable(Tensor::from({2}, {-1.0, 1.0}));
    CHECK(std::isnan(log(x).value().at(0)));
  }
  SECTION("while replaying") {
    Tape tape;
    tape.set_detect_anomaly(true);
    const Var x = tape.variable(Tensor::from({2}, {1.0, 2.0}));
    const std::size_t exp_entry = tape.size();
    const Var y = exp(x);
    (void)sum(log(y - 2.0 * x));  // finite wherever e^x > 2x, i.e. everywhere
    // A finite replay passes silently.
    CHECK(message_of<Error>([&] { tape.replay({Tensor::from({2}, {0.7, 2.0})}); }).empty());
    // e^1000 overflows: Exp is the first entry to go infinite (log(inf) after it is inf too).
    const std::string msg = message_of<Error>([&] { tape.replay({Tensor::from({2}, {1.0, 1000.0})}); });
    INFO(msg);
    CHECK_THAT(msg, Contains(entry_ref(exp_entry)));
    CHECK_THAT(msg, Contains("Exp"));
    CHECK_THAT(msg, Contains("element 1"));
  }
  SECTION("in a reverse sweep") {
    // sqrt's reverse rule is infinite at 0: documented as reported by anomaly mode.
    Tape tape;
    tape.set_detect_anomaly(true);
    const Var x = tape.variable(Tensor::from({2}, {0.0, 4.0}));
    const Var y = sum(sqrt(x));
    const std::string msg = message_of<Error>([&] { (void)tape.gradient(y, {x}); });
    INFO(msg);
    CHECK_THAT(msg, Contains("anomaly"));
    CHECK_THAT(msg, Contains("Sqrt"));
    // Without anomaly mode the gradient is returned as computed.
    Tape plain;
    const Var px = plain.variable(Tensor::from({2}, {0.0, 4.0}));
    const Tensor g = plain.gradient(sum(sqrt(px)), {px})[0];
    CHECK(std::isinf(g.at(0)));
    CHECK(g.at(1) == 0.25);
  }
}

// ---- 0-d ------------------------------------------------------------------------------------------

TEST_CASE("tape: scalar (0-d) code works", "[tape][scalar]") {
  const double v = 0.7;
  Tape tape;
  const Var x = tape.variable(Tensor(v));
  const Var y = x * x * sin(x) + exp(x) / x - 3.0;
  CHECK(y.rank() == 0);
  const Tensor g = tape.gradient(y, {x})[0];
  CHECK(g.rank() == 0);
  const double expected = 2 * v * std::sin(v) + v * v * std::cos(v) + std::exp(v) / v - std::exp(v) / (v * v);
  CHECK(g.item() == Approx(expected).epsilon(1e-14));
  // Second derivative by reverse over reverse, against a central difference of the first.
  const Var gx = tape.gradient_vars(y, std::span<const Var>(&x, 1))[0];
  const double second = tape.gradient(gx, {x})[0].item();
  auto first = [](double u) {
    return 2 * u * std::sin(u) + u * u * std::cos(u) + std::exp(u) / u - std::exp(u) / (u * u);
  };
  const double h = 1e-5;
  CHECK(second == Approx((first(v + h) - first(v - h)) / (2 * h)).margin(1e-8));
  // Replay at another 0-d point.
  tape.replay({Tensor(1.3)});
  CHECK(gx.item() == Approx(first(1.3)).epsilon(1e-14));
  // Functional API on 0-d tensors.
  CHECK(grad([](const Var& u) { return u * u * u; }, Tensor(2.0)).item() == 12.0);
  CHECK(hessian([](const Var& u) { return u * u * u; }, Tensor(2.0)).item() == Approx(12.0));
  // 0-d against tensors: broadcasting, reduction of a 0-d.
  const Var s = sum(x * Tensor::from({3}, {1, 2, 3}));
  CHECK(tape.gradient(s, {x})[0].item() == Approx(6.0));
  CHECK(tape.gradient(sum(x), {x})[0].item() == 1.0);
  CHECK(tape.gradient(max(x), {x})[0].item() == 1.0);
}

TEST_CASE("tape: scalar code's doubles interface gives the tensor interface's numbers", "[tape][scalar]") {
  // A Rosenbrock loop over six 0-d variables with a sine: its gradient into doubles, at the recorded
  // point and after replays from doubles and from tensors, against the closed form and the tensor
  // interface (the same sweep: equal to the last bit).
  auto f_grad = [](const std::vector<double>& x) {
    std::vector<double> g(x.size(), 0.0);
    for (std::size_t i = 0; i + 1 < x.size(); ++i) {
      const double t = x[i + 1] - x[i] * x[i];
      g[i] += -400.0 * t * x[i] - 2.0 * (1.0 - x[i]);
      g[i + 1] += 200.0 * t;
    }
    g[0] += std::cos(x[0]);
    return g;
  };
  std::vector<double> x0{0.3, -0.8, 1.1, 0.5, -0.2, 0.9};
  Tape tape;
  std::vector<Var> x;
  for (const double v : x0) x.push_back(tape.variable(Tensor(v)));
  Var y = sin(x[0]);
  for (std::size_t i = 0; i + 1 < x.size(); ++i) {
    const Var t = x[i + 1] - x[i] * x[i];
    y = y + 100.0 * t * t + (1.0 - x[i]) * (1.0 - x[i]);
  }
  const std::vector<Var> wrt{x[0], x[1], x[2], x[3], x[4], x[5], x[2]};  // x[2] twice
  auto check_at = [&](const std::vector<double>& at) {
    std::vector<double> g(wrt.size(), -1.0);
    tape.gradient(y, wrt, g);
    const std::vector<Tensor> gt = tape.gradient(y, wrt);
    const std::vector<double> expected = f_grad(at);
    for (std::size_t k = 0; k < wrt.size(); ++k) {
      CHECK(g[k] == gt[k].item());
      CHECK(g[k] == Approx(expected[k == 6 ? 2 : k]).epsilon(1e-12));
    }
  };
  check_at(x0);
  const std::vector<double> x1{-0.4, 0.2, 0.7, 1.3, 0.1, -0.6};
  tape.replay(x1);  // a std::vector<double> picks the doubles interface
  check_at(x1);
  std::vector<Tensor> x2t;
  const std::vector<double> x2{1.2, 0.4, -0.3, 0.8, 0.6, 0.05};
  for (const double v : x2) x2t.emplace_back(v);
  tape.replay(x2t);
  check_at(x2);

  // A variable the output does not reach gets 0.
  const Var unused = tape.variable(Tensor(2.0));
  std::vector<double> g1(1, -1.0);
  tape.gradient(y, std::vector<Var>{unused}, g1);
  CHECK(g1[0] == 0.0);
}

TEST_CASE("tape: the doubles interface refuses what it can not take, changing nothing", "[tape][scalar]") {
  Tape tape;
  const Var a = tape.variable(Tensor(0.5));
  const Var v = tape.variable(Tensor::from({2}, {1.0, 2.0}));
  const Var y = a * sum(v);
  const std::vector<Var> both{a, v};
  std::vector<double> out(2);
  CHECK_THROWS_WITH(tape.gradient(y, both, out), Contains("variable 1") && Contains("float64(2,)"));
  std::vector<double> short_out(1);
  CHECK_THROWS_WITH(tape.gradient(y, std::vector<Var>{a, a}, short_out),
                    Contains("2 variables") && Contains("1 doubles"));
  CHECK_THROWS_WITH(tape.gradient(v * a, std::vector<Var>{a}, short_out), Contains("one element"));
  // A replay from doubles needs 0-d inputs only; one from tensors checks all before it writes.
  const std::vector<double> two{0.25, 0.75};
  CHECK_THROWS_WITH(tape.replay(std::span<const double>(two)),
                    Contains("input 1") && Contains("float64(2,)"));
  CHECK_THROWS_WITH(tape.replay({Tensor(0.25), Tensor::ones(Shape{3})}),
                    Contains("input 1") && Contains("float64(3,)"));
  CHECK(a.item() == 0.5);
  CHECK(y.item() == 1.5);
  const std::vector<double> three{0.1, 0.2, 0.3};
  CHECK_THROWS_AS(tape.replay(std::span<const double>(three)), ValueError);
}

TEST_CASE("tape: a number operand of +, - and * is kept in its entry", "[tape][scalar]") {
  // 100 * (y - x²)² + (1 - x)², the textbook way: one entry per operation, no Constant entries.
  for (const Tensor& x0 : {Tensor(0.3), Tensor::from({2}, {0.3, -1.2})}) {
    INFO("x0 " << x0.shape().str());
    Tape tape;
    const Var x = tape.variable(x0), y = tape.variable(x0 * 2.0);
    const Var t = y - x * x;
    const Var f = sum(100.0 * t * t + (1.0 - x) * (1.0 - x) - 0.5 + x * 0.25);
    CHECK(tape.size() == 14);  // 2 inputs, 11 operations, sum
    const std::string listing = tape.listing();
    INFO(listing);
    CHECK_THAT(listing, Contains("MulConstant(c=100)") && Contains("ConstantMinus(c=1)") &&
                            Contains("AddConstant(c=-0.5)") && Contains("MulConstant(c=0.25)"));
    CHECK(listing.find("Constant ") == std::string::npos);
    // value and gradient against the closed form, then at a replayed point
    for (const double shift : {0.0, 0.4}) {
      const Tensor xv = x0 + shift, yv = x0 * 2.0 - shift;
      if (shift != 0.0) tape.replay({xv, yv});
      const Tensor tv = yv - xv * xv, u = 1.0 - xv;
      CHECK(f.item() == Approx(sum(100.0 * tv * tv + u * u - 0.5 + xv * 0.25).item()).epsilon(1e-14));
      const std::vector<Tensor> g = tape.gradient(f, {x, y});
      for (std::size_t i = 0; i < xv.numel(); ++i) {
        const double xi = xv.at(i), ti = tv.at(i);
        CHECK(g[0].at(i) == Approx(-400.0 * ti * xi - 2.0 * (1.0 - xi) + 0.25).epsilon(1e-13));
        CHECK(g[1].at(i) == Approx(200.0 * ti).epsilon(1e-13));
      }
    }
  }
}

TEST_CASE("tape: scalar entries keep their doubles apart and their tensors in step", "[tape][scalar]") {
  // Scalar code records doubles, not tensors (tape.hpp: Tape::real_value); a tensor read of one
  // (Var::value) is made on demand and must follow replays like any tensor value.
  Tape tape;
  const Var x = tape.variable(Tensor(0.5));
  const Var y = sin(x) * x + 2.0;
  const Var z = sum(Tensor::from({3}, {1, 2, 3}) * y);  // a tensor op on a scalar entry
  // x, sin, *, + 2.0 (one entry, the number kept in it), sum: five doubles; [1 2 3] and the
  // product: two 3-element tensors.
  CHECK(tape.value_bytes() == 5 * sizeof(double) + 2 * 3 * sizeof(double));
  CHECK(tape.real_value(static_cast<std::size_t>(y.index())) == std::sin(0.5) * 0.5 + 2.0);
  const Tensor& y_seen = y.value();  // a reference taken before the replay
  CHECK(y_seen.item() == std::sin(0.5) * 0.5 + 2.0);

  tape.replay({Tensor(1.5)});
  const double y15 = std::sin(1.5) * 1.5 + 2.0;
  CHECK(y_seen.item() == y15);   // the same reference shows the replayed value
  CHECK(z.item() == 6.0 * y15);  // the tensor op read the replayed double
  CHECK(tape.gradient(z, {x})[0].item() ==
        Approx(6.0 * (std::cos(1.5) * 1.5 + std::sin(1.5))).epsilon(1e-14));
  CHECK(tape.listing().find("= " + std::to_string(y15).substr(0, 4)) != std::string::npos);

  // The lane adds cotangents into every input, constants too; a constant still has no gradient,
  // and a variable named twice gets its gradient in both places.
  const Var c = tape.constant(Tensor(3.0));
  const Var w = x * c;
  const std::vector<Tensor> gw = tape.gradient(w, {x, c, x});
  CHECK(gw[0].item() == 3.0);
  CHECK(gw[1].item() == 0.0);
  CHECK(gw[2].item() == 3.0);

  // An input given as a 0-d tensor of another dtype is refused, naming both.
  CHECK_THROWS_WITH(tape.replay({Tensor(1.5, DType::f32)}),
                    Catch::Contains("float64()") && Catch::Contains("float32()"));
  // And so is one of another shape; the refused replays changed nothing.
  CHECK_THROWS_WITH(tape.replay({Tensor::ones(Shape{1})}),
                    Catch::Contains("float64()") && Catch::Contains("float64(1,)"));
  CHECK(x.item() == 1.5);
}

namespace {
// out[i, j] = Σ_k a[i, k] b[k, j] by plain loops: an independent route to a 2-D product.
Tensor loop_product(const Tensor& a, const Tensor& b) {
  const std::size_t m = a.shape()[0], k = a.shape()[1], n = b.shape()[1];
  Tensor out(DType::f64, Shape{m, n});
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (std::size_t l = 0; l < k; ++l) s += a.at(i * k + l) * b.at(l * n + j);
      out.set(i * n + j, s);
    }
  return out;
}
}  // namespace

TEST_CASE("tape: a matrix product's value is computed when first read", "[tape][deferred]") {
  Tape tape;
  const Tensor a0 = rnd(Shape{3, 4}, -1, 1, 801), b0 = rnd(Shape{4, 2}, -1, 1, 802);
  const Var a = tape.variable(a0), b = tape.variable(b0);
  const Var y = matmul(a, b);
  const auto entry = static_cast<std::size_t>(y.index());
  CHECK(tape.node(entry).deferred);
  CHECK(y.shape() == Shape({3, 2}));  // shape and dtype do not compute it
  CHECK(y.dtype() == DType::f64);
  CHECK(tape.node(entry).deferred);
  const Var s = sum(y);  // reading it (here: to record sum) computes it
  CHECK_FALSE(tape.node(entry).deferred);
  CHECK_THAT(y.value(), AllClose(loop_product(a0, b0), 1e-14, 1e-14));
  const Tensor expected = loop_product(a0, b0);
  double total = 0.0;
  for (std::size_t i = 0; i < expected.numel(); ++i) total += expected.at(i);
  CHECK(s.item() == Approx(total).epsilon(1e-14));

  SECTION("shape errors still come when the product is recorded") {
    CHECK_THROWS_WITH(matmul(a, a), Contains("inner dimensions 4 and 3 differ"));
  }
  SECTION("a product never read before a replay has the replayed inputs' value") {
    const Var z = matmul(a, b);
    REQUIRE(tape.node(static_cast<std::size_t>(z.index())).deferred);
    const Tensor a1 = rnd(Shape{3, 4}, -1, 1, 803), b1 = rnd(Shape{4, 2}, -1, 1, 804);
    tape.replay({a1, b1});
    CHECK_THAT(z.value(), AllClose(loop_product(a1, b1), 1e-14, 1e-14));
    CHECK_THAT(y.value(), AllClose(loop_product(a1, b1), 1e-14, 1e-14));
  }
  SECTION("anomaly mode checks every value as it is recorded, so it defers none") {
    tape.set_detect_anomaly(true);
    const Var z = matmul(a, b);
    CHECK_FALSE(tape.node(static_cast<std::size_t>(z.index())).deferred);
    CHECK_THAT(z.value(), AllClose(loop_product(a0, b0), 1e-14, 1e-14));
  }
}

TEST_CASE("tape: an HVP through a recorded gradient never computes the gradient's last product",
          "[tape][deferred][taylor]") {
  Tape tape;
  const Tensor X = rnd(Shape{5, 3}, -1, 1, 811);
  const Var w = tape.variable(rnd(Shape{3, 2}, -1, 1, 812));
  const Var h = tanh(matmul(X, w));
  const Var loss = sum(h * h);
  const Var wrt[] = {w};
  const Var g = tape.gradient_vars(loss, wrt)[0];  // its last entry is the product Xᵀ Ḡ
  const Tensor v = rnd(Shape{3, 2}, -1, 1, 813);
  const Tensor dirs[] = {reshape(v, Shape{1, 3, 2})};
  const Var outs[] = {g};
  const Tensor hv = tape.taylor_terms(outs, wrt, dirs, 1)[0][0];
  CHECK(tape.node(static_cast<std::size_t>(g.index())).deferred);

  // Reverse over reverse, an independent route: ∇⟨∇f, v⟩.
  const Tensor hv_rr = tape.gradient(sum(g * v), wrt)[0];
  CHECK_THAT(reshape(hv, Shape{3, 2}), AllClose(hv_rr, 1e-12, 1e-12));
  // taylor() is taylor_terms() behind the value (which it computes).
  const auto full = tape.taylor(outs, wrt, dirs, 1)[0];
  REQUIRE(full.size() == 2);
  CHECK_THAT(full[0], AllClose(g.value(), 0, 0));
  CHECK_THAT(full[1], AllClose(hv, 0, 0));
}
