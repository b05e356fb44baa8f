// Flatness-seeking wrappers (optim/flat.hpp) against the closed-form tests of
// shared/reference/algorithms.md: T-SAM-1/2/3, T-ASAM-1, T-GAM-1 (paper and code h−), T-GAM-2
// (exact), T-GAM-3, T-GR-1/2/3, FAD's reductions; exact HVPs and exact GR gradients against finite
// differences; the valley ½(w₁w₂ − 1)² where SGD stays sharp and SAM/GAM find the flat minimum;
// bitwise restoration of the parameters; ⊥Grad.
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "optim/flat.hpp"
#include "support/optim_models.hpp"

// Full-batch steps of the valley test (the reference ran 20 000; by 12 000 every method is within
// 1% of its end point; about 0.5 s of CPU at -O2).
#ifndef JETGRAD_OPTIM_VALLEY_STEPS
#define JETGRAD_OPTIM_VALLEY_STEPS 12000
#endif

using namespace jetgrad;
using test::check_close;
using test::FunctionModel;
using test::vec;

namespace {

// A base optimizer that records what it is given and changes nothing.
class Spy : public optim::Optimizer {
 public:
  explicit Spy(optim::ParamList params) : Optimizer(std::move(params)) {}
  std::string name() const override { return "spy"; }
  void apply(const optim::ParamVector& d) override {
    check_direction(d);
    directions.push_back(d);
    optim::ParamVector now;
    for (const nn::Parameter* p : params_) now.push_back(p->value);
    values_at_apply.push_back(now);
    ++steps_;
  }
  double learning_rate() const override { return 0.0; }
  void set_learning_rate(double) override {}
  std::vector<optim::ParamVector> directions;
  std::vector<optim::ParamVector> values_at_apply;
};

using MakeWrapper = std::function<std::unique_ptr<optim::Optimizer>(std::unique_ptr<optim::Optimizer>)>;

// The direction a wrapper hands to its base optimizer at the model's current parameters.
Tensor direction_of(FunctionModel& model, const MakeWrapper& make) {
  auto spy = std::make_unique<Spy>(model.parameters());
  Spy* seen = spy.get();
  auto wrapper = make(std::move(spy));
  auto objective = model.objective();
  wrapper->step(objective);
  REQUIRE(seen->directions.size() == 1);
  return seen->directions[0][0];
}

Tensor diag_1_10() { return Tensor::from(Shape{2, 2}, {1, 0, 0, 10}); }
// The quadratic of the closed-form tests: L = ½ (θ₁² + 10 θ₂²) at θ = (1, 1).
FunctionModel model_1_10(std::initializer_list<double> theta = {1.0, 1.0}) {
  return FunctionModel(vec(theta), test::quadratic(diag_1_10()));
}

Var sin_exp(const Var& t) { return sum(sin(t) * exp(t)); }

template <class W, class O>
MakeWrapper wrap(O options) {
  return [options](std::unique_ptr<optim::Optimizer> base) -> std::unique_ptr<optim::Optimizer> {
    return std::make_unique<W>(std::move(base), options);
  };
}

optim::GAMOptions accelerated(bool paper) {
  optim::GAMOptions o;
  o.method = optim::GAMOptions::Method::accelerated;
  o.paper_h_minus = paper;
  return o;
}

// Hessian trace of a 2-parameter objective at its current point, from two exact HVPs.
double trace2(optim::Objective& objective) {
  return test::values_of(objective.hvp({vec({1.0, 0.0})})[0])[0] +
         test::values_of(objective.hvp({vec({0.0, 1.0})})[0])[1];
}

}  // namespace

// ---- SAM / ASAM ----------------------------------------------------------------------------------

