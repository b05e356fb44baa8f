// Derivative operators built on Taylor mode: hvp (Taylor over reverse and reverse over reverse),
// hessian, jacobian (forward and reverse branches), grad_taylor, laplacian, the STDE estimator
// and the biharmonic. References are closed forms worked out by hand, central differences, or the
// other method where the issue asks for a cross-check (noted at each place).
#include <cmath>
#include <numeric>
#include <vector>

#include <catch2/catch.hpp>

#include "autodiff/autodiff.hpp"
#include "support/jets.hpp"

using namespace jetgrad;
using Catch::Contains;
using taylor_support::random;

namespace {

// x[i] as a 0-d variable.
Var el(const Var& x, std::size_t i) {
  const auto s = static_cast<std::ptrdiff_t>(i);
  return reshape(slice(x, 0, s, s + 1), Shape{});
}

std::vector<double> values(const Tensor& t) {
  std::vector<double> v(t.numel());
  for (std::size_t i = 0; i < t.numel(); ++i) v[i] = t.at(i);
  return v;
}

// |a - b| <= tol max(1, |b|) elementwise, same number of elements.
void require_close(const Tensor& a, const std::vector<double>& b, double tol) {
  REQUIRE(a.numel() == b.size());
  for (std::size_t i = 0; i < b.size(); ++i) {
    INFO("element " << i << ": got " << a.at(i) << ", expected " << b[i]);
    CHECK(std::fabs(a.at(i) - b[i]) <= tol * std::max(1.0, std::fabs(b[i])));
  }
}
void require_close(const Tensor& a, const Tensor& b, double tol) { require_close(a, values(b), tol); }

std::vector<double> matvec(const std::vector<double>& H, const std::vector<double>& v) {
  const std::size_t n = v.size();
  std::vector<double> r(n, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) r[i] += H[i * n + j] * v[j];
  return r;
}

// ---- test functions with hand-derived derivatives -------------------------------------------

// f1(x) = Σ x_i³ + x0 x1 + sin(x2) x3, x ∈ R⁴.
Var f1(const Var& x) { return sum(pow(x, 3.0)) + el(x, 0) * el(x, 1) + sin(el(x, 2)) * el(x, 3); }
std::vector<double> f1_hessian(const std::vector<double>& x) {
  std::vector<double> H(16, 0.0);
  for (std::size_t i = 0; i < 4; ++i) H[i * 4 + i] = 6 * x[i];
  H[0 * 4 + 1] = H[1 * 4 + 0] = 1;
  H[2 * 4 + 2] -= std::sin(x[2]) * x[3];
  H[2 * 4 + 3] = H[3 * 4 + 2] = std::cos(x[2]);
  return H;
}

// f2(x) = logsumexp(x): H = diag(p) - p pᵀ, p = softmax(x).
std::vector<double> f2_hessian(const std::vector<double>& x) {
  const std::size_t n = x.size();
  double z = 0;
  for (double xi : x) z += std::exp(xi);
  std::vector<double> p, H(n * n);
  for (double xi : x) p.push_back(std::exp(xi) / z);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) H[i * n + j] = (i == j ? p[i] : 0.0) - p[i] * p[j];
  return H;
}

// f3(x) = exp(aᵀx): ∇ = a e, H = a aᵀ e, Δ = |a|² e, Δ² = |a|⁴ e.
struct ExpLinear {
  Tensor a;
  Var operator()(const Var& x) const { return exp(sum(x * a)); }
  double e(const Tensor& x) const { return std::exp(taylor_support::dot(a, x)); }
  double a2() const { return taylor_support::dot(a, a); }
};

// A small MLP loss as a function of one flat parameter vector θ (W1 4x5, b1 5, W2 5x3):
// mean over a fixed batch of -log_softmax(tanh(X W1 + b1) W2)[label].
struct Mlp {
  Tensor X = random(Shape{6, 4}, -1, 1, 300);
  static constexpr std::size_t n = 4 * 5 + 5 + 5 * 3;
  Var operator()(const Var& theta) const {
    const Var W1 = reshape(slice(theta, 0, 0, 20), Shape{4, 5});
    const Var b1 = slice(theta, 0, 20, 25);
    const Var W2 = reshape(slice(theta, 0, 25, 40), Shape{5, 3});
    const Var logp = log_softmax(matmul(tanh(matmul(X, W1) + b1), W2), 1);  // (6,3)
    const std::size_t labels[] = {0, 2, 1, 1, 0, 2};
    Var total = el(reshape(slice(logp, 0, 0, 1), Shape{3}), labels[0]);
    for (std::size_t r = 1; r < 6; ++r) {
      const auto s = static_cast<std::ptrdiff_t>(r);
      total = total + el(reshape(slice(logp, 0, s, s + 1), Shape{3}), labels[r]);
    }
    return -total / 6.0;
  }
};

