// optim base layer: Objective oracles and ParamVector arithmetic, the base optimizers' first steps on
// quadratics against hand-derived values and PyTorch's (generated once with Debian's torch 1.13,
// committed below as constants), sign descent, orthogonalized momentum, state save -> load ->
// identical continuation, schedules, and the errors users see.
#include <cmath>
#include <filesystem>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include <unistd.h>

#include <catch2/catch.hpp>

#include "nn/serialize.hpp"
#include "optim/flat.hpp"
#include "optim/optimizer.hpp"
#include "optim/schedule.hpp"
#include "support/optim_models.hpp"

using namespace jetgrad;
using Catch::Contains;
using test::check_close;
using test::FunctionModel;
using test::vec;

namespace {

// The test quadratic of the base optimizers: L = ½ θᵀAθ, A = [[2, 1], [1, 3]], θ₀ = (1, −1),
// so g₀ = Aθ₀ = (1, −2).
Tensor base_matrix() { return Tensor::from(Shape{2, 2}, {2, 1, 1, 3}); }

FunctionModel base_model() { return FunctionModel(vec({1.0, -1.0}), test::quadratic(base_matrix())); }

// Runs `steps` steps of `opt` on the model's objective; θ after each step.
std::vector<std::vector<double>> trajectory(FunctionModel& model, optim::Optimizer& opt, int steps) {
  std::vector<std::vector<double>> out;
  auto objective = model.objective();
  for (int k = 0; k < steps; ++k) {
    opt.step(objective);
    out.push_back(test::values_of(model.theta().value));
  }
  return out;
}

void check_trajectory(const std::vector<std::vector<double>>& got,
                      const std::vector<std::vector<double>>& expected, double tol = 1e-12) {
  REQUIRE(got.size() == expected.size());
  for (std::size_t k = 0; k < got.size(); ++k) {
    INFO("step " << k + 1);
    for (std::size_t i = 0; i < got[k].size(); ++i)
      CHECK(got[k][i] == Approx(expected[k][i]).margin(tol).epsilon(0));
  }
}

}  // namespace

// ---- Objective and ParamVector arithmetic --------------------------------------------------------

TEST_CASE("Objective gives L, the gradient and exact Hessian-vector products of a quadratic", "[optim]") {
  auto model = base_model();
  auto objective = model.objective();
  // L(1, −1) = ½ (2 − 1 − 1 + 3) = 1.5; g = (1, −2); A (0.5, 2) = (3, 6.5).
  CHECK(objective.value() == Approx(1.5));
  auto [loss, g] = objective.value_and_gradient();
  CHECK(loss == Approx(1.5));
  check_close(g[0], {1.0, -2.0}, 1e-14);
  check_close(objective.hvp({vec({0.5, 2.0})})[0], {3.0, 6.5}, 1e-14);
  // H u with u chosen from the gradient: u = g gives A g = (0, −5).
  const auto r = objective.value_gradient_hvp([](const optim::ParamVector& grad) { return grad; });
  check_close(r.hvp[0], {0.0, -5.0}, 1e-14);
  CHECK(objective.forward_count() == 4);
  CHECK(objective.gradient_count() == 3);
  CHECK(objective.hvp_count() == 2);
  // The parameters are where they were.
  check_close(model.theta().value, {1.0, -1.0}, 0.0);
}

TEST_CASE("Objective's Hessian-vector product matches central differences of gradients off quadratics",
          "[optim]") {
  // L = Σ sin(θ) exp(θ) (a non-quadratic function): (∇L(θ + r v) − ∇L(θ − r v)) / 2r = H v + O(r²).
  FunctionModel model(vec({0.3, -0.7, 1.1}), [](const Var& t) { return sum(sin(t) * exp(t)); });
  auto objective = model.objective();
  const optim::ParamVector v{vec({0.2, -1.0, 0.5})};
  const Tensor hv = objective.hvp(v)[0];
  const double r = 1e-4;
  const optim::ParamVector theta = objective.values();
  objective.set_values(optim::axpy(r, v, theta));
  const Tensor g_plus = objective.gradient()[0];
  objective.set_values(optim::axpy(-r, v, theta));
  const Tensor g_minus = objective.gradient()[0];
  objective.set_values(theta);
  CHECK(max_abs_diff(hv, (g_plus - g_minus) / (2 * r)) < 1e-7);
}

