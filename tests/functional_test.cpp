// The functional API (autodiff/functional.hpp): the contract snippet of DESIGN.md for float and
// double, Hessians / HVPs / Jacobians against central differences, value_and_grad, several
// inputs, and the errors.
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <xtensor/xarray.hpp>

#include "autodiff/autodiff.hpp"
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

double factorial(int k) { return k <= 1 ? 1.0 : k * factorial(k - 1); }

// The Hessian by central differences of grad along each unit direction: column i is
// (∇f(x + h e_i) - ∇f(x - h e_i)) / 2h; h = 1e-5 gives ≈ 1e-10 truncation and ≈ 1e-11 |∇f|
// rounding in double.
Tensor fd_hessian(const UnaryFn& f, const Tensor& x, double h = 1e-5) {
  const std::size_t n = x.numel();
  Shape hs = x.shape();
  for (std::size_t d : x.shape()) hs.push_back(d);
  Tensor H(DType::f64, hs);
  for (std::size_t i = 0; i < n; ++i) {
    Tensor e(DType::f64, x.shape());
    e.set(i, 1.0);
    const Tensor col = gc::directional_difference([&f](const Tensor& p) { return grad(f, p); }, x, e, h);
    for (std::size_t j = 0; j < n; ++j) H.set(j * n + i, col.at(j));
  }
  return H;
}

// The Jacobian (shape f(x).shape + x.shape) by central differences of f's values.
Tensor fd_jacobian(const UnaryFn& f, const Tensor& x, double h = 1e-6) {
  auto F = [&f](const Tensor& p) {
    Tape tape;
    return f(tape.variable(p)).value();
  };
  const Tensor y = F(x);
  Shape js = y.shape();
  for (std::size_t d : x.shape()) js.push_back(d);
  Tensor J(DType::f64, js);
  const std::size_t n = x.numel(), m = y.numel();
  for (std::size_t i = 0; i < n; ++i) {
    Tensor e(DType::f64, x.shape());
    e.set(i, 1.0);
    const Tensor col = gc::directional_difference(F, x, e, h);
    for (std::size_t j = 0; j < m; ++j) J.set(j * n + i, col.at(j));
  }
  return J;
}

}  // namespace