Tensor unit(std::size_t n, std::size_t i) {
  Tensor e(DType::f64, Shape{n});
  e.set(i, 1.0);
  return e;
}

}  // namespace

// ---- hvp -----------------------------------------------------------------------------------

TEST_CASE("hvp equals the hand-derived Hessian times v, by both methods", "[taylor][operators]") {
  const Tensor x = random(Shape{4}, -1, 1, 1), v = random(Shape{4}, -1, 1, 2);
  const std::vector<double> want1 = matvec(f1_hessian(values(x)), values(v));
  const std::vector<double> want2 = matvec(f2_hessian(values(x)), values(v));
  for (HvpMethod m : {HvpMethod::taylor_over_reverse, HvpMethod::reverse_over_reverse}) {
    INFO("method " << (m == HvpMethod::taylor_over_reverse ? "taylor_over_reverse" : "reverse_over_reverse"));
    // a handful of roundings on O(1) terms
    require_close(hvp(f1, x, v, m), want1, 1e-13);
    require_close(hvp([](const Var& y) { return logsumexp(y); }, x, v, m), want2, 1e-13);
  }
  CHECK(hvp(f1, x, v).shape() == x.shape());
}

TEST_CASE("hvp: Taylor over reverse equals reverse over reverse to 1e-12", "[taylor][operators]") {
  // The cross-check. Both are exact; they differ by rounding only, relative to |H||v|.
  const Mlp mlp;
  const Tensor W = random(Shape{3, 5}, -1, 1, 10);
  struct Case {
    const char* name;
    UnaryFn f;
    std::size_t n;
  };
  const std::vector<Case> fns = {
      {"mlp with tanh and log_softmax", mlp, Mlp::n},
      {"softplus/erf/sigmoid mix",
       [](const Var& x) { return sum(softplus(x) * erf(0.5 * x)) / (1.0 + sum(sigmoid(x) * x)); }, 5},
      {"logsumexp of a layer",
       [W](const Var& x) { return logsumexp(tanh(matmul(W, x))) + mean(sqrt(1.0 + x * x)); }, 5},
      {"max and where", [](const Var& x) { return max(x * x) + sum(where(greater(x, 0.0), exp(x), cos(x))); },
       5},
  };
  for (const auto& [name, f, n] : fns) {
    INFO(name);
    const Tensor x = random(Shape{n}, -1, 1, 11), v = random(Shape{n}, -1, 1, 12);
    const Tensor a = hvp(f, x, v, HvpMethod::taylor_over_reverse);
    const Tensor b = hvp(f, x, v, HvpMethod::reverse_over_reverse);
    double scale = 0;
    for (std::size_t i = 0; i < n; ++i) scale = std::max(scale, std::fabs(b.at(i)));
    REQUIRE(a.shape() == x.shape());
    for (std::size_t i = 0; i < n; ++i) {
      INFO("element " << i);
      CHECK(std::fabs(a.at(i) - b.at(i)) <= 1e-12 * std::max(scale, 1e-3));
    }
    // and both against a central difference of the gradient (h = 1e-5: error ~1e-9)
    const double h = 1e-5;
    const Tensor fd = (grad(f, x + h * v) - grad(f, x - h * v)) * (1.0 / (2 * h));
    for (std::size_t i = 0; i < n; ++i) CHECK(a.at(i) == Approx(fd.at(i)).margin(1e-7).epsilon(1e-6));
  }
}

TEST_CASE("hvp on a matrix-shaped input", "[taylor][operators]") {
  // f = Σ tanh(x) x² elementwise: H is diagonal with g''(x), g = tanh(x) x²,
  // g'' = 2 tanh + 4 x sech² - 2 x² sech² tanh.
  const Tensor x = random(Shape{2, 3}, -1, 1, 20), v = random(Shape{2, 3}, -1, 1, 21);
  const Tensor hv = hvp([](const Var& y) { return sum(tanh(y) * y * y); }, x, v);
  REQUIRE(hv.shape() == x.shape());
  std::vector<double> want;
  for (std::size_t i = 0; i < 6; ++i) {
    const double t = std::tanh(x.at(i)), s2 = 1 - t * t, xi = x.at(i);
    want.push_back((2 * t + 4 * xi * s2 - 2 * xi * xi * s2 * t) * v.at(i));
  }
  require_close(hv, want, 1e-13);
}

