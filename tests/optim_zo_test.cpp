// Zeroth-order estimators (optim/zeroth_order.hpp) against shared/reference/algorithms.md §6.7:
// exact on linear and quadratic functions, unbiased within standard error over many draws, CGE's
// closed-form numbers, parameters put back exactly, MeZO's seeded in-place round trip and update.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "optim/zeroth_order.hpp"
#include "support/optim_models.hpp"

using namespace jetgrad;
using test::check_close;
using test::FunctionModel;
using test::vec;

namespace {

using Dist = optim::RGEOptions::Distribution;
using Diff = optim::RGEOptions::Difference;

const Tensor& a3() {
  static const Tensor a = Tensor::from(Shape{3, 3}, {2, 1, 0, 1, 3, 0.5, 0, 0.5, 1});
  return a;
}
// ½ θᵀAθ at θ = (1, −1, 0.5): g = Aθ = (2 − 1, 1 − 3 + 0.25, −0.5 + 0.5) = (1, −1.75, 0), L = ½ θᵀg = 1.375.
FunctionModel quadratic3() { return FunctionModel(vec({1.0, -1.0, 0.5}), test::quadratic(a3())); }
const std::vector<double> g3{1.0, -1.75, 0.0};

// The direction the estimator will draw next from a generator in the same state.
Tensor next_direction(Generator gen, bool sphere) {
  Tensor u = normal(Shape{3}, 0.0, 1.0, gen);
  return sphere ? u / std::sqrt(sum(u * u).item()) : u;
}

double dot3(const Tensor& u, const std::vector<double>& g) {
  const auto v = test::values_of(u);
  return v[0] * g[0] + v[1] * g[1] + v[2] * g[2];
}

}  // namespace

TEST_CASE("RGE is exact on linear functions: one direction gives (aᵀu) u", "[optim]") {
  const Tensor a = vec({0.5, -2.0, 3.0});
  const std::vector<double> av{0.5, -2.0, 3.0};
  for (const Dist dist : {Dist::gaussian, Dist::sphere}) {
    for (const Diff diff : {Diff::forward, Diff::central}) {
      const bool sphere = dist == Dist::sphere;
      INFO("sphere " << sphere << " central " << (diff == Diff::central));
      FunctionModel model(vec({0.1, 0.2, -0.3}), [a](const Var& t) { return sum(a * t); });
      auto objective = model.objective();
      Generator gen(3);
      const Tensor u = next_direction(gen, sphere);
      optim::RandomGradientEstimator rge({.distribution = dist, .difference = diff, .mu = 0.1}, gen);
      const Tensor g = rge.estimate(objective)[0];
      // Sphere directions carry the factor d = 3.
      check_close(g, u * (dot3(u, av) * (sphere ? 3.0 : 1.0)), 1e-12);
    }
  }
}

TEST_CASE("RGE central differences are exact on quadratics: uᵀAθ", "[optim]") {
  auto model = quadratic3();
  auto objective = model.objective();
  Generator gen(4);
  const Tensor u = next_direction(gen, false);
  optim::RandomGradientEstimator rge({.difference = Diff::central, .mu = 0.3}, gen);
  double loss = 0.0;
  check_close(rge.estimate(objective, &loss)[0], u * dot3(u, g3), 1e-12);
  // The reported loss is the mean of L(θ ± μu) = L(θ) + ½ μ² uᵀAu.
  const Tensor au = matmul(a3(), reshape(u, Shape{3, 1}));
  CHECK(loss == Approx(objective.value() + 0.5 * 0.09 * sum(reshape(u, Shape{3, 1}) * au).item()));
}

TEST_CASE("RGE with q directions is the mean of q one-direction estimates", "[optim]") {
  auto model = quadratic3();
  auto objective = model.objective();
  Generator gen(9);
  optim::RandomGradientEstimator four({.mu = 1e-2, .directions = 4}, gen);
  optim::RandomGradientEstimator one({.mu = 1e-2}, gen);
  Tensor mean = Tensor::zeros(Shape{3});
  for (int k = 0; k < 4; ++k) mean = mean + one.estimate(objective)[0] * 0.25;
  check_close(four.estimate(objective)[0], mean, 1e-13);
}