TEST_CASE("T-SAM-1: SAM's first step on ½(θ₁² + 10θ₂²)", "[optim]") {
  // g0 = (1, 10), e = 0.05 g0/‖g0‖ = (0.0049752, 0.0497519), g1 = A(θ + e) = (1.0049752, 10.4975186),
  // θ' = θ − 0.1 g1 = (0.8995025, −0.0497519).
  auto model = model_1_10();
  check_close(direction_of(model, wrap<optim::SAM>(optim::SAMOptions{.rho = 0.05})), {1.0049752, 10.4975186},
              1e-7);
  optim::SAM sam(std::make_unique<optim::SGD>(model.parameters(), optim::SGDOptions{.lr = 0.1}),
                 {.rho = 0.05});
  auto objective = model.objective();
  CHECK(sam.step(objective) == Approx(5.5));  // the loss before the step
  check_close(model.theta().value, {0.8995025, -0.0497519}, 1e-7);
  CHECK(sam.steps() == 1);
  CHECK(sam.base().steps() == 1);
}

TEST_CASE("T-SAM-2: on any quadratic g1 = g0 + ρ A g0/‖g0‖", "[optim]") {
  Generator gen(11);
  const Tensor b = normal(Shape{3, 3}, 0.0, 1.0, gen);
  const Tensor a = b + transpose(b);
  FunctionModel model(normal(Shape{3}, 0.0, 1.0, gen), test::quadratic(a));
  const double rho = 0.3;
  const Tensor theta = model.theta().value;
  const Tensor g0 = matmul(a, reshape(theta, Shape{3, 1}));
  const Tensor expected = reshape(g0 + matmul(a, g0) * (rho / std::sqrt(sum(g0 * g0).item())), Shape{3});
  check_close(direction_of(model, wrap<optim::SAM>(optim::SAMOptions{.rho = rho})), expected, 1e-10);
}

TEST_CASE("T-SAM-3: a zero gradient gives the plain gradient and no NaN", "[optim]") {
  auto model = model_1_10({0.0, 0.0});
  const Tensor d = direction_of(model, wrap<optim::SAM>(optim::SAMOptions{.rho = 0.05}));
  check_close(d, {0.0, 0.0}, 0.0);
  auto asam = model_1_10({0.0, 0.0});
  check_close(direction_of(asam, wrap<optim::SAM>(optim::SAMOptions{.rho = 0.5, .adaptive = true})),
              {0.0, 0.0}, 0.0);
}

TEST_CASE("T-ASAM-1: ASAM with η = 0 at θ = (1, 1) is SAM; biases are not rescaled", "[optim]") {
  auto m1 = model_1_10();
  auto m2 = model_1_10();
  const Tensor sam = direction_of(m1, wrap<optim::SAM>(optim::SAMOptions{.rho = 0.05}));
  const Tensor asam =
      direction_of(m2, wrap<optim::SAM>(optim::SAMOptions{.rho = 0.05, .adaptive = true, .eta = 0.0}));
  check_close(asam, sam, 1e-15);

  // θ = (2, 0.5), η = 0.01, ρ = 0.5 on a tensor named "weight": T = |θ| + η, e = ρ T² g/‖T g‖.
  auto w = model_1_10({2.0, 0.5});
  const double g1 = 2.0, g2 = 5.0, t1 = 2.01, t2 = 0.51;
  const double n = std::hypot(t1 * g1, t2 * g2);
  const double e1 = 0.5 * t1 * t1 * g1 / n, e2 = 0.5 * t2 * t2 * g2 / n;
  check_close(direction_of(w, wrap<optim::SAM>(optim::SAMOptions{.rho = 0.5, .adaptive = true})),
              {2.0 + e1, 10.0 * (0.5 + e2)}, 1e-12);
  // The same tensor named "bias": T = 1, plain SAM with ρ = 0.5.
  FunctionModel bias(vec({2.0, 0.5}), test::quadratic(diag_1_10()), "bias");
  const double gn = std::hypot(g1, g2);
  check_close(direction_of(bias, wrap<optim::SAM>(optim::SAMOptions{.rho = 0.5, .adaptive = true})),
              {2.0 + 0.5 * g1 / gn, 10.0 * (0.5 + 0.5 * g2 / gn)}, 1e-12);
}