// ---- hessian -------------------------------------------------------------------------------

TEST_CASE("hessian equals the hand-derived Hessian", "[taylor][operators]") {
  const Tensor x = random(Shape{4}, -1, 1, 30);
  const Tensor H1 = hessian(f1, x);
  REQUIRE(H1.shape() == Shape({4, 4}));
  require_close(H1, f1_hessian(values(x)), 1e-13);
  const Tensor H2 = hessian([](const Var& y) { return logsumexp(y); }, x);
  require_close(H2, f2_hessian(values(x)), 1e-13);

  SECTION("a (2,3) input gives a (2,3,2,3) Hessian") {
    // f = (Σ x)³: every second derivative is 6 Σ x
    const Tensor m = random(Shape{2, 3}, -1, 1, 31);
    const Tensor H = hessian([](const Var& y) { return pow(sum(y), 3.0); }, m);
    REQUIRE(H.shape() == Shape({2, 3, 2, 3}));
    double s = 0;
    for (std::size_t i = 0; i < 6; ++i) s += m.at(i);
    require_close(H, std::vector<double>(36, 6 * s), 1e-13);
  }
}

TEST_CASE("hessian of an MLP: symmetric, rows equal reverse-over-reverse HVPs", "[taylor][operators]") {
  const Mlp mlp;
  const Tensor theta = random(Shape{Mlp::n}, -1, 1, 40);
  const Tensor H = hessian(mlp, theta);
  REQUIRE(H.shape() == Shape({Mlp::n, Mlp::n}));
  double scale = 0;
  for (std::size_t i = 0; i < H.numel(); ++i) scale = std::max(scale, std::fabs(H.at(i)));
  for (std::size_t i = 0; i < Mlp::n; i += 3) {  // every third row keeps the test quick
    const Tensor row = hvp(mlp, theta, unit(Mlp::n, i), HvpMethod::reverse_over_reverse);
    for (std::size_t j = 0; j < Mlp::n; ++j) {
      INFO("H[" << i << ", " << j << "]");
      CHECK(std::fabs(H.at(i * Mlp::n + j) - row.at(j)) <= 1e-12 * scale);
      CHECK(std::fabs(H.at(i * Mlp::n + j) - H.at(j * Mlp::n + i)) <= 1e-12 * scale);
    }
  }
}

// ---- jacobian ------------------------------------------------------------------------------

TEST_CASE("jacobian: forward branch (fewer inputs than outputs)", "[taylor][operators]") {
  const Tensor W = random(Shape{6, 3}, -1, 1, 50), b = random(Shape{6}, -1, 1, 51);
  const Tensor x = random(Shape{3}, -1, 1, 52);
  const Tensor J = jacobian([&](const Var& y) { return tanh(matmul(W, y) + b); }, x);
  REQUIRE(J.shape() == Shape({6, 3}));
  std::vector<double> want(18);
  for (std::size_t i = 0; i < 6; ++i) {
    double z = b.at(i);
    for (std::size_t j = 0; j < 3; ++j) z += W.at(i * 3 + j) * x.at(j);
    const double t = std::tanh(z);
    for (std::size_t j = 0; j < 3; ++j) want[i * 3 + j] = (1 - t * t) * W.at(i * 3 + j);
  }
  require_close(J, want, 1e-13);

  SECTION("tensor shapes: x (2,2) -> y (3,2,2), J of shape (3,2,2,2,2)") {
    const Tensor c = Tensor::from(Shape{3, 1, 1}, {2, -1, 0.5});
    const Tensor m = random(Shape{2, 2}, -1, 1, 53);
    const Tensor Jt = jacobian([&](const Var& y) { return y * c; }, m);
    REQUIRE(Jt.shape() == Shape({3, 2, 2, 2, 2}));
    std::vector<double> w(48, 0.0);
    for (std::size_t k = 0; k < 3; ++k)
      for (std::size_t i = 0; i < 4; ++i) w[(k * 4 + i) * 4 + i] = c.at(k);
    require_close(Jt, w, 0.0);
  }
}