TEST_CASE("RGE is unbiased on a quadratic within standard error (Gaussian and sphere with the d factor)",
          "[optim]") {
  // Forward: E[(gᵀu + ½ μ uᵀAu) u] = g (odd moments of u vanish); sphere: E[d (gᵀu) u] = g.
  for (const Dist dist : {Dist::gaussian, Dist::sphere}) {
    for (const Diff diff : {Diff::forward, Diff::central}) {
      INFO("sphere " << (dist == Dist::sphere) << " central " << (diff == Diff::central));
      auto model = quadratic3();
      auto objective = model.objective();
      optim::RandomGradientEstimator rge({.distribution = dist, .difference = diff, .mu = 0.05},
                                         Generator(21));
      constexpr int n = 4000;
      std::vector<double> mean(3, 0.0), sq(3, 0.0);
      for (int k = 0; k < n; ++k) {
        const auto g = test::values_of(rge.estimate(objective)[0]);
        for (int i = 0; i < 3; ++i) {
          mean[i] += g[i] / n;
          sq[i] += g[i] * g[i] / n;
        }
      }
      for (int i = 0; i < 3; ++i) {
        const double se = std::sqrt((sq[i] - mean[i] * mean[i]) / (n - 1));
        INFO("coordinate " << i << ": mean " << mean[i] << ", standard error " << se);
        CHECK(std::abs(mean[i] - g3[i]) < 4.0 * se);
        CHECK(se < 0.2);  // and the test has power: the sample is large enough
      }
    }
  }
}

TEST_CASE("CGE: §6.7 numbers, exact on linear functions, μ/2 diag(A) bias on quadratics", "[optim]") {
  // Σ θ⁴/4 at (1, 2), μ = 1e-3: ((θ+μ)⁴ − θ⁴)/(4μ) = θ³ + 1.5μθ² + μ²θ + μ³/4 = (1.0015010, 8.0060020).
  FunctionModel quartic(vec({1.0, 2.0}), [](const Var& t) { return sum(pow(t, 4.0)) / 4.0; });
  auto objective = quartic.objective();
  optim::CoordinateGradientEstimator cge({.mu = 1e-3});
  double loss = 0.0;
  check_close(cge.estimate(objective, &loss)[0], {1.001501001, 8.006002}, 1e-9);
  CHECK(loss == Approx(17.0 / 4.0));

  const Tensor a = vec({0.5, -2.0, 3.0});
  FunctionModel linear(vec({0.1, 0.2, -0.3}), [a](const Var& t) { return sum(a * t); });
  auto lin = linear.objective();
  check_close(optim::CoordinateGradientEstimator({.mu = 0.1}).estimate(lin)[0], {0.5, -2.0, 3.0}, 1e-13);

  auto q = quadratic3();
  auto qo = q.objective();
  check_close(optim::CoordinateGradientEstimator({.mu = 0.01}).estimate(qo)[0],
              {1.0 + 0.01, -1.75 + 0.015, 0.0 + 0.005}, 1e-12);
  CHECK(qo.forward_count() == 4);  // d + 1 evaluations
}

TEST_CASE("estimators put the parameters back bit for bit", "[optim]") {
  std::vector<std::unique_ptr<optim::GradientEstimator>> estimators;
  estimators.push_back(std::make_unique<optim::CoordinateGradientEstimator>(optim::CGEOptions{.mu = 0.013}));
  estimators.push_back(std::make_unique<optim::RandomGradientEstimator>(
      optim::RGEOptions{.mu = 0.013, .directions = 3}, Generator(1)));
  estimators.push_back(std::make_unique<optim::RandomGradientEstimator>(
      optim::RGEOptions{.distribution = Dist::sphere, .difference = Diff::central, .mu = 0.013},
      Generator(1)));
  for (auto& est : estimators) {
    INFO(est->name());
    FunctionModel model(vec({1.3, 0.7, -0.1}, DType::f32), [](const Var& t) { return sum(sin(t) * t); });
    const Tensor start = model.theta().value;
    auto objective = model.objective();
    const Tensor g = est->estimate(objective)[0];
    CHECK(test::same_bits(model.theta().value, start));
    CHECK(g.dtype() == DType::f32);
    // Close to the true gradient sin θ + θ cos θ for CGE (forward differences, float32).
    if (est->name() == "cge") {
      std::vector<double> exact;
      for (const double x : {1.3, 0.7, -0.1}) exact.push_back(std::sin(x) + x * std::cos(x));
      check_close(g, exact, 2e-2);
    }
  }
}