TEST_CASE("ParamVector arithmetic is global over tensors", "[optim]") {
  const optim::ParamVector a{vec({3.0}), vec({0.0, 4.0})};
  const optim::ParamVector b{vec({1.0}), vec({2.0, -1.0})};
  CHECK(optim::dot(a, b) == Approx(-1.0));
  CHECK(optim::norm(a) == Approx(5.0));
  CHECK(optim::numel(a) == 3);
  const auto c = optim::axpy(2.0, a, b);
  check_close(c[0], {7.0}, 0.0);
  check_close(c[1], {2.0, 7.0}, 0.0);
  check_close(optim::scaled(a, 0.5)[1], {0.0, 2.0}, 0.0);
  check_close(optim::zeros_like(a)[1], {0.0, 0.0}, 0.0);
  CHECK_THROWS_AS(optim::dot(a, {vec({1.0}), vec({1.0})}), ShapeError);
}

TEST_CASE("dot sums in double for every dtype pair, against a long double loop", "[optim]") {
  Generator gen(11);
  const std::size_t n = 1003;  // not a multiple of any vector width
  const Tensor x64 = normal(Shape{n}, 0.0, 1.0, gen, DType::f64),
               y64 = normal(Shape{n}, 0.0, 1.0, gen, DType::f64);
  const Tensor x32 = x64.to(DType::f32), y32 = y64.to(DType::f32);
  for (const auto& [x, y] : std::vector<std::pair<Tensor, Tensor>>{
           {x32, y32}, {x64, y64}, {x32, y64}, {x64, y32}, {x32, x32}, {x64, x64}}) {
    INFO(dtype_name(x.dtype()) << " . " << dtype_name(y.dtype()));
    long double expected = 0.0L;
    for (std::size_t i = 0; i < n; ++i) expected += static_cast<long double>(x.at(i)) * y.at(i);
    // double accumulation of exactly representable products: far tighter than a float sum's 1e-4
    CHECK(std::abs(optim::dot({x}, {y}) - static_cast<double>(expected)) < 1e-11);
  }
}

// ---- SGD (PyTorch semantics) ---------------------------------------------------------------------
//
// Reference trajectories below: torch.optim on the same quadratic in float64, 3 steps each
// (script: L = 0.5*th@A@th; L.backward(); opt.step()). The first steps are derived by hand.

TEST_CASE("SGD: plain, momentum, dampening, Nesterov and weight decay follow PyTorch", "[optim]") {
  SECTION("plain, lr 0.1") {
    // θ₁ = (1, −1) − 0.1 (1, −2) = (0.9, −0.8); g₁ = A θ₁ = (1.0, −1.5); θ₂ = (0.8, −0.65).
    auto model = base_model();
    optim::SGD sgd(model.parameters(), {.lr = 0.1});
    check_trajectory(trajectory(model, sgd, 3), {{0.9, -0.8}, {0.8, -0.65}, {0.705, -0.535}});
  }
  SECTION("momentum 0.9") {
    // b₁ = g₀ (PyTorch: the buffer starts as the first gradient) → θ₁ = (0.9, −0.8);
    // b₂ = 0.9 (1, −2) + (1, −1.5) = (1.9, −3.3) → θ₂ = (0.71, −0.47).
    auto model = base_model();
    optim::SGD sgd(model.parameters(), {.lr = 0.1, .momentum = 0.9});
    check_trajectory(trajectory(model, sgd, 3), {{0.9, -0.8}, {0.71, -0.47}, {0.444, -0.103}});
  }
  SECTION("momentum 0.9, dampening 0.1") {
    // The first buffer is undamped: θ₁ = (0.9, −0.8); b₂ = 0.9 (1, −2) + 0.9 (1, −1.5) = (1.8, −3.15).
    auto model = base_model();
    optim::SGD sgd(model.parameters(), {.lr = 0.1, .momentum = 0.9, .dampening = 0.1});
    check_trajectory(trajectory(model, sgd, 3), {{0.9, -0.8}, {0.72, -0.485}, {0.47205, -0.13535}});
  }
  SECTION("Nesterov") {
    // b₁ = g₀; d = g₀ + 0.9 b₁ = (1.9, −3.8) → θ₁ = (0.81, −0.62).
    auto model = base_model();
    optim::SGD sgd(model.parameters(), {.lr = 0.1, .momentum = 0.9, .nesterov = true});
    check_trajectory(trajectory(model, sgd, 3),
                     {{0.81, -0.62}, {0.539, -0.2585}, {0.22939499999999999, 0.017284999999999998}});
  }
  SECTION("coupled weight decay 0.01 with momentum") {
    // d = g₀ + 0.01 θ₀ = (1.01, −2.01) → θ₁ = (0.899, −0.799).
    auto model = base_model();
    optim::SGD sgd(model.parameters(), {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01});
    check_trajectory(trajectory(model, sgd, 3), {{0.899, -0.799},
                                                 {0.70730100000000007, -0.46750100000000006},
                                                 {0.43935449900000006, -0.099164199000000022}});
  }
}