TEST_CASE("jacobian: reverse branch (at least as many inputs as outputs)", "[taylor][operators]") {
  const Tensor W = random(Shape{2, 5}, -1, 1, 60), x = random(Shape{5}, -1, 1, 61);
  const Tensor J = jacobian([&](const Var& y) { return matmul(W, y * y); }, x);
  REQUIRE(J.shape() == Shape({2, 5}));
  std::vector<double> want(10);
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 5; ++j) want[i * 5 + j] = W.at(i * 5 + j) * 2 * x.at(j);
  require_close(J, want, 1e-14);
  // square case: y = x sin x elementwise, J diagonal
  const Tensor Js = jacobian([](const Var& y) { return y * sin(y); }, x);
  std::vector<double> d(25, 0.0);
  for (std::size_t i = 0; i < 5; ++i) d[i * 5 + i] = std::sin(x.at(i)) + x.at(i) * std::cos(x.at(i));
  require_close(Js, d, 1e-14);
  // a scalar output: the gradient as a (5,) row... shape () + (5,)
  const Tensor Jg = jacobian([](const Var& y) { return sum(exp(y)); }, x);
  REQUIRE(Jg.shape() == Shape({5}));
  for (std::size_t i = 0; i < 5; ++i) CHECK(Jg.at(i) == Approx(std::exp(x.at(i))).epsilon(1e-14));
}

// ---- grad_taylor ---------------------------------------------------------------------------

TEST_CASE("grad_taylor: directional derivatives of the gradient of any order", "[taylor][operators]") {
  const Tensor x = random(Shape{4}, -1, 1, 70), v = random(Shape{4}, -1, 1, 71);
  SECTION("exp(aᵀx): c_k = a e^(aᵀx) (aᵀv)^k / k!") {
    const ExpLinear f{random(Shape{4}, -1, 1, 72)};
    const std::vector<Tensor> c = grad_taylor(f, x, v, 6);
    REQUIRE(c.size() == 7);
    const double e = f.e(x), av = taylor_support::dot(f.a, v);
    double fact = 1;
    for (int k = 0; k <= 6; ++k) {
      if (k > 0) fact *= k;
      INFO("k = " << k);
      REQUIRE(c[static_cast<std::size_t>(k)].shape() == x.shape());
      std::vector<double> want;
      for (std::size_t i = 0; i < 4; ++i) want.push_back(f.a.at(i) * e * std::pow(av, k) / fact);
      require_close(c[static_cast<std::size_t>(k)], want, 1e-13);
    }
  }
  SECTION("Σ x⁴/4: ∇ = x³, the series stops after k = 3") {
    const std::vector<Tensor> c = grad_taylor([](const Var& y) { return sum(pow(y, 4.0)) / 4.0; }, x, v, 5);
    for (std::size_t i = 0; i < 4; ++i) {
      const double a = x.at(i), b = v.at(i);
      CHECK(c[0].at(i) == Approx(a * a * a).epsilon(1e-14));
      CHECK(c[1].at(i) == Approx(3 * a * a * b).epsilon(1e-14));
      CHECK(c[2].at(i) == Approx(3 * a * b * b).epsilon(1e-14));
      CHECK(c[3].at(i) == Approx(b * b * b).epsilon(1e-14));
      CHECK(std::fabs(c[4].at(i)) <= 1e-15);
      CHECK(std::fabs(c[5].at(i)) <= 1e-15);
    }
  }
  SECTION("an MLP: c_1 is H v; 2 c_2 is the derivative of H(x + t v) v (central difference)") {
    const Mlp mlp;
    const Tensor th = random(Shape{Mlp::n}, -1, 1, 73), u = random(Shape{Mlp::n}, -1, 1, 74);
    const std::vector<Tensor> c = grad_taylor(mlp, th, u, 3);
    require_close(c[0], grad(mlp, th), 1e-14);
    require_close(c[1], hvp(mlp, th, u, HvpMethod::reverse_over_reverse), 1e-12);
    const double h = 1e-4;  // error ~h² |∂⁴f| ~ 1e-8
    const Tensor d = (hvp(mlp, th + h * u, u) - hvp(mlp, th - h * u, u)) * (1.0 / (2 * h));
    for (std::size_t i = 0; i < Mlp::n; ++i)
      CHECK(2 * c[2].at(i) == Approx(d.at(i)).margin(1e-7).epsilon(1e-6));
  }
  CHECK_THROWS_AS(grad_taylor(f1, x, v, 0), ValueError);
}