TEST_CASE("ZerothOrder drives any base optimizer with an estimate", "[optim]") {
  SECTION("one SGD step = SGD applied to the CGE estimate") {
    auto m1 = quadratic3();
    auto o1 = m1.objective();
    const Tensor g = optim::CoordinateGradientEstimator({.mu = 1e-3}).estimate(o1)[0];
    optim::ZerothOrder zo(
        std::make_unique<optim::SGD>(m1.parameters(), optim::SGDOptions{.lr = 0.1}),
        std::make_unique<optim::CoordinateGradientEstimator>(optim::CGEOptions{.mu = 1e-3}));
    CHECK(zo.name() == "zo_cge_sgd");
    const Tensor start = m1.theta().value;
    CHECK(zo.step(o1) == Approx(1.375));  // L(θ) = ½ θᵀg = ½ (1 + 1.75 + 0)
    CHECK(test::same_bits(m1.theta().value, start - g * 0.1));
    CHECK(zo.steps() == 1);
  }
  SECTION("Adam with Gaussian RGE converges on a quadratic") {
    auto m = quadratic3();
    auto o = m.objective();
    optim::ZerothOrder zo(std::make_unique<optim::Adam>(m.parameters(), optim::AdamOptions{.lr = 0.05}),
                          std::make_unique<optim::RandomGradientEstimator>(
                              optim::RGEOptions{.mu = 1e-3, .directions = 4}, Generator(2)));
    const double l0 = o.value();
    for (int k = 0; k < 400; ++k) zo.step(o);
    CHECK(o.value() < 1e-2 * l0);
  }
  auto m = quadratic3();
  CHECK_THROWS_AS(
      optim::ZerothOrder(nullptr, std::make_unique<optim::CoordinateGradientEstimator>(optim::CGEOptions{})),
      ValueError);
  CHECK_THROWS_AS(
      optim::ZerothOrder(std::make_unique<optim::SGD>(m.parameters(), optim::SGDOptions{}), nullptr),
      ValueError);
  CHECK_THROWS_AS(optim::RandomGradientEstimator({.mu = 0.0}, Generator(0)), ValueError);
  CHECK_THROWS_AS(optim::RandomGradientEstimator({.directions = 0}, Generator(0)), ValueError);
  CHECK_THROWS_AS(optim::CoordinateGradientEstimator({.mu = -1.0}), ValueError);
}

// ---- MeZO ----------------------------------------------------------------------------------------

namespace {

// Two parameters, "weight" and "bias", and L = ½ (‖w‖² + ‖b‖²).
class WeightBias : public nn::Module {
 public:
  WeightBias()
      : w_(register_parameter("weight", vec({1.0, -2.0, 0.5}))),
        b_(register_parameter("bias", vec({0.3, 0.4}))) {}
  Var forward(const Var& x) override {
    Tape& t = *x.tape();
    const Var w = w_.var(t), b = b_.var(t);
    return 0.5 * (sum(w * w) + sum(b * b));
  }
  std::string describe() const override { return "WeightBias"; }
  optim::Objective objective() {
    return optim::Objective(parameters(), [this](Tape& tape) { return (*this)(tape.constant(Tensor(0.0))); });
  }
  nn::Parameter& w_;
  nn::Parameter& b_;
};

}  // namespace