// ---- GAM -----------------------------------------------------------------------------------------

TEST_CASE("T-GAM-1: accelerated GAM's first step, paper and code h−", "[optim]") {
  // CIFAR-100/ResNet defaults ρ = 0.2, ρ' = 0.02, α = 0.6, β = 0.5, γ = 0.03 (the GAMOptions defaults).
  SECTION("code form h− = g0 + |1 − β| g2") {
    auto model = model_1_10();
    check_close(direction_of(model, wrap<optim::GAM>(accelerated(false))), {1.00139611, 10.99920221}, 2e-8);
    optim::GAM gam(std::make_unique<optim::SGD>(model.parameters(), optim::SGDOptions{.lr = 0.1}),
                   accelerated(false));
    auto objective = model.objective();
    gam.step(objective);
    check_close(model.theta().value, {0.89986039, -0.09992022}, 2e-8);
    CHECK(gam.name() == "gam_accelerated");
  }
  SECTION("paper form h− = β g0 + (1 − β) g2") {
    auto model = model_1_10();
    check_close(direction_of(model, wrap<optim::GAM>(accelerated(true))), {1.00271142, 10.99908231}, 2e-8);
    optim::GAM gam(std::make_unique<optim::SGD>(model.parameters(), optim::SGDOptions{.lr = 0.1}),
                   accelerated(true));
    auto objective = model.objective();
    gam.step(objective);
    check_close(model.theta().value, {0.89972886, -0.09990823}, 2e-8);
  }
}

TEST_CASE("T-GAM-2: exact GAM (Algorithm 1) with exact HVPs", "[optim]") {
  // ρ = 0.1, α = 0.5: f = A g0/‖g0‖ = (0.09950372, 9.95037190), θ_adv = (1.00099995, 1.09999500),
  // h1 = ρ A ĝ_adv = (0.00906259, 0.99588500), d = g0 + α h1 = (1.00453130, 10.49794250).
  auto model = model_1_10();
  optim::GAMOptions o;
  o.rho = 0.1;
  o.alpha = 0.5;
  check_close(direction_of(model, wrap<optim::GAM>(o)), {1.00453130, 10.49794250}, 2e-8);
  auto objective = model.objective();
  optim::GAM gam(std::make_unique<Spy>(model.parameters()), o);
  check_close(gam.direction(objective)[0], {1.00453130, 10.49794250}, 2e-8);
  CHECK(gam.name() == "gam");
}

TEST_CASE("T-GAM-3: accelerated GAM reductions", "[optim]") {
  // γ = 0, α = 1: d = h+ = g1, the SAM gradient of radius ρ' (checked off quadratics too).
  FunctionModel m1(vec({0.3, -0.7, 1.1}), sin_exp);
  FunctionModel m2(vec({0.3, -0.7, 1.1}), sin_exp);
  optim::GAMOptions o = accelerated(false);
  o.gamma = 0.0;
  o.alpha = 1.0;
  o.grad_rho = 0.07;
  check_close(direction_of(m1, wrap<optim::GAM>(o)),
              direction_of(m2, wrap<optim::SAM>(optim::SAMOptions{.rho = 0.07})), 1e-14);
  // ρ' → 0 and α = 1: d → ∇L(θ).
  FunctionModel m3(vec({0.3, -0.7, 1.1}), sin_exp);
  o.grad_rho = 1e-8;
  auto objective = m3.objective();
  check_close(direction_of(m3, wrap<optim::GAM>(o)), objective.gradient()[0], 1e-6);
}