// ---- the contract --------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("functional: the DESIGN.md contract compiles and runs", "[functional][contract]", float,
                   double) {
  using T = TestType;
  const xt::xarray<T> xa = {T(0.3), T(-0.8), T(1.1), T(0.05)};
  const xt::xarray<T> va = {T(1.0), T(0.5), T(-2.0), T(0.25)};
  const Tensor x(xa), v(va);
  const int K = 4;

  // ---- the snippet, verbatim (its lambda's x shadows the tensor x, as in DESIGN.md) ----
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
  auto f = [](const Var& x) { return sum(sin(x) * exp(x)); };
  Tensor g = grad(f, x);                       // reverse mode
  auto [y, t] = jvp(f, x, v);                  // forward mode: f(x), J v
  Tensor hv = hvp(f, x, v);                    // exact Hessian-vector product
  Tensor H = hessian(f, x);                    // dense Hessian
  std::vector<Tensor> c = taylor(f, x, v, K);  // c[k] = (1/k!) d^k/dt^k f(x + t v) at t = 0, k = 0..K
#pragma GCC diagnostic pop
  // ---- end of the snippet ----

  // float: results carry ~1e-7 relative rounding through a handful of ops; double ~1e-16.
  const double rtol = std::is_same_v<T, float> ? 2e-5 : 1e-13;
  const double atol = std::is_same_v<T, float> ? 2e-6 : 1e-14;
  const DType dt = dtype_of<T>();
  for (const Tensor* r : {&g, &y, &t, &hv, &H}) CHECK(r->dtype() == dt);
  CHECK(g.shape() == x.shape());
  CHECK(y.rank() == 0);
  CHECK(hv.shape() == x.shape());
  CHECK(H.shape() == Shape{4, 4});
  REQUIRE(c.size() == static_cast<std::size_t>(K) + 1);

  // Closed forms in double: d/dx sin x e^x = e^x (sin x + cos x), d²/dx² = 2 e^x cos x, and
  // d^k/dx^k sin x e^x = 2^(k/2) e^x sin(x + kπ/4).
  Tensor g_ref(DType::f64, Shape{4}), hv_ref(DType::f64, Shape{4}), H_ref(DType::f64, Shape{4, 4});
  double y_ref = 0, t_ref = 0;
  std::vector<double> c_ref(K + 1, 0.0);
  for (std::size_t i = 0; i < 4; ++i) {
    const double xi = static_cast<double>(xa(i)), vi = static_cast<double>(va(i));
    y_ref += std::sin(xi) * std::exp(xi);
    g_ref.set(i, std::exp(xi) * (std::sin(xi) + std::cos(xi)));
    t_ref += g_ref.at(i) * vi;
    H_ref.set(i * 4 + i, 2.0 * std::exp(xi) * std::cos(xi));
    hv_ref.set(i, H_ref.at(i * 4 + i) * vi);
    for (int k = 0; k <= K; ++k) {
      c_ref[static_cast<std::size_t>(k)] += std::pow(std::sqrt(2.0), k) * std::exp(xi) *
                                            std::sin(xi + k * std::numbers::pi / 4) * std::pow(vi, k) /
                                            factorial(k);
    }
  }
  CHECK_THAT(g.to(DType::f64), AllClose(g_ref, rtol, atol));
  CHECK(y.item() == Approx(y_ref).epsilon(rtol).margin(atol));
  CHECK(t.item() == Approx(t_ref).epsilon(rtol).margin(atol));
  CHECK_THAT(hv.to(DType::f64), AllClose(hv_ref, rtol, atol));
  CHECK_THAT(H.to(DType::f64), AllClose(H_ref, rtol, atol));
  for (int k = 0; k <= K; ++k) {
    INFO("taylor coefficient " << k);
    CHECK(c[static_cast<std::size_t>(k)].dtype() == dt);
    CHECK(c[static_cast<std::size_t>(k)].item() ==
          Approx(c_ref[static_cast<std::size_t>(k)]).epsilon(rtol * 10).margin(atol * 10));
  }
  // .array<T>() hands an xarray back.
  const xt::xarray<T> back = g.template array<T>();
  CHECK(back.size() == 4);
  CHECK(static_cast<double>(back(2)) == Approx(g_ref.at(2)).epsilon(rtol));
  // taylor_to_derivatives: k! c[k].
  const std::vector<Tensor> d = taylor_to_derivatives(c);
  CHECK(d[2].item() == Approx(c[2].item() * 2.0).epsilon(1e-6));
  // The reverse-over-reverse HVP agrees in both dtypes.
  CHECK_THAT(hvp(f, x, v, HvpMethod::reverse_over_reverse).to(DType::f64), AllClose(hv_ref, rtol, atol));
}

// ---- second order against finite differences -----------------------------------------------------