// ---- Adam / AdamW --------------------------------------------------------------------------------

TEST_CASE("Adam and AdamW follow PyTorch", "[optim]") {
  SECTION("Adam, lr 0.1") {
    // Step 1: m̂ = g₀, v̂ = g₀², so θ₁ = θ₀ − 0.1 g₀ / (|g₀| + 1e-8) = (1 − 0.1/(1 + 1e-8), −1 + 0.2/(2 +
    // 1e-8)).
    auto model = base_model();
    optim::Adam adam(model.parameters(), {.lr = 0.1});
    check_trajectory(trajectory(model, adam, 3), {{0.90000000099999999, -0.90000000049999995},
                                                  {0.80041222970944792, -0.80041222869323791},
                                                  {0.70158627449267164, -0.7015862729519019}});
  }
  SECTION("Adam, coupled weight decay 0.1") {
    // d = g₀ + 0.1 θ₀ = (1.1, −2.1): θ₁ = (1 − 0.1·1.1/(1.1 + 1e-8), ...).
    auto model = base_model();
    optim::Adam adam(model.parameters(), {.lr = 0.1, .weight_decay = 0.1});
    check_trajectory(trajectory(model, adam, 3), {{0.90000000090909094, -0.90000000047619044},
                                                  {0.80041222952450963, -0.80041222864438699},
                                                  {0.70158627421182707, -0.7015862728766642}});
  }
  SECTION("AdamW, decoupled weight decay 0.1") {
    // θ ← θ (1 − 0.1·0.1) = (0.99, −0.99), then the Adam step of size ≈ 0.1: (0.89, −0.89).
    auto model = base_model();
    auto adamw = optim::make_adamw(model.parameters(), {.lr = 0.1, .weight_decay = 0.1});
    CHECK(adamw->name() == "adamw");
    check_trajectory(trajectory(model, *adamw, 3), {{0.89000000099999999, -0.89000000049999994},
                                                    {0.78157185695108766, -0.78157185593804146},
                                                    {0.6751012231766762, -0.67510122164633191}});
  }
  SECTION("Adam, betas (0.5, 0.9), eps 1e-3, lr 0.05") {
    // θ₁ = 1 − 0.05 / (1 + 1e-3) = 0.95004995...
    auto model = base_model();
    optim::Adam adam(model.parameters(), {.lr = 0.05, .beta1 = 0.5, .beta2 = 0.9, .eps = 1e-3});
    check_trajectory(trajectory(model, adam, 3), {{0.95004995004995008, -0.95002498750624687},
                                                  {0.90047690896336463, -0.90042701650598145},
                                                  {0.85151453571150093, -0.8514401869529522}});
  }
}

TEST_CASE("Adam with beta1 = beta2 = eps = 0 is sign descent, with sign(0) = 0 and no NaN", "[optim]") {
  // Linear loss cᵀθ: the gradient is c = (0.3, −2, 0); the update is −lr (1, −1, 0).
  const Tensor c = vec({0.3, -2.0, 0.0});
  FunctionModel model(vec({1.0, 1.0, 1.0}), [c](const Var& t) { return sum(c * t); });
  auto objective = model.objective();
  optim::Adam adam(model.parameters(), {.lr = 0.1, .beta1 = 0.0, .beta2 = 0.0, .eps = 0.0});
  adam.step(objective);
  check_close(model.theta().value, {0.9, 1.1, 1.0}, 1e-15);

  FunctionModel model2(vec({1.0, 1.0, 1.0}), [c](const Var& t) { return sum(c * t); });
  auto objective2 = model2.objective();
  optim::SignDescent sign(model2.parameters(), {.lr = 0.1});
  sign.step(objective2);
  check_close(model2.theta().value, {0.9, 1.1, 1.0}, 1e-15);
}