TEST_CASE("exact GAM's HVPs equal their finite-difference counterparts", "[optim]") {
  // GAM Algorithm 1 rebuilt from gradients only, H v ≈ (∇L(θ + r v) − ∇L(θ − r v)) / 2r: on a
  // quadratic the difference is exact (to rounding); off it, O(r²).
  const auto fd_gam = [](optim::Objective& obj, double rho, double alpha, double r) {
    const optim::ParamVector theta = obj.values();
    const auto hvp_fd = [&](const optim::ParamVector& at, const optim::ParamVector& v) {
      obj.set_values(optim::axpy(r, v, at));
      const auto gp = obj.gradient();
      obj.set_values(optim::axpy(-r, v, at));
      const auto gm = obj.gradient();
      return optim::scaled(optim::axpy(-1.0, gm, gp), 1.0 / (2 * r));
    };
    obj.set_values(theta);
    const auto h0 = obj.gradient();
    const auto f = hvp_fd(theta, optim::scaled(h0, 1.0 / optim::norm(h0)));
    const auto adv = optim::axpy(rho / optim::norm(f), f, theta);
    obj.set_values(adv);
    const auto g_adv = obj.gradient();
    const auto h1 = optim::scaled(hvp_fd(adv, optim::scaled(g_adv, 1.0 / optim::norm(g_adv))), rho);
    obj.set_values(theta);
    return optim::axpy(alpha, h1, h0)[0];
  };
  optim::GAMOptions o;
  o.rho = 0.15;
  o.alpha = 0.7;
  SECTION("quadratic") {
    Generator gen(5);
    const Tensor b = normal(Shape{4, 4}, 0.0, 1.0, gen);
    FunctionModel model(normal(Shape{4}, 0.0, 1.0, gen), test::quadratic(matmul(b, transpose(b))));
    auto objective = model.objective();
    check_close(direction_of(model, wrap<optim::GAM>(o)), fd_gam(objective, 0.15, 0.7, 1e-3), 1e-9);
    // And each exact HVP alone.
    const optim::ParamVector v{normal(Shape{4}, 0.0, 1.0, gen)};
    const optim::ParamVector theta = objective.values();
    const auto hv = objective.hvp(v);
    objective.add_to_values(v, 0.5);
    const auto g1 = objective.gradient();
    objective.set_values(theta);
    check_close(hv[0], optim::scaled(optim::axpy(-1.0, objective.gradient(), g1), 2.0)[0], 1e-10);
  }
  SECTION("sin exp") {
    FunctionModel model(vec({0.3, -0.7, 1.1}), sin_exp);
    auto objective = model.objective();
    check_close(direction_of(model, wrap<optim::GAM>(o)), fd_gam(objective, 0.15, 0.7, 1e-5), 1e-7);
  }
}

// ---- gradient regularization ---------------------------------------------------------------------

namespace {
optim::GradRegOptions gr(optim::GradRegOptions::Method m, double gamma, double eps) {
  optim::GradRegOptions o;
  o.method = m;
  o.gamma = gamma;
  o.epsilon = eps;
  return o;
}
}  // namespace

TEST_CASE("T-GR-1: on a quadratic, exact = forward = backward GR for any ε", "[optim]") {
  // A = [[2, 1], [1, 3]], θ = (1, −1): g = (1, −2), A g = (0, −5); γ = 0.1: d = g + γ A g = (1, −2.5).
  using M = optim::GradRegOptions::Method;
  const Tensor a = Tensor::from(Shape{2, 2}, {2, 1, 1, 3});
  for (const double eps : {1e-3, 0.1, 1.0, 3.0}) {
    for (const M m : {M::exact, M::forward, M::backward}) {
      INFO("eps " << eps << " method " << static_cast<int>(m));
      FunctionModel model(vec({1.0, -1.0}), test::quadratic(a));
      check_close(direction_of(model, wrap<optim::GradientRegularization>(gr(m, 0.1, eps))), {1.0, -2.5},
                  1e-12);
    }
  }
}