// ---- laplacian -----------------------------------------------------------------------------

TEST_CASE("laplacian equals the trace of the dense Hessian and closed forms", "[taylor][operators]") {
  const Tensor x = random(Shape{4}, -1, 1, 80);
  // f1: Δ = 6 Σ x_i - sin(x2) x3
  double want1 = -std::sin(x.at(2)) * x.at(3);
  for (std::size_t i = 0; i < 4; ++i) want1 += 6 * x.at(i);
  const Tensor L1 = laplacian(f1, x);
  CHECK(L1.numel() == 1);
  CHECK(L1.item() == Approx(want1).epsilon(1e-13));

  const ExpLinear f3{random(Shape{2, 3}, -1, 1, 81)};
  const Tensor m = random(Shape{2, 3}, -1, 1, 82);
  CHECK(laplacian(f3, m).item() == Approx(f3.a2() * f3.e(m)).epsilon(1e-13));

  const Mlp mlp;
  const Tensor th = random(Shape{Mlp::n}, -1, 1, 83);
  const Tensor H = hessian(mlp, th);
  double trace = 0;
  for (std::size_t i = 0; i < Mlp::n; ++i) trace += H.at(i * Mlp::n + i);
  CHECK(laplacian(mlp, th).item() == Approx(trace).epsilon(1e-12).margin(1e-13));

  CHECK_THROWS_AS(laplacian([](const Var& y) { return y * y; }, x), ShapeError);
}

// ---- STDE ----------------------------------------------------------------------------------

TEST_CASE("laplacian_estimate (STDE) is unbiased and its standard error shrinks", "[taylor][operators]") {
  // f = exp(aᵀx): H = a aᵀ e, so with Rademacher v, vᵀHv = e (aᵀv)², E = |a|² e = Δf and
  // Var(vᵀHv) = 2 Σ_{i≠j} H_ij² > 0.
  const ExpLinear f{Tensor::from(Shape{6}, {0.9, -0.4, 0.7, 0.2, -1.1, 0.5})};
  const Tensor x = random(Shape{6}, -0.5, 0.5, 90);
  const double exact = laplacian(f, x).item();
  CHECK(exact == Approx(f.a2() * f.e(x)).epsilon(1e-13));
  double off = 0;
  for (std::size_t i = 0; i < 6; ++i)
    for (std::size_t j = 0; j < 6; ++j)
      if (i != j) off += std::pow(f.a.at(i) * f.a.at(j) * f.e(x), 2);
  const double sd = std::sqrt(2 * off);

  for (unsigned seed : {1u, 2u, 3u, 4u, 5u}) {
    INFO("seed " << seed);
    const Estimate e = laplacian_estimate(f, x, 500, seed);
    CHECK(e.samples == 500);
    CHECK(e.standard_error > 0);
    // a 3-SE band fails with probability ~0.3% per seed for a correct estimator
    CHECK(std::fabs(e.mean - exact) <= 3 * e.standard_error);
  }
  // The reported SE tracks the true one, sd/√N (sample sd of 4000 draws is within a few %).
  const Estimate big = laplacian_estimate(f, x, 4000, 11);
  CHECK(big.standard_error == Approx(sd / std::sqrt(4000.0)).epsilon(0.2));
  // SE ∝ 1/√N: 20x the samples, ~0.22x the error
  const Estimate small = laplacian_estimate(f, x, 200, 11);
  CHECK(big.standard_error < 0.4 * small.standard_error);
  // different seeds give different samples
  CHECK(laplacian_estimate(f, x, 50, 1).mean != laplacian_estimate(f, x, 50, 2).mean);

  SECTION("a diagonal Hessian: every Rademacher sample is exact") {
    const auto g = [](const Var& y) { return sum(sin(y) + pow(y, 4.0)); };
    const Estimate e = laplacian_estimate(g, x, 64, 3);
    double want = 0;
    for (std::size_t i = 0; i < 6; ++i) want += -std::sin(x.at(i)) + 12 * x.at(i) * x.at(i);
    CHECK(e.mean == Approx(want).epsilon(1e-13));
    CHECK(e.standard_error <= 1e-12);
  }
  CHECK_THROWS_AS(laplacian_estimate(f, x, 1, 0), ValueError);
}

// ---- biharmonic ----------------------------------------------------------------------------