TEST_CASE("Sign descent with momentum takes the sign of the buffer", "[optim]") {
  // Directions applied: d₁ = (1, −1), d₂ = (−3, 0.5). b₁ = 0.5 d₁ = (0.5, −0.5) → step −lr (1, −1);
  // b₂ = 0.5 b₁ + 0.5 d₂ = (−1.25, 0) → step −lr (−1, 0).
  FunctionModel model(vec({0.0, 0.0}), [](const Var& t) { return sum(t); });
  optim::SignDescent sign(model.parameters(), {.lr = 0.1, .momentum = 0.5});
  sign.apply({vec({1.0, -1.0})});
  check_close(model.theta().value, {-0.1, 0.1}, 1e-15);
  sign.apply({vec({-3.0, 0.5})});
  check_close(model.theta().value, {0.0, 0.1}, 1e-15);
}

// ---- orthogonalized momentum ---------------------------------------------------------------------

TEST_CASE("orthogonalize returns the polar factor U Vᵀ", "[optim]") {
  // [[1, 2], [2, 1]] = U diag(3, 1) Vᵀ with U Vᵀ = [[0, 1], [1, 0]]; diag(3, 1) → I.
  check_close(optim::orthogonalize(Tensor::from(Shape{2, 2}, {1, 2, 2, 1}), 12), {0, 1, 1, 0}, 1e-12);
  check_close(optim::orthogonalize(Tensor::from(Shape{2, 2}, {3, 0, 0, 1}), 12), {1, 0, 0, 1}, 1e-12);
  // A tall matrix: columns become orthonormal, rank-deficient directions stay 0.
  check_close(optim::orthogonalize(Tensor::from(Shape{3, 2}, {2, 0, 0, 0.5, 0, 0}), 12), {1, 0, 0, 1, 0, 0},
              1e-12);
  // Random well-conditioned 4 × 3: QᵀQ = I.
  Generator gen(7);
  const Tensor g =
      normal(Shape{4, 3}, 0.0, 1.0, gen) + Tensor::from(Shape{4, 3}, {3, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0, 0});
  const Tensor q = optim::orthogonalize(g, 20);
  check_close(matmul(transpose(q), q), {1, 0, 0, 0, 1, 0, 0, 0, 1}, 1e-10);
  CHECK(optim::orthogonalize(Tensor::zeros(Shape{2, 3}), 5).shape() == Shape{2, 3});
  CHECK_THROWS_AS(optim::orthogonalize(vec({1.0, 2.0}), 5), ShapeError);
}

TEST_CASE("Orthogonalized momentum steps along the polar factor, scaled for tall matrices", "[optim]") {
  SECTION("square matrix, Nesterov") {
    // Gradient C = [[1, 2], [2, 1]] (linear loss); b = C, u = C + 0.95 C: polar factor [[0, 1], [1, 0]].
    const Tensor c = Tensor::from(Shape{2, 2}, {1, 2, 2, 1});
    FunctionModel model(Tensor::zeros(Shape{2, 2}), [c](const Var& t) { return sum(c * t); });
    auto objective = model.objective();
    optim::OrthogonalizedMomentum opt(model.parameters(), {.lr = 0.02});
    opt.step(objective);
    check_close(model.theta().value, {0, -0.02, -0.02, 0}, 1e-12);
  }
  SECTION("tall matrix: scale √(rows/cols)") {
    const Tensor c = Tensor::from(Shape{3, 2}, {1, 0, 0, 2, 0, 0});
    FunctionModel model(Tensor::zeros(Shape{3, 2}), [c](const Var& t) { return sum(c * t); });
    auto objective = model.objective();
    optim::OrthogonalizedMomentum opt(model.parameters(), {.lr = 0.1, .nesterov = false});
    opt.step(objective);
    const double s = 0.1 * std::sqrt(1.5);
    check_close(model.theta().value, {-s, 0, 0, -s, 0, 0}, 1e-12);
  }
  SECTION("vectors get SGD with momentum") {
    // b₁ = d; no Nesterov: θ₁ = −lr d; b₂ = 0.95 d + d → θ₂ = θ₁ − lr 1.95 d.
    FunctionModel model(vec({0.0, 0.0}), [](const Var& t) { return sum(t); });
    optim::OrthogonalizedMomentum opt(model.parameters(), {.lr = 0.1, .momentum = 0.95, .nesterov = false});
    opt.apply({vec({1.0, -2.0})});
    opt.apply({vec({1.0, -2.0})});
    check_close(model.theta().value, {-0.1 - 0.195, 0.2 + 0.39}, 1e-14);
  }
}