TEST_CASE("T-GR-2: θ⁴/4 at θ = 1, ε = 0.1: F-GR sees 3.31, B-GR 2.71, exact 3", "[optim]") {
  // With γ = 1 the direction is g + (estimate of H g) = 1 + estimate.
  using M = optim::GradRegOptions::Method;
  const auto quartic = [](const Var& t) { return sum(pow(t, 4.0)) / 4.0; };
  const std::vector<std::pair<M, double>> cases{{M::exact, 3.0}, {M::forward, 3.31}, {M::backward, 2.71}};
  for (const auto& [m, hg] : cases) {
    FunctionModel model(vec({1.0}), quartic);
    check_close(direction_of(model, wrap<optim::GradientRegularization>(gr(m, 1.0, 0.1))),
                std::vector<double>{1.0 + hg}, 1e-12);
  }
}

TEST_CASE("T-GR-3: F-GR with γ = ε is ∇L(θ + εg)", "[optim]") {
  FunctionModel model(vec({0.3, -0.7, 1.1}), sin_exp);
  auto objective = model.objective();
  const optim::ParamVector theta = objective.values();
  objective.add_to_values(objective.gradient(), 0.05);
  const Tensor probe = objective.gradient()[0];
  objective.set_values(theta);
  check_close(direction_of(model, wrap<optim::GradientRegularization>(
                                      gr(optim::GradRegOptions::Method::forward, 0.05, 0.05))),
              probe, 1e-14);
}

TEST_CASE("exact GR's direction is the gradient of L + γ/2 ‖∇L‖² (central differences)", "[optim]") {
  const double gamma = 0.3;
  FunctionModel model(vec({0.3, -0.7, 1.1}), sin_exp);
  auto objective = model.objective();
  const Tensor d = direction_of(
      model, wrap<optim::GradientRegularization>(gr(optim::GradRegOptions::Method::exact, gamma, 0.0)));
  const optim::ParamVector theta = objective.values();
  const auto l_gr = [&](const optim::ParamVector& at) {
    objective.set_values(at);
    auto [l, g] = objective.value_and_gradient();
    return l + 0.5 * gamma * optim::dot(g, g);
  };
  const double r = 1e-5;
  std::vector<double> fd;
  for (std::size_t i = 0; i < 3; ++i) {
    Tensor e = Tensor::zeros(Shape{3});
    e.data<double>()[i] = r;
    fd.push_back((l_gr({theta[0] + e}) - l_gr({theta[0] - e})) / (2 * r));
  }
  objective.set_values(theta);
  check_close(d, fd, 1e-8);
  // On a quadratic the exact direction equals the central-difference HVP form to rounding.
  const Tensor a = Tensor::from(Shape{2, 2}, {2, 1, 1, 3});
  FunctionModel q(vec({1.0, -1.0}), test::quadratic(a));
  auto qo = q.objective();
  const optim::ParamVector q0 = qo.values();
  const auto g = qo.gradient();
  qo.add_to_values(g, 1e-3);
  const auto gp = qo.gradient();
  qo.set_values(optim::axpy(-1e-3, g, q0));
  const auto gm = qo.gradient();
  qo.set_values(q0);
  const auto expected = optim::axpy(gamma / 2e-3, optim::axpy(-1.0, gm, gp), g);
  check_close(direction_of(q, wrap<optim::GradientRegularization>(
                                  gr(optim::GradRegOptions::Method::exact, gamma, 0.0))),
              expected[0], 1e-10);
}

// ---- FAD -----------------------------------------------------------------------------------------