TEST_CASE("biharmonic against closed forms", "[taylor][operators]") {
  // f = Σ x_i⁴ + x0² x1²: Δ²f = 24 n + 2 ∂⁴(x0² x1²)/∂x0²∂x1² = 24 n + 8, at every x.
  const auto quartic = [](const Var& y) { return sum(pow(y, 4.0)) + square(el(y, 0) * el(y, 1)); };
  for (std::size_t n : {2u, 3u, 5u}) {
    INFO("n = " << n);
    const Tensor x = random(Shape{n}, -1, 1, 100 + static_cast<unsigned>(n));
    CHECK(biharmonic(quartic, x).item() == Approx(24.0 * static_cast<double>(n) + 8).epsilon(1e-12));
  }
  // f = |x|⁴: Δ|x|⁴ = 4(n+2)|x|², Δ²|x|⁴ = 8n(n+2); x of shape (2,2), n = 4
  const Tensor m = random(Shape{2, 2}, -1, 1, 110);
  CHECK(biharmonic([](const Var& y) { return square(sum(y * y)); }, m).item() ==
        Approx(8.0 * 4 * 6).epsilon(1e-12));
  // f = exp(aᵀx): Δ²f = |a|⁴ e^(aᵀx)
  const ExpLinear f{random(Shape{3}, -1, 1, 111)};
  const Tensor x = random(Shape{3}, -1, 1, 112);
  CHECK(biharmonic(f, x).item() == Approx(f.a2() * f.a2() * f.e(x)).epsilon(1e-12));
  // n = 1: the fourth derivative
  CHECK(biharmonic([](const Var& y) { return sum(sin(y)); }, Tensor::from(Shape{1}, {0.3})).item() ==
        Approx(std::sin(0.3)).epsilon(1e-12));
  CHECK_THROWS_AS(biharmonic([](const Var& y) { return y; }, x), ShapeError);
}

// ---- float32 and errors --------------------------------------------------------------------

TEST_CASE("operators in float32", "[taylor][operators]") {
  // float32 ε ≈ 6e-8; a few dozen operations per result: 1e-5 relative.
  const Tensor x = random(Shape{4}, -1, 1, 120), v = random(Shape{4}, -1, 1, 121);
  const Tensor x32 = x.to(DType::f32), v32 = v.to(DType::f32);
  const Tensor hv = hvp(f1, x32, v32);
  CHECK(hv.dtype() == DType::f32);
  const std::vector<double> want = matvec(f1_hessian(values(x32)), values(v32));
  for (std::size_t i = 0; i < 4; ++i) CHECK(hv.at(i) == Approx(want[i]).epsilon(1e-5).margin(1e-5));
  const Tensor H = hessian(f1, x32);
  CHECK(H.dtype() == DType::f32);
  const std::vector<double> Hw = f1_hessian(values(x32));
  for (std::size_t i = 0; i < 16; ++i) CHECK(H.at(i) == Approx(Hw[i]).epsilon(1e-5).margin(1e-5));
  double lap = -std::sin(x32.at(2)) * x32.at(3);
  for (std::size_t i = 0; i < 4; ++i) lap += 6 * x32.at(i);
  CHECK(laplacian(f1, x32).item() == Approx(lap).epsilon(1e-5).margin(1e-5));
  const auto quartic = [](const Var& y) { return sum(pow(y, 4.0)) + square(el(y, 0) * el(y, 1)); };
  CHECK(biharmonic(quartic, x32).item() == Approx(24.0 * 4 + 8).epsilon(1e-4));
}

TEST_CASE("operators reject wrong shapes and non-scalar functions", "[taylor][operators]") {
  const Tensor x = random(Shape{4}, -1, 1, 130);
  CHECK_THROWS_AS(hvp(f1, x, Tensor::ones(Shape{3})), ShapeError);
  CHECK_THROWS_WITH(hvp(f1, x, Tensor::ones(Shape{3})), Contains("(3,)") && Contains("(4,)"));
  CHECK_THROWS_AS(hvp([](const Var& y) { return y; }, x, x), ShapeError);
  CHECK_THROWS_AS(hessian([](const Var& y) { return y * 2.0; }, x), ShapeError);
  CHECK_THROWS_AS(grad_taylor(f1, x, Tensor::ones(Shape{2, 2}), 2), ShapeError);
  CHECK_THROWS_AS(hvp(f1, x, x.to(DType::f32)), DTypeError);
}