// ---- state save -> load -> identical continuation ------------------------------------------------

namespace {

template <class Make>
void check_state_roundtrip(Make make, bool through_file) {
  const auto valley_model = [] { return FunctionModel(vec({2.0, 0.3}), test::valley); };
  auto a = valley_model();
  auto opt_a = make(a.parameters());
  auto obj_a = a.objective();
  for (int k = 0; k < 3; ++k) opt_a->step(obj_a);
  nn::NamedTensors saved = opt_a->state();
  if (through_file) {
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("jetgrad_optim_state_" + std::to_string(::getpid()) + ".jgw"))
                                 .string();
    nn::save_tensors(path, saved);
    saved = nn::load_tensors(path);
    std::filesystem::remove(path);
  }
  const Tensor theta_at_save = a.theta().value;
  for (int k = 0; k < 4; ++k) opt_a->step(obj_a);

  auto b = valley_model();
  b.theta().value = theta_at_save;
  auto opt_b = make(b.parameters());
  opt_b->load_state(saved);
  CHECK(opt_b->steps() == 3);
  auto obj_b = b.objective();
  for (int k = 0; k < 4; ++k) opt_b->step(obj_b);
  CHECK(test::same_bits(a.theta().value, b.theta().value));
  CHECK(opt_a->steps() == opt_b->steps());
}

}  // namespace

TEST_CASE("optimizer state: save -> load continues bit for bit", "[optim]") {
  SECTION("SGD with Nesterov momentum") {
    check_state_roundtrip(
        [](optim::ParamList p) {
          return std::make_unique<optim::SGD>(
              p, optim::SGDOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true});
        },
        false);
  }
  SECTION("Adam, through a file") {
    check_state_roundtrip(
        [](optim::ParamList p) { return std::make_unique<optim::Adam>(p, optim::AdamOptions{.lr = 0.01}); },
        true);
  }
  SECTION("AdamW inside SAM") {
    check_state_roundtrip(
        [](optim::ParamList p) {
          return std::make_unique<optim::SAM>(optim::make_adamw(p, {.lr = 0.01, .weight_decay = 0.1}),
                                              optim::SAMOptions{});
        },
        true);
  }
  SECTION("orthogonalized momentum") {
    check_state_roundtrip(
        [](optim::ParamList p) {
          return std::make_unique<optim::OrthogonalizedMomentum>(p, optim::OrthogonalOptions{});
        },
        false);
  }
  SECTION("the learning rate is part of the state") {
    auto m = base_model();
    optim::SGD sgd(m.parameters(), {.lr = 0.1});
    sgd.set_learning_rate(0.025);
    optim::SGD other(m.parameters(), {.lr = 0.1});
    other.load_state(sgd.state());
    CHECK(other.learning_rate() == 0.025);
  }
}

TEST_CASE("optimizer state from another model is rejected with its reason", "[optim]") {
  FunctionModel three(vec({1.0, 2.0, 3.0}), [](const Var& t) { return sum(t * t); });
  optim::SGD sgd3(three.parameters(), {.lr = 0.1, .momentum = 0.9});
  auto obj3 = three.objective();
  sgd3.step(obj3);
  auto two = base_model();
  optim::SGD sgd2(two.parameters(), {.lr = 0.1, .momentum = 0.9});
  CHECK_THAT(test::message_of<Error>([&] { sgd2.load_state(sgd3.state()); }),
             Contains("does not match") && Contains("(3,)"));
  CHECK_THAT(test::message_of<Error>([&] {
               sgd2.load_state({{"momentum", vec({1.0, 2.0})}});
             }),
             Contains("'momentum'") && Contains("<buffer>.<param>#<index>"));
}

// ---- schedules -----------------------------------------------------------------------------------