TEST_CASE("MeZO on ½‖θ‖²: θ' = θ − η (θᵀz) z, weight decay skipped for biases", "[optim]") {
  WeightBias model;
  auto objective = model.objective();
  const Tensor w0 = model.w_.value, b0 = model.b_.value;
  Generator gen(77);
  Generator replay = gen;
  const double lr = 0.1, wd = 0.5;
  optim::MeZO mezo(model.parameters(), {.lr = lr, .eps = 1e-3, .weight_decay = wd}, gen);
  const double l_plus = mezo.step(objective);

  // z regenerated from the step's seed: the weight's tensor first, then the bias's.
  const std::uint64_t seed = replay.next_u64();
  CHECK(mezo.last_seed() == seed);
  Generator z_gen(seed);
  const Tensor zw = normal(Shape{3}, 0.0, 1.0, z_gen), zb = normal(Shape{2}, 0.0, 1.0, z_gen);
  // p = θᵀz exactly for a quadratic (central difference), to rounding.
  const double p = sum(w0 * zw).item() + sum(b0 * zb).item();
  CHECK(mezo.last_projected_gradient() == Approx(p).epsilon(1e-9));
  CHECK(l_plus == Approx(0.5 * (sum((w0 + zw * 1e-3) * (w0 + zw * 1e-3)).item() +
                                sum((b0 + zb * 1e-3) * (b0 + zb * 1e-3)).item())));
  check_close(model.w_.value, w0 - (zw * p + w0 * wd) * lr, 1e-10);
  check_close(model.b_.value, b0 - zb * (p * lr), 1e-10);
}

TEST_CASE("MeZO's ±ε round trip puts float64 parameters back within a few ulps", "[optim]") {
  Generator init(5);
  FunctionModel model(normal(Shape{200}, 0.0, 1.0, init), [](const Var& t) { return sum(sin(t)); });
  auto objective = model.objective();
  const Tensor start = model.theta().value;
  optim::MeZO mezo(model.parameters(), {.lr = 0.0, .eps = 1e-3}, Generator(6));  // lr 0: the round trip alone
  for (int k = 0; k < 5; ++k) mezo.step(objective);
  const auto a = test::values_of(start), b = test::values_of(model.theta().value);
  double worst_ulps = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double ulp = std::nextafter(std::abs(a[i]), INFINITY) - std::abs(a[i]);
    worst_ulps = std::max(worst_ulps, std::abs(a[i] - b[i]) / std::max(ulp, 1e-3 * 0x1p-52));
  }
  INFO("worst drift " << worst_ulps << " ulps over 5 round trips");
  CHECK(worst_ulps <= 8.0);
}

TEST_CASE("MeZO is reproducible from its generator and descends", "[optim]") {
  Generator init(8);
  const Tensor theta0 = normal(Shape{10}, 0.0, 1.0, init);
  const auto run = [&](int steps) {
    FunctionModel model(theta0, [](const Var& t) { return 0.5 * sum(t * t); });
    auto objective = model.objective();
    optim::MeZO mezo(model.parameters(), {.lr = 0.02, .eps = 1e-3}, Generator(99));
    for (int k = 0; k < steps; ++k) mezo.step(objective);
    return std::make_pair(model.theta().value, objective.value());
  };
  const auto [t1, l1] = run(50);
  const auto [t2, l2] = run(50);
  CHECK(test::same_bits(t1, t2));
  const double l0 = 0.5 * sum(theta0 * theta0).item();
  const auto [t3, l3] = run(1500);
  CHECK(l3 < 0.05 * l0);
  // apply(d) is the same update with d in place of p z.
  FunctionModel model(vec({1.0, 2.0}), [](const Var& t) { return sum(t); });
  optim::MeZO mezo(model.parameters(), {.lr = 0.5, .weight_decay = 0.1}, Generator(0));
  mezo.apply({vec({1.0, -1.0})});
  check_close(model.theta().value, {1.0 - 0.5 * (1.0 + 0.1), 2.0 - 0.5 * (-1.0 + 0.2)}, 1e-15);
  CHECK_THROWS_AS(optim::MeZO(model.parameters(), {.eps = 0.0}, Generator(0)), ValueError);
}