TEST_CASE("functional: hessian and hvp (both methods) against central differences of grad",
          "[functional][hessian]") {
  const Tensor A = rnd(Shape{3, 4}, -1, 1, 1);
  const Tensor W = rnd(Shape{2, 3}, -1, 1, 2);
  struct Fn {
    const char* name;
    UnaryFn f;
    Tensor x;
  };
  const std::vector<Fn> fns = {
      {"sin exp", [](const Var& x) { return sum(sin(x) * exp(x)); }, rnd(Shape{4}, -1, 1, 3)},
      {"logsumexp + cubic", [](const Var& x) { return logsumexp(x) + sum(x * x * x) / 3.0; },
       rnd(Shape{5}, -1, 1, 4)},
      {"tanh(A x)", [A](const Var& x) { return sum(tanh(matmul(A, x)) * tanh(matmul(A, x))); },
       rnd(Shape{4}, -1, 1, 5)},
      {"softmax 2-D", [W](const Var& x) { return sum(softmax(x, 1) * W) + sum(log(sigmoid(x))); },
       rnd(Shape{2, 3}, -1, 1, 6)},
      {"coupled",
       [](const Var& x) {
         const Var a = slice(x, 0, 0, 2), b = slice(x, 0, 1, 3);
         return sum(pow(a * a + 1.0, b)) + prod(x) + sum(sqrt(x * x + 1.0) / (x + 3.0)) + max(x * x);
       },
       rnd(Shape{3}, 0.2, 1.2, 7)},
      {"0-d", [](const Var& x) { return exp(x) * cos(x * x); }, rnd(Shape{}, -1, 1, 8)},
      // The recorded gradient hands the seed's ones through sums, additions and products without
      // recording them; here they also meet other contributions and broadcast operands.
      {"rosenbrock",
       [](const Var& x) {
         const Var a = slice(x, 0, 0, 5), b = slice(x, 0, 1, 6);
         const Var t = b - a * a, u = 1.0 - a;
         return sum(100.0 * t * t + u * u);
       },
       rnd(Shape{6}, -1, 1, 10)},
      {"ones meeting contributions and broadcasts",
       [](const Var& x) {
         const Var row = slice(x, 0, 0, 1);  // (1, 3), broadcast against x
         return sum(x) + sum(x * x) + sum(exp(x) + x) + sum(x * row) + sum(x + slice(x, 0, 1, 2));
       },
       rnd(Shape{2, 3}, -1, 1, 11)},
  };
  for (const Fn& fn : fns) {
    INFO(fn.name);
    const Tensor H_fd = fd_hessian(fn.f, fn.x);
    const Tensor H = hessian(fn.f, fn.x);
    CHECK_THAT(H, AllClose(H_fd, 1e-6, 1e-7));
    // Reverse-over-reverse Hessian, built column by column from e_i.
    const std::size_t n = fn.x.numel();
    Tensor H_rr(DType::f64, H_fd.shape());
    for (std::size_t i = 0; i < n; ++i) {
      Tensor e(DType::f64, fn.x.shape());
      e.set(i, 1.0);
      const Tensor col = hvp(fn.f, fn.x, e, HvpMethod::reverse_over_reverse);
      for (std::size_t j = 0; j < n; ++j) H_rr.set(j * n + i, col.at(j));
    }
    CHECK_THAT(H_rr, AllClose(H_fd, 1e-6, 1e-7));
    // Symmetric (up to rounding).
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < i; ++j) CHECK(H.at(i * n + j) == Approx(H.at(j * n + i)).margin(1e-12));
    // hvp along a random v, both methods, against the directional difference of grad.
    const Tensor v = rnd(fn.x.shape(), -1, 1, 9);
    const Tensor hv_fd =
        gc::directional_difference([&fn](const Tensor& p) { return grad(fn.f, p); }, fn.x, v, 1e-5);
    CHECK_THAT(hvp(fn.f, fn.x, v), AllClose(hv_fd, 1e-6, 1e-7));
    CHECK_THAT(hvp(fn.f, fn.x, v, HvpMethod::reverse_over_reverse), AllClose(hv_fd, 1e-6, 1e-7));
  }
}

TEST_CASE("functional: second order of a linear function is exactly zero", "[functional][hessian]") {
  // The gradient of a linear f is a constant: its recorded form needs no gradient, and both
  // second-order paths must give symbolic zeros, not an error.
  const Tensor c = rnd(Shape{3}, -1, 1, 40), x = rnd(Shape{3}, -1, 1, 41), v = rnd(Shape{3}, -1, 1, 42);
  const UnaryFn f = [c](const Var& u) { return sum(u * c) + 2.0; };
  CHECK_THAT(grad(f, x), AllClose(c, 0, 0));
  CHECK_THAT(hvp(f, x, v), AllClose(Tensor::zeros(Shape{3}), 0, 0));
  CHECK_THAT(hvp(f, x, v, HvpMethod::reverse_over_reverse), AllClose(Tensor::zeros(Shape{3}), 0, 0));
  CHECK_THAT(hessian(f, x), AllClose(Tensor::zeros(Shape{3, 3}), 0, 0));
}