TEST_CASE("learning-rate schedules", "[optim]") {
  const optim::StepSchedule step(0.1, 10, 0.5);
  CHECK(step(0) == Approx(0.1));
  CHECK(step(9) == Approx(0.1));
  CHECK(step(10) == Approx(0.05));
  CHECK(step(25) == Approx(0.025));

  const optim::CosineSchedule cosine(1.0, 100);
  CHECK(cosine(0) == Approx(1.0));
  CHECK(cosine(50) == Approx(0.5));
  CHECK(cosine(25) == Approx(0.5 * (1 + std::cos(std::numbers::pi / 4))));
  CHECK(cosine(100) == 0.0);
  CHECK(cosine(1000) == 0.0);
  const optim::CosineSchedule floor(1.0, 100, 0.1);
  CHECK(floor(50) == Approx(0.55));
  CHECK(floor(200) == Approx(0.1));

  // Linear warm-up over 4 steps: 1/4, 2/4, 3/4, 1 of the inner schedule.
  const optim::WarmupSchedule warm(cosine, 4);
  CHECK(warm(0) == Approx(0.25 * cosine(0)));
  CHECK(warm(2) == Approx(0.75 * cosine(2)));
  CHECK(warm(4) == Approx(cosine(4)));

  CHECK_THROWS_AS(optim::StepSchedule(0.1, 0, 0.5), ValueError);
  CHECK_THROWS_AS(optim::CosineSchedule(0.1, 0), ValueError);

  // Driving an optimizer.
  auto m = base_model();
  optim::SGD sgd(m.parameters(), {.lr = 1.0});
  sgd.set_learning_rate(step(25));
  CHECK(sgd.learning_rate() == Approx(0.025));
}

// ---- errors --------------------------------------------------------------------------------------

TEST_CASE("optimizer errors name what was expected and what came", "[optim]") {
  auto m = base_model();
  optim::SGD sgd(m.parameters(), {.lr = 0.1});
  CHECK_THAT(test::message_of<ShapeError>([&] {
               sgd.apply({vec({1.0, 2.0, 3.0})});
             }),
             Contains("direction 0 has shape (3,)") && Contains("'weight'") && Contains("(2,)"));
  CHECK_THAT(test::message_of<ShapeError>([&] {
               sgd.apply({vec({1.0, 2.0}), vec({1.0})});
             }),
             Contains("one direction tensor per parameter (1)") && Contains("got 2"));
  // An objective over other parameters than the optimizer's.
  auto other = base_model();
  auto other_objective = other.objective();
  CHECK_THAT(test::message_of<ValueError>([&] { sgd.step(other_objective); }),
             Contains("not this optimizer's parameter"));
  optim::SAM sam(std::make_unique<optim::SGD>(m.parameters(), optim::SGDOptions{}), {});
  CHECK_THROWS_AS(sam.step(other_objective), ValueError);

  auto objective = m.objective();
  CHECK_THAT(test::message_of<ShapeError>([&] { objective.hvp({vec({1.0})}); }),
             Contains("'weight'") && Contains("(1,)") && Contains("(2,)"));
  CHECK_THAT(test::message_of<ShapeError>([&] { objective.set_values({}); }),
             Contains("one tensor per parameter"));
  FunctionModel vector_loss(vec({1.0, 2.0}), [](const Var& t) { return t * 2.0; });
  auto bad = vector_loss.objective();
  CHECK_THAT(test::message_of<ShapeError>([&] { bad.value(); }), Contains("one element") && Contains("(2,)"));

  CHECK_THROWS_AS(optim::SGD(m.parameters(), {.lr = -1.0}), ValueError);
  CHECK_THROWS_AS(optim::SGD(m.parameters(), {.lr = 0.1, .nesterov = true}), ValueError);
  CHECK_THROWS_AS(optim::Adam(m.parameters(), {.beta1 = 1.0}), ValueError);
  CHECK_THROWS_AS(optim::SGD({}, {}), ValueError);
  CHECK_THAT(test::message_of<ValueError>([] { optim::SAM(nullptr, {}); }),
             Contains("base optimizer is null"));
  CHECK_THROWS_AS(optim::Objective({}, [](Tape& t) { return t.constant(Tensor(0.0)); }), ValueError);
}

TEST_CASE("step_from_grads uses Parameter::grad, PyTorch style", "[optim]") {
  auto m = base_model();
  optim::SGD sgd(m.parameters(), {.lr = 0.5});
  sgd.zero_grad();
  m.theta().grad = vec({1.0, 2.0});
  sgd.step_from_grads();
  check_close(m.theta().value, {0.5, -2.0}, 0.0);
  CHECK(sgd.steps() == 1);
}