TEST_CASE("FAD reductions and its quadratic form", "[optim]") {
  for (const bool exact : {true, false}) {
    INFO("exact " << exact);
    SECTION(std::string("alpha = beta = 0 is the base optimizer") + (exact ? " (exact)" : " (fd)")) {
      FunctionModel model(vec({0.3, -0.7, 1.1}), sin_exp);
      auto objective = model.objective();
      const Tensor g = objective.gradient()[0];
      check_close(direction_of(model, wrap<optim::FAD>(optim::FADOptions{
                                          .rho = 0.1, .alpha = 0.0, .beta = 0.0, .exact = exact})),
                  g, 0.0);
    }
    SECTION(std::string("alpha = 1, beta = 0 is SAM with radius rho") + (exact ? " (exact)" : " (fd)")) {
      FunctionModel m1(vec({0.3, -0.7, 1.1}), sin_exp);
      FunctionModel m2(vec({0.3, -0.7, 1.1}), sin_exp);
      check_close(direction_of(m1, wrap<optim::FAD>(optim::FADOptions{
                                       .rho = 0.1, .alpha = 1.0, .beta = 0.0, .exact = exact})),
                  direction_of(m2, wrap<optim::SAM>(optim::SAMOptions{.rho = 0.1})), 1e-14);
    }
  }
  SECTION("on a quadratic: d = g0 + α ρ A ĝ0 + β ρ A ĝ_adv, exact = finite differences") {
    // θ_adv = θ + ρ normalize(A ĝ0); g1 − g0 = ρ A ĝ0 and g3 − g2 = ρ A ĝ2 exactly.
    const double rho = 0.1, alpha = 0.7, beta = 0.4;
    const double g0[2] = {1.0, 10.0};
    const double n0 = std::hypot(g0[0], g0[1]);
    const double ag0[2] = {g0[0] / n0, 10.0 * g0[1] / n0};
    const double nf = std::hypot(ag0[0], ag0[1]);
    const double adv[2] = {1.0 + rho * ag0[0] / nf, 1.0 + rho * ag0[1] / nf};
    const double gadv[2] = {adv[0], 10.0 * adv[1]};
    const double na = std::hypot(gadv[0], gadv[1]);
    const std::vector<double> expected{g0[0] + alpha * rho * ag0[0] + beta * rho * gadv[0] / na,
                                       g0[1] + alpha * rho * ag0[1] + beta * rho * 10.0 * gadv[1] / na};
    for (const bool exact : {true, false}) {
      auto model = model_1_10();
      check_close(direction_of(model, wrap<optim::FAD>(optim::FADOptions{
                                          .rho = rho, .alpha = alpha, .beta = beta, .exact = exact})),
                  expected, 1e-12);
    }
  }
}

// ---- ⊥Grad ---------------------------------------------------------------------------------------

TEST_CASE("PerpGrad removes the component along the weights", "[optim]") {
  // w = (1, 0), g = (1, 1) (linear loss): g⊥ = (0, 1), rescaled to ‖g‖: (0, √2).
  const auto linear = [](const Var& t) { return sum(t); };
  FunctionModel m1(vec({1.0, 0.0}), linear);
  check_close(direction_of(m1, wrap<optim::PerpGrad>(optim::PerpGradOptions{})), {0.0, std::sqrt(2.0)},
              1e-15);
  FunctionModel m2(vec({1.0, 0.0}), linear);
  check_close(direction_of(m2, wrap<optim::PerpGrad>(optim::PerpGradOptions{.rescale = false})), {0.0, 1.0},
              1e-15);
  FunctionModel m3(vec({0.0, 0.0}), linear);  // θ = 0: nothing to project on
  check_close(direction_of(m3, wrap<optim::PerpGrad>(optim::PerpGradOptions{})), {1.0, 1.0}, 1e-15);
}

// ---- restoration ---------------------------------------------------------------------------------