TEST_CASE("functional: jacobian, forward path (n < m) and reverse path (n >= m)", "[functional][jacobian]") {
  const Tensor C = rnd(Shape{2, 3}, -1, 1, 11);
  SECTION("forward path: R^2 -> R^(2x3)") {
    const UnaryFn f = [C](const Var& x) { return sin(reshape(x, Shape{2, 1}) * C) * exp(sum(x)); };
    const Tensor x = rnd(Shape{2}, -1, 1, 12);
    const Tensor J = jacobian(f, x);
    CHECK(J.shape() == Shape{2, 3, 2});
    CHECK_THAT(J, AllClose(fd_jacobian(f, x), 1e-6, 1e-8));
  }
  SECTION("reverse path: R^(2x3) -> R^2") {
    const UnaryFn f = [](const Var& x) { return logsumexp(x, 1) * sum(sin(x), 1); };
    const Tensor x = rnd(Shape{2, 3}, -1, 1, 13);
    const Tensor J = jacobian(f, x);
    CHECK(J.shape() == Shape{2, 2, 3});
    CHECK_THAT(J, AllClose(fd_jacobian(f, x), 1e-6, 1e-8));
  }
  SECTION("square: n == m takes the reverse path") {
    const UnaryFn f = [](const Var& x) { return sin(x) * sum(x * x); };
    const Tensor x = rnd(Shape{3}, -1, 1, 17);
    const Tensor J = jacobian(f, x);
    CHECK(J.shape() == Shape{3, 3});
    CHECK_THAT(J, AllClose(fd_jacobian(f, x), 1e-6, 1e-8));
  }
  SECTION("both paths agree on the same function, in either direction") {
    const UnaryFn up = [](const Var& x) { return concat({x * x, sin(x), x * 2.0}, 0); };  // R^3 -> R^9
    const UnaryFn down = [](const Var& x) {
      return sum(reshape(x, Shape{3, 3}) * reshape(x, Shape{3, 3}), 1);
    };
    const Tensor x3 = rnd(Shape{3}, -1, 1, 14), x9 = rnd(Shape{9}, -1, 1, 15);
    CHECK_THAT(jacobian(up, x3), AllClose(fd_jacobian(up, x3), 1e-6, 1e-8));
    CHECK_THAT(jacobian(down, x9), AllClose(fd_jacobian(down, x9), 1e-6, 1e-8));
  }
  SECTION("scalar output: the Jacobian is the gradient") {
    const UnaryFn f = [](const Var& x) { return sum(exp(x)); };
    const Tensor x = rnd(Shape{4}, -1, 1, 16);
    CHECK_THAT(jacobian(f, x), AllClose(grad(f, x), 0, 0));
  }
}

// ---- first order ------------------------------------------------------------------------------------

TEST_CASE("functional: value_and_grad, multi-input grad, vjp and jvp", "[functional][grad]") {
  const Tensor x = rnd(Shape{2, 3}, -1, 1, 20);
  const UnaryFn f = [](const Var& v) { return sum(tanh(v) * v) + mean(exp(v)); };
  const auto [value, g] = value_and_grad(f, x);
  double ref = 0;
  for (std::size_t i = 0; i < 6; ++i) ref += std::tanh(x.at(i)) * x.at(i) + std::exp(x.at(i)) / 6.0;
  CHECK(value.item() == Approx(ref).epsilon(1e-14));
  CHECK_THAT(g, AllClose(grad(f, x), 0, 0));
  auto plain = [](const Tensor& p) {
    double s = 0;
    for (std::size_t i = 0; i < 6; ++i) s += std::tanh(p.at(i)) * p.at(i) + std::exp(p.at(i)) / 6.0;
    return s;
  };
  CHECK_THAT(g, AllClose(gc::central_difference(plain, x), 1e-6, 1e-8));

  // Several inputs.
  const Tensor a = rnd(Shape{3}, -1, 1, 21), b = rnd(Shape{2, 3}, -1, 1, 22), c = rnd(Shape{}, 0.5, 1, 23);
  const MultiFn h = [](const std::vector<Var>& v) { return sum(v[0] * sin(v[1])) / v[2] + v[2] * v[2]; };
  const std::vector<Tensor> gs = grad(h, {a, b, c});
  REQUIRE(gs.size() == 3);
  const double cv = c.item();
  CHECK_THAT(gs[0], AllClose(sum(sin(b), 0) / cv, 1e-14, 1e-15));
  CHECK_THAT(gs[1], AllClose(cos(b) * a / cv, 1e-14, 1e-15));
  CHECK(gs[2].item() == Approx(-sum(a * sin(b)).item() / (cv * cv) + 2 * cv).epsilon(1e-14));
  gc::require_gradcheck(h, {a, b, c});

  // jvp = ⟨∇f, v⟩ for a scalar f; vjp of a scalar output with cotangent 2 is 2∇f.
  const Tensor v = rnd(x.shape(), -1, 1, 24);
  CHECK(jvp(f, x, v).second.item() == Approx(sum(g * v).item()).epsilon(1e-13));
  CHECK_THAT(vjp(f, x, Tensor(2.0)).second, AllClose(g * 2.0, 1e-15, 0));
}

// ---- errors ---------------------------------------------------------------------------------------------

TEST_CASE("functional: errors name what was expected and what came", "[functional][errors]") {
  const Tensor x = rnd(Shape{2, 3}, -1, 1, 30);
  const UnaryFn non_scalar = [](const Var& v) { return sin(v); };
  const std::string msg = message_of<ShapeError>([&] { (void)grad(non_scalar, x); });
  INFO(msg);
  CHECK_THAT(msg, Contains("grad") && Contains("(2, 3)"));
  CHECK_THAT(message_of<ShapeError>([&] { (void)value_and_grad(non_scalar, x); }), Contains("(2, 3)"));
  CHECK_THAT(message_of<ShapeError>([&] { (void)hessian(non_scalar, x); }), Contains("(2, 3)"));
  CHECK_THAT(message_of<ShapeError>([&] { (void)hvp(non_scalar, x, x); }), Contains("(2, 3)"));
  CHECK_THAT(message_of<ShapeError>([&] {
               (void)grad([](const std::vector<Var>& v) { return v[0] * v[1]; }, {x, x});
             }),
             Contains("(2, 3)"));
  // A tangent / direction of the wrong shape or dtype.
  const UnaryFn f = [](const Var& v) { return sum(v * v); };
  CHECK_THAT(message_of<ShapeError>([&] { (void)hvp(f, x, Tensor::ones(Shape{3})); }),
             Contains("(3,)") && Contains("(2, 3)"));
  CHECK_THROWS_AS(jvp(f, x, Tensor::ones(Shape{2, 3}, DType::f32)), DTypeError);
  CHECK_THROWS_AS(vjp(non_scalar, x, Tensor::ones(Shape{3})), ShapeError);
  // A shape error inside f comes out as the op's own error.
  CHECK_THAT(message_of<ShapeError>(
                 [&] { (void)grad([](const Var& v) { return sum(v + Tensor::ones(Shape{4})); }, x); }),
             Contains("(2, 3)") && Contains("(4,)"));
}

namespace {
// A primitive whose reverse rule is off by a factor 2: gradcheck must catch it on a scalar output.
struct WrongSquare {
  static constexpr const char* name = "wrong_square";
  static Tensor eval(const CustomInputs<Tensor>& x) { return x[0] * x[0]; }
  template <class X>
  static std::vector<X> vjp(const X& g, const CustomInputs<X>& x, const X&) {
    return {g * x[0]};  // the true rule is g * 2x
  }
};
}  // namespace

TEST_CASE("gradcheck fails a wrong reverse rule behind a scalar output", "[functional][gradcheck]") {
  const Tensor x = Tensor::from({3}, {0.5, -1.0, 2.0});
  const GradcheckReport right = gradcheck([](const Var& v) { return sum(v * v); }, x);
  CHECK(right.passed);
  CHECK(right.max_abs_error < 1e-6);
  const GradcheckReport wrong = gradcheck([](const Var& v) { return sum(custom<WrongSquare>({v})); }, x);
  CHECK_FALSE(wrong.passed);
  REQUIRE_FALSE(wrong.worst.empty());
  // The worst entry is x = 2: reverse says 2, the numeric derivative is 4.
  CHECK(wrong.worst[0].index == 2);
  CHECK(wrong.worst[0].reverse == Approx(2.0));
  CHECK(wrong.worst[0].numeric == Approx(4.0).epsilon(1e-6));
  CHECK_THAT(wrong.str(), Catch::Contains("FAILED"));
}