TEST_CASE("wrappers hand the base optimizer the original parameters, bit for bit", "[optim]") {
  using GR = optim::GradRegOptions::Method;
  optim::GAMOptions exact_gam;
  exact_gam.sam_rho = 0.05;
  const std::vector<std::pair<std::string, MakeWrapper>> wrappers{
      {"sam", wrap<optim::SAM>(optim::SAMOptions{.rho = 0.37})},
      {"asam", wrap<optim::SAM>(optim::SAMOptions{.rho = 0.37, .adaptive = true})},
      {"gam exact + sam", wrap<optim::GAM>(exact_gam)},
      {"gam accelerated code", wrap<optim::GAM>(accelerated(false))},
      {"gam accelerated paper", wrap<optim::GAM>(accelerated(true))},
      {"gr exact", wrap<optim::GradientRegularization>(gr(GR::exact, 0.1, 0.1))},
      {"gr forward", wrap<optim::GradientRegularization>(gr(GR::forward, 0.1, 0.13))},
      {"gr backward", wrap<optim::GradientRegularization>(gr(GR::backward, 0.1, 0.13))},
      {"fad exact", wrap<optim::FAD>(optim::FADOptions{})},
      {"fad fd", wrap<optim::FAD>(optim::FADOptions{.exact = false})},
      {"perpgrad", wrap<optim::PerpGrad>(optim::PerpGradOptions{})},
  };
  for (const auto& [name, make] : wrappers) {
    INFO(name);
    // float32 values whose perturbed copies round: restoring by subtraction would not be exact.
    FunctionModel model(vec({1.3, 0.7}, DType::f32), test::valley);
    const Tensor start = model.theta().value;
    auto spy = std::make_unique<Spy>(model.parameters());
    Spy* seen = spy.get();
    auto wrapper = make(std::move(spy));
    auto objective = model.objective();
    wrapper->step(objective);
    wrapper->step(objective);
    REQUIRE(seen->values_at_apply.size() == 2);
    CHECK(test::same_bits(seen->values_at_apply[0][0], start));
    CHECK(test::same_bits(seen->values_at_apply[1][0], start));
    CHECK(test::same_bits(model.theta().value, start));
    CHECK(seen->directions[0][0].dtype() == DType::f32);

    // With SGD as the base: exactly the base update of the direction.
    FunctionModel sgd_model(vec({1.3, 0.7}, DType::f32), test::valley);
    auto sgd_wrapper =
        make(std::make_unique<optim::SGD>(sgd_model.parameters(), optim::SGDOptions{.lr = 0.1}));
    auto sgd_objective = sgd_model.objective();
    sgd_wrapper->step(sgd_objective);
    Tensor expected = start;  // θ - 0.1 d, rounded as SGD rounds it (one axpy)
    axpy(-0.1, seen->directions[0][0], expected);
    CHECK(test::same_bits(sgd_model.theta().value, expected));
  }
}

// ---- the valley ½(w₁w₂ − 1)² ---------------------------------------------------------------------

TEST_CASE("valley: SGD stays at the sharp minimum, SAM and GAM reach the flat one", "[optim]") {
  // From (2, 0.501), lr 0.05, full batch, no momentum. Minima (a, 1/a) have trace a² + 1/a²:
  // 4.25 at a = 2 (where SGD settles), 2 at a = 1 (the flattest).
  constexpr int steps = JETGRAD_OPTIM_VALLEY_STEPS;
  const auto run = [&](const MakeWrapper& make) {
    FunctionModel model(vec({2.0, 0.501}), test::valley);
    auto sgd = std::make_unique<optim::SGD>(model.parameters(), optim::SGDOptions{.lr = 0.05});
    std::unique_ptr<optim::Optimizer> opt = make ? make(std::move(sgd)) : std::move(sgd);
    auto objective = model.objective();
    for (int k = 0; k < steps; ++k) opt->step(objective);
    const std::vector<double> w = test::values_of(model.theta().value);
    INFO("w = (" << w[0] << ", " << w[1] << ")");
    CHECK(w[0] * w[1] == Approx(1.0).epsilon(1e-2));
    return trace2(objective);
  };
  CHECK(run(nullptr) == Approx(4.25).epsilon(1e-2));
  CHECK(run(wrap<optim::SAM>(optim::SAMOptions{.rho = 0.05})) == Approx(2.0).epsilon(1e-2));
  optim::GAMOptions exact;
  exact.rho = 0.05;
  exact.alpha = 1.0;
  CHECK(run(wrap<optim::GAM>(exact)) == Approx(2.0).epsilon(1e-2));
  CHECK(run(wrap<optim::GAM>(accelerated(false))) == Approx(2.0).epsilon(1e-2));
}
