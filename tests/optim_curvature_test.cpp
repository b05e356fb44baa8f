// Curvature and flatness metrics (optim/curvature.hpp) against the closed-form tests of
// shared/reference/algorithms.md §5.11 and dense linear algebra: the algorithms on HvpFns of known
// matrices (one or two tensors), and the exact-HVP plumbing on Objectives of quadratics
// ½ (θ − c)ᵀ A (θ − c) over a small Module whose parameters are concatenated into θ.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numeric>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "optim/curvature.hpp"
#include "support/optim_models.hpp"

using namespace jetgrad;
using optim::ParamVector;
using test::same_bits;
using test::values_of;

namespace {

using Matrix = std::vector<double>;  // row-major n×n

Tensor tensor_of(const Shape& shape, const std::vector<double>& values, DType dtype = DType::f64) {
  Tensor t(DType::f64, shape);
  REQUIRE(values.size() == t.numel());
  std::copy(values.begin(), values.end(), t.data<double>());
  return dtype == DType::f64 ? t : t.to(dtype);
}

// ParamVector <-> one flat vector.
std::vector<double> flat(const ParamVector& v) {
  std::vector<double> out;
  for (const Tensor& t : v) {
    const std::vector<double> x = values_of(t);
    out.insert(out.end(), x.begin(), x.end());
  }
  return out;
}
ParamVector unflat(const std::vector<double>& x, const ParamVector& like) {
  ParamVector out;
  std::size_t at = 0;
  for (const Tensor& t : like) {
    out.push_back(
        tensor_of(t.shape(), std::vector<double>(x.begin() + static_cast<std::ptrdiff_t>(at),
                                                 x.begin() + static_cast<std::ptrdiff_t>(at + t.numel()))));
    at += t.numel();
  }
  REQUIRE(at == x.size());
  return out;
}

std::vector<double> multiply(const Matrix& a, const std::vector<double>& x) {
  const std::size_t n = x.size();
  std::vector<double> y(n, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) y[i] += a[i * n + j] * x[j];
  return y;
}

// The HVP of the fixed symmetric matrix `a` on vectors laid out like `like`; counts its calls.
optim::HvpFn matrix_hvp(const Matrix& a, const ParamVector& like, std::size_t* calls = nullptr) {
  return [a, like, calls](const ParamVector& v) {
    if (calls != nullptr) ++*calls;
    return unflat(multiply(a, flat(v)), like);
  };
}

// Layouts: one vector of n, or a matrix and a vector (two tensors) of n elements in all.
ParamVector layout(std::initializer_list<Shape> shapes) {
  ParamVector out;
  for (const Shape& s : shapes) out.push_back(Tensor::zeros(s));
  return out;
}

Matrix diagonal(const std::vector<double>& d) {
  Matrix a(d.size() * d.size(), 0.0);
  for (std::size_t i = 0; i < d.size(); ++i) a[i * d.size() + i] = d[i];
  return a;
}

// Q diag(λ) Qᵀ with Q a product of three random Householder reflections.
Matrix with_spectrum(const std::vector<double>& lambda, Generator& gen) {
  const std::size_t n = lambda.size();
  Matrix q(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i) q[i * n + i] = 1.0;
  for (int r = 0; r < 3; ++r) {
    std::vector<double> u(n);
    double uu = 0.0;
    for (double& x : u) {
      x = gen.normal();
      uu += x * x;
    }
    Matrix next(n * n);
    for (std::size_t i = 0; i < n; ++i)  // Q (I − 2uuᵀ/uᵀu)
      for (std::size_t j = 0; j < n; ++j) {
        double qu = 0.0;
        for (std::size_t k = 0; k < n; ++k) qu += q[i * n + k] * u[k];
        next[i * n + j] = q[i * n + j] - 2.0 * qu * u[j] / uu;
      }
    q = next;
  }
  Matrix a(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j)
      for (std::size_t k = 0; k < n; ++k) a[i * n + j] += q[i * n + k] * lambda[k] * q[j * n + k];
  for (std::size_t i = 0; i < n; ++i)  // exactly symmetric
    for (std::size_t j = 0; j < i; ++j) a[i * n + j] = a[j * n + i];
  return a;
}

Matrix random_symmetric(std::size_t n, Generator& gen) {
  Matrix a(n * n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j <= i; ++j) a[i * n + j] = a[j * n + i] = gen.normal();
  return a;
}

double trace_of(const Matrix& a, std::size_t n) {
  double t = 0.0;
  for (std::size_t i = 0; i < n; ++i) t += a[i * n + i];
  return t;
}

std::vector<double> dense_eigenvalues(const Matrix& a, std::size_t n) {
  std::vector<double> values, vectors;
  optim::symmetric_eigen(a, n, values, vectors);
  return values;
}

// ‖A v − λ v‖∞ for a flat v.
double residual(const Matrix& a, const std::vector<double>& v, double lambda) {
  const std::vector<double> av = multiply(a, v);
  double r = 0.0;
  for (std::size_t i = 0; i < v.size(); ++i) r = std::max(r, std::abs(av[i] - lambda * v[i]));
  return r;
}

double flat_norm(const std::vector<double>& v) {
  return std::sqrt(std::inner_product(v.begin(), v.end(), v.begin(), 0.0));
}

// A small module whose parameters, flattened and concatenated, are θ; its objectives are the
// quadratics ½ (θ − c)ᵀ A (θ − c) (so ∇L = A(θ − c) and H = A), recorded through Parameter::var.
class QuadModel : public nn::Module {
 public:
  QuadModel(const std::vector<Shape>& shapes, DType dtype = DType::f64) : dtype_(dtype) {
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      std::string name = std::to_string(i);  // not "p" + ...: GCC 12's -O3 -Wrestrict false positive
      name.insert(name.begin(), 'p');
      params_.push_back(&register_parameter(std::move(name), Tensor::zeros(shapes[i], dtype)));
      dim_ += shapes[i].numel();
    }
  }
  Var forward(const Var& x) override { return x; }
  std::string describe() const override { return "QuadModel"; }
  std::size_t dim() const { return dim_; }

  void set_theta(const std::vector<double>& theta) {
    std::size_t at = 0;
    for (nn::Parameter* p : params_) {
      std::vector<double> part(theta.begin() + static_cast<std::ptrdiff_t>(at),
                               theta.begin() + static_cast<std::ptrdiff_t>(at + p->value.numel()));
      p->value = tensor_of(p->value.shape(), part, dtype_);
      at += p->value.numel();
    }
  }
  std::vector<double> theta() const {
    std::vector<double> out;
    for (const nn::Parameter* p : params_) {
      const std::vector<double> x = values_of(p->value);
      out.insert(out.end(), x.begin(), x.end());
    }
    return out;
  }
  std::vector<Tensor> snapshot() const {
    std::vector<Tensor> out;
    for (const nn::Parameter* p : params_) out.push_back(p->value);
    return out;
  }
  bool unchanged_since(const std::vector<Tensor>& before) const {
    for (std::size_t i = 0; i < params_.size(); ++i)
      if (!same_bits(params_[i]->value, before[i])) return false;
    return true;
  }

  optim::Objective objective(const Matrix& a, std::vector<double> center = {}) {
    if (center.empty()) center.assign(dim_, 0.0);
    const Tensor at = tensor_of(Shape{dim_, dim_}, a, dtype_);
    const Tensor c = tensor_of(Shape{dim_}, center, dtype_);
    return optim::Objective(parameters(), [this, at, c](Tape& tape) {
      std::vector<Var> parts;
      for (nn::Parameter* p : params_) parts.push_back(reshape(p->var(tape), Shape{p->value.numel()}));
      const Var r = reshape(concat(parts, 0) - c, Shape{dim_, 1});
      return 0.5 * sum(r * matmul(at, r));
    });
  }

 private:
  DType dtype_;
  std::vector<nn::Parameter*> params_;
  std::size_t dim_ = 0;
};

const Matrix h2 = {2.0, 1.0, 1.0, 3.0};  // §5.11: eigenvalues (5 ± √5)/2, trace 5
const double h2_top = (5.0 + std::sqrt(5.0)) / 2.0, h2_bottom = (5.0 - std::sqrt(5.0)) / 2.0;

}  // namespace

// ---- symmetric_eigen ---------------------------------------------------------------------------

TEST_CASE("symmetric_eigen: A v = λ v on random symmetric matrices", "[optim][curvature]") {
  Generator gen(1);
  for (std::size_t n : {1u, 2u, 3u, 7u, 16u, 40u}) {
    for (double scale : {1.0, 1e-20, 1e12}) {
      INFO("n = " << n << ", scale = " << scale);
      Matrix a = random_symmetric(n, gen);
      for (double& x : a) x *= scale;
      std::vector<double> values, vectors;
      optim::symmetric_eigen(a, n, values, vectors);
      REQUIRE(values.size() == n);
      REQUIRE(vectors.size() == n * n);
      CHECK(std::is_sorted(values.begin(), values.end()));
      CHECK(std::abs(std::accumulate(values.begin(), values.end(), 0.0) - trace_of(a, n)) <=
            1e-12 * scale * double(n));
      for (std::size_t c = 0; c < n; ++c) {
        std::vector<double> v(n);
        for (std::size_t r = 0; r < n; ++r) v[r] = vectors[r * n + c];
        CHECK(flat_norm(v) == Approx(1.0).epsilon(1e-13));
        CHECK(residual(a, v, values[c]) <= 1e-12 * scale);
        for (std::size_t c2 = 0; c2 < c; ++c2) {  // orthogonal columns
          double d = 0.0;
          for (std::size_t r = 0; r < n; ++r) d += v[r] * vectors[r * n + c2];
          CHECK(std::abs(d) <= 1e-13);
        }
      }
    }
  }
  SECTION("closed forms") {
    std::vector<double> values, vectors;
    optim::symmetric_eigen(h2, 2, values, vectors);
    CHECK(values[0] == Approx(h2_bottom).epsilon(1e-15));
    CHECK(values[1] == Approx(h2_top).epsilon(1e-15));
    optim::symmetric_eigen(diagonal({3.0, -1.0, 2.0}), 3, values, vectors);
    CHECK(values == std::vector<double>{-1.0, 2.0, 3.0});
    CHECK(vectors == std::vector<double>{0, 0, 1, 1, 0, 0, 0, 1, 0});
  }
  SECTION("errors") {
    std::vector<double> values, vectors;
    CHECK_THROWS_AS(optim::symmetric_eigen({1.0, 2.0, 3.0}, 2, values, vectors), ShapeError);
    CHECK_THROWS_AS(optim::symmetric_eigen({1.0, NAN, NAN, 1.0}, 2, values, vectors), ValueError);
  }
}

// ---- §5.11 closed forms ------------------------------------------------------------------------

TEST_CASE("§5.11: H = [[2,1],[1,3]] through an HvpFn and through an Objective", "[optim][curvature]") {
  QuadModel model({Shape{2}});
  model.set_theta({0.3, -0.7});
  auto objective = model.objective(h2, {0.1, 0.2});
  const ParamVector like = objective.values();
  const auto before = model.snapshot();

  for (int source = 0; source < 2; ++source) {
    INFO((source == 0 ? "matrix HvpFn" : "Objective::hvp"));
    std::vector<double> samples;
    const optim::HvpFn base = source == 0 ? matrix_hvp(h2, like) : optim::hvp_of(objective);
    // Records every Hutchinson sample vᵀHv.
    const optim::HvpFn hvp = [&](const ParamVector& v) {
      ParamVector hv = base(v);
      samples.push_back(optim::dot(v, hv));
      return hv;
    };
    Generator gen(7);

    const auto lanczos = optim::top_eigenvalues(hvp, like, gen, {.k = 2});
    REQUIRE(lanczos.size() == 2);
    CHECK(lanczos[0].value == Approx(h2_top).epsilon(1e-13));
    CHECK(lanczos[1].value == Approx(h2_bottom).epsilon(1e-13));
    for (const auto& pair : lanczos) CHECK(residual(h2, flat(pair.vector), pair.value) <= 1e-12);

    const auto power =
        optim::power_iteration(hvp, like, gen, {.k = 2, .max_iterations = 500, .tolerance = 1e-14});
    REQUIRE(power.size() == 2);
    CHECK(power[0].value == Approx(h2_top).epsilon(1e-12));
    CHECK(power[1].value == Approx(h2_bottom).epsilon(1e-10));
    CHECK(residual(h2, flat(power[0].vector), power[0].value) <= 1e-6);

    samples.clear();
    const Estimate e = optim::hutchinson_trace(hvp, like, gen, {.samples = 200});
    REQUIRE(samples.size() == 200);
    std::size_t threes = 0;
    for (double s : samples) {
      CHECK((s == 3.0 || s == 7.0));  // Rademacher: 5 ± 2 v₁v₂, exactly
      threes += s == 3.0 ? 1 : 0;
    }
    CHECK(threes > 70);
    CHECK(threes < 130);
    CHECK(e.samples == 200);
    CHECK(std::abs(e.mean - 5.0) <= 3.0 * e.standard_error);
    // Per-sample standard deviation √(2 Σ_{i≠j} H_ij²) = 2.
    CHECK(e.standard_error == Approx(2.0 / std::sqrt(200.0)).epsilon(0.05));

    CHECK(optim::hutchpp_trace(hvp, like, gen, {.samples = 6}) == Approx(5.0).epsilon(1e-13));
    CHECK(model.unchanged_since(before));
  }
}

TEST_CASE("§5.11: a diagonal H makes every Hutchinson sample exact", "[optim][curvature]") {
  const std::vector<double> d = {1.5, -2.0, 3.25, 0.5, 7.0, -0.75, 2.0};  // trace 11.5
  const ParamVector like = layout({Shape{2, 2}, Shape{3}});
  std::vector<double> samples;
  const optim::HvpFn base = matrix_hvp(diagonal(d), like);
  const optim::HvpFn hvp = [&](const ParamVector& v) {
    ParamVector hv = base(v);
    samples.push_back(optim::dot(v, hv));
    return hv;
  };
  Generator gen(3);
  const Estimate e = optim::hutchinson_trace(hvp, like, gen, {.samples = 5});
  for (double s : samples) CHECK(s == 11.5);
  CHECK(e.mean == 11.5);
  CHECK(e.standard_error == 0.0);  // no cancellation: the spread is exactly zero

  // The same through an Objective over two parameters.
  QuadModel model({Shape{2, 2}, Shape{3}});
  model.set_theta({1, 2, 3, 4, 5, 6, 7});
  auto objective = model.objective(diagonal(d));
  const Estimate o =
      optim::hutchinson_trace(optim::hvp_of(objective), objective.values(), gen, {.samples = 2});
  CHECK(o.mean == 11.5);
  CHECK(o.standard_error == 0.0);
}

TEST_CASE("§5.11: diag(5, 1, −7): power iteration finds −7, Lanczos 5", "[optim][curvature]") {
  const Matrix a = diagonal({5.0, 1.0, -7.0});
  QuadModel model({Shape{3}});
  auto objective = model.objective(a);
  const ParamVector like = layout({Shape{3}});
  for (int source = 0; source < 2; ++source) {
    const optim::HvpFn hvp = source == 0 ? matrix_hvp(a, like) : optim::hvp_of(objective);
    Generator gen(5);
    const auto power = optim::power_iteration(hvp, like, gen, {.max_iterations = 1000, .tolerance = 1e-14});
    REQUIRE(power.size() == 1);
    CHECK(power[0].value == Approx(-7.0).epsilon(1e-12));
    CHECK(std::abs(values_of(power[0].vector[0])[2]) == Approx(1.0).epsilon(1e-9));
    // PyHessian's defaults stop early, but on the same (negative) eigenvalue.
    CHECK(optim::power_iteration(hvp, like, gen)[0].value == Approx(-7.0).epsilon(1e-2));

    const auto top = optim::top_eigenvalues(hvp, like, gen, {.k = 3});
    REQUIRE(top.size() == 3);
    CHECK(top[0].value == Approx(5.0).epsilon(1e-14));
    CHECK(top[1].value == Approx(1.0).epsilon(1e-14));
    CHECK(top[2].value == Approx(-7.0).epsilon(1e-14));
    CHECK(std::abs(values_of(top[0].vector[0])[0]) == Approx(1.0).epsilon(1e-12));
  }
}

TEST_CASE("§5.11: SLQ on diag(1, 2, 3) with 3 steps: nodes {1, 2, 3}, weights 1/3", "[optim][curvature]") {
  const Matrix a = diagonal({1.0, 2.0, 3.0});
  QuadModel model({Shape{3}});
  auto objective = model.objective(a);
  const ParamVector like = layout({Shape{3}});
  auto check_nodes = [](const optim::SpectralDensity& s, const std::vector<double>& nodes) {
    for (std::size_t r = 0; r < s.nodes.size(); ++r) {
      REQUIRE(s.nodes[r].size() == nodes.size());
      for (std::size_t j = 0; j < nodes.size(); ++j) {
        CHECK(s.nodes[r][j] == Approx(nodes[j]).epsilon(1e-13));
        CHECK(s.weights[r][j] == Approx(1.0 / static_cast<double>(nodes.size())).epsilon(1e-12));
      }
    }
  };
  // A Rademacher start has |v_i| = 1/√3 whatever the seed: the weights are exactly 1/3.
  for (std::uint64_t seed : {0u, 1u, 2u, 99u}) {
    Generator gen(seed);
    const auto s = optim::spectral_density(matrix_hvp(a, like), like, gen, {.runs = 2, .steps = 3});
    REQUIRE(s.nodes.size() == 2);
    check_nodes(s, {1.0, 2.0, 3.0});
    check_nodes(optim::spectral_density(optim::hvp_of(objective), like, gen, {.steps = 3}), {1.0, 2.0, 3.0});
  }
  Generator gen(0);
  // A caller-given start (normalized here): (1, 1, 1)/√3, and (2, −2, 2).
  check_nodes(optim::spectral_density(matrix_hvp(a, like), like, gen,
                                      {.steps = 3, .start = {test::vec({1.0, 1.0, 1.0})}}),
              {1.0, 2.0, 3.0});
  check_nodes(optim::spectral_density(matrix_hvp(a, like), like, gen,
                                      {.steps = 3, .start = {test::vec({2.0, -2.0, 2.0})}}),
              {1.0, 2.0, 3.0});
  // A start in an invariant subspace: the run stops after 2 steps, and its quadrature is exact.
  std::size_t calls = 0;
  const auto s = optim::spectral_density(matrix_hvp(a, like, &calls), like, gen,
                                         {.steps = 3, .start = {test::vec({0.0, 1.0, 1.0})}});
  check_nodes(s, {2.0, 3.0});
  CHECK(calls == 2);
  CHECK_THROWS_AS(
      optim::spectral_density(matrix_hvp(a, like), like, gen, {.start = {test::vec({0.0, 0.0, 0.0})}}),
      ValueError);
  CHECK_THROWS_AS(optim::spectral_density(matrix_hvp(a, like), like, gen, {.start = {test::vec({1.0, 1.0})}}),
                  ShapeError);
}

TEST_CASE("§5.11: the valley ½(w₁w₂ − 1)²: λ_max = trace = 4.25 at (2, 0.5), 2 at (1, 1)",
          "[optim][curvature]") {
  for (auto [w1, w2, expected] : {std::tuple{2.0, 0.5, 4.25}, std::tuple{1.0, 1.0, 2.0}}) {
    INFO("at (" << w1 << ", " << w2 << ")");
    test::FunctionModel model(test::vec({w1, w2}), test::valley);
    auto objective = model.objective();
    const ParamVector like = objective.values();
    Generator gen(2);
    const auto hvp = optim::hvp_of(objective);
    const auto top = optim::top_eigenvalues(hvp, like, gen, {.k = 2});
    CHECK(top[0].value == Approx(expected).epsilon(1e-13));
    CHECK(top[1].value == Approx(0.0).margin(1e-13));
    CHECK(optim::power_iteration(hvp, like, gen, {.tolerance = 1e-14})[0].value ==
          Approx(expected).epsilon(1e-13));
    CHECK(optim::hutchpp_trace(hvp, like, gen, {.samples = 3}) == Approx(expected).epsilon(1e-13));
    const Estimate e = optim::hutchinson_trace(hvp, like, gen, {.samples = 50});
    CHECK(std::abs(e.mean - expected) <= 3.0 * e.standard_error);
    const auto density = optim::spectral_density(hvp, like, gen, {.steps = 2});
    if (w1 == 1.0) {
      // H = [[1, 1], [1, 1]]: every Rademacher start is an eigenvector, so one node, 0 or 2, weight 1.
      REQUIRE(density.nodes[0].size() == 1);
      CHECK((density.nodes[0][0] == Approx(0.0).margin(1e-13) ||
             density.nodes[0][0] == Approx(2.0).epsilon(1e-13)));
      CHECK(density.weights[0][0] == 1.0);
    } else {
      REQUIRE(density.nodes[0].size() == 2);
      CHECK(density.nodes[0][0] == Approx(0.0).margin(1e-13));
      CHECK(density.nodes[0][1] == Approx(expected).epsilon(1e-13));
    }
  }
}

// ---- eigenvalues -------------------------------------------------------------------------------

TEST_CASE("Top-3 by power iteration with deflation and by Lanczos on a 10×10 matrix", "[optim][curvature]") {
  Generator gen(10);
  const std::vector<double> spectrum = {10.0, -8.0, 6.0, 3.0, 2.0, 1.0, 0.5, -0.5, -1.0, 0.1};
  const Matrix a = with_spectrum(spectrum, gen);
  const std::vector<double> dense = dense_eigenvalues(a, 10);  // ascending
  CHECK(dense.front() == Approx(-8.0).epsilon(1e-13));
  CHECK(dense.back() == Approx(10.0).epsilon(1e-13));
  const ParamVector like = layout({Shape{2, 3}, Shape{4}});

  // Power iteration: largest magnitude 10, −8, 6.
  const auto power = optim::power_iteration(matrix_hvp(a, like), like, gen,
                                            {.k = 3, .max_iterations = 3000, .tolerance = 1e-14});
  REQUIRE(power.size() == 3);
  const std::vector<double> by_magnitude = {dense[9], dense[0], dense[8]};
  for (std::size_t i = 0; i < 3; ++i) {
    INFO("eigenvalue " << i);
    CHECK(power[i].value == Approx(by_magnitude[i]).epsilon(1e-9));
    CHECK(residual(a, flat(power[i].vector), power[i].value) <= 1e-5);
    CHECK(power[i].vector[0].shape() == Shape{2, 3});
  }
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < i; ++j)
      CHECK(std::abs(optim::dot(power[i].vector, power[j].vector)) <= 1e-12);

  // Lanczos: largest algebraic 10, 6, 3.
  std::size_t calls = 0;
  const auto lanczos = optim::top_eigenvalues(matrix_hvp(a, like, &calls), like, gen, {.k = 3, .steps = 10});
  CHECK(calls == 10);
  REQUIRE(lanczos.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(lanczos[i].value == Approx(dense[9 - i]).epsilon(1e-12));
    CHECK(residual(a, flat(lanczos[i].vector), lanczos[i].value) <= 1e-10);
  }
}

TEST_CASE("Lanczos with full reorthogonalization equals the dense eigenvalues", "[optim][curvature]") {
  Generator gen(12);
  const std::size_t n = 24;
  const Matrix a = random_symmetric(n, gen);
  const std::vector<double> dense = dense_eigenvalues(a, n);
  const ParamVector like = layout({Shape{4, 5}, Shape{4}});
  const auto all =
      optim::top_eigenvalues(matrix_hvp(a, like), like, gen, {.k = n, .steps = 100});  // steps capped at 24
  REQUIRE(all.size() == n);
  for (std::size_t i = 0; i < n; ++i) {
    CHECK(all[i].value == Approx(dense[n - 1 - i]).epsilon(1e-11));
    CHECK(residual(a, flat(all[i].vector), all[i].value) <= 1e-10);
  }
  // Fewer steps than the dimension: the extreme Ritz value is still a lower bound that is close.
  const auto few = optim::top_eigenvalues(matrix_hvp(a, like), like, gen, {.k = 1, .steps = 16});
  CHECK(few[0].value <= dense.back() + 1e-12);
  CHECK(few[0].value == Approx(dense.back()).epsilon(1e-3));
  // A caller-given start: e.g. a warm start from a previous eigenvector converges at once.
  const auto warm =
      optim::top_eigenvalues(matrix_hvp(a, like), like, gen, {.k = 1, .steps = 2, .start = all[0].vector});
  CHECK(warm[0].value == Approx(dense.back()).epsilon(1e-12));
}

TEST_CASE("Lanczos finds repeated eigenvalues and tiny curvature (restart on breakdown)",
          "[optim][curvature]") {
  Generator gen(4);
  const ParamVector like = layout({Shape{6}});
  // Spectrum {3, 3, 3, 1, 1, 0}: a Rademacher start's Krylov space has dimension 3.
  const Matrix a = with_spectrum({3.0, 3.0, 3.0, 1.0, 1.0, 0.0}, gen);
  const auto top = optim::top_eigenvalues(matrix_hvp(a, like), like, gen, {.k = 5, .steps = 6});
  REQUIRE(top.size() == 5);
  const std::vector<double> expected = {3.0, 3.0, 3.0, 1.0, 1.0};
  for (std::size_t i = 0; i < 5; ++i) {
    CHECK(top[i].value == Approx(expected[i]).epsilon(1e-12));
    CHECK(residual(a, flat(top[i].vector), top[i].value) <= 1e-12);
    for (std::size_t j = 0; j < i; ++j) CHECK(std::abs(optim::dot(top[i].vector, top[j].vector)) <= 1e-12);
  }
  // A Hessian of scale 1e-14 (a nearly flat loss): breakdown is relative to the operator's scale.
  Matrix tiny = with_spectrum({4.0, 2.0, 1.0, 0.5, 0.25, 0.125}, gen);
  for (double& x : tiny) x *= 1e-14;
  const auto small = optim::top_eigenvalues(matrix_hvp(tiny, like), like, gen, {.k = 2, .steps = 6});
  CHECK(small[0].value == Approx(4e-14).epsilon(1e-10));
  CHECK(small[1].value == Approx(2e-14).epsilon(1e-10));
  const auto small_density = optim::spectral_density(matrix_hvp(tiny, like), like, gen, {.steps = 6});
  CHECK(small_density.nodes[0].size() == 6);
  CHECK(small_density.nodes[0].back() == Approx(4e-14).epsilon(1e-10));
}

// ---- trace -------------------------------------------------------------------------------------

TEST_CASE("Hutch++ is exact on low-rank matrices with rank <= sketch size", "[optim][curvature]") {
  Generator gen(20);
  const ParamVector like = layout({Shape{4, 3}, Shape{8}});
  for (std::size_t rank : {1u, 3u, 5u}) {
    std::vector<double> spectrum(20, 0.0);
    for (std::size_t i = 0; i < rank; ++i)
      spectrum[i] = (i % 2 == 0 ? 1.0 : -1.0) * (10.0 + static_cast<double>(i));
    const Matrix a = with_spectrum(spectrum, gen);
    const double tr = trace_of(a, 20);
    for (std::size_t samples : std::vector<std::size_t>{3 * rank, 3 * rank + 2, 30}) {
      INFO("rank " << rank << ", samples " << samples);
      std::size_t calls = 0;
      CHECK(optim::hutchpp_trace(matrix_hvp(a, like, &calls), like, gen, {.samples = samples}) ==
            Approx(tr).margin(1e-11 * 20.0));
      CHECK(calls <= samples);
    }
  }
  // Full rank with a sketch as large as the dimension: exact too.
  const Matrix a = random_symmetric(20, gen);
  CHECK(optim::hutchpp_trace(matrix_hvp(a, like), like, gen, {.samples = 60}) ==
        Approx(trace_of(a, 20)).margin(1e-10));
  CHECK_THROWS_AS(optim::hutchpp_trace(matrix_hvp(a, like), like, gen, {.samples = 2}), ValueError);
}

TEST_CASE("Hutchinson: mean within 3 SE of the trace, SE as in theory", "[optim][curvature]") {
  Generator gen(30);
  const std::size_t n = 16;
  const Matrix a = random_symmetric(n, gen);
  double off = 0.0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j)
      if (i != j) off += a[i * n + j] * a[i * n + j];
  const ParamVector like = layout({Shape{3, 4}, Shape{4}});
  for (std::size_t samples : {20u, 200u, 4000u}) {
    INFO(samples << " samples");
    std::size_t calls = 0;
    const Estimate e = optim::hutchinson_trace(matrix_hvp(a, like, &calls), like, gen, {.samples = samples});
    CHECK(calls == samples);
    CHECK(e.samples == samples);
    CHECK(std::abs(e.mean - trace_of(a, n)) <= 3.0 * e.standard_error);
    const double theory = std::sqrt(2.0 * off / static_cast<double>(samples));
    CHECK(e.standard_error == Approx(theory).epsilon(samples >= 200 ? 0.12 : 0.5));
  }
  CHECK_THROWS_AS(optim::hutchinson_trace(matrix_hvp(a, like), like, gen, {.samples = 1}), ValueError);
  CHECK_THROWS_AS(optim::hutchinson_trace(matrix_hvp(a, like), like, gen, {.samples = 0}), ValueError);
}

// ---- spectral density --------------------------------------------------------------------------

TEST_CASE("SLQ: the density integrates to 1 and its first moment × d estimates the trace",
          "[optim][curvature]") {
  Generator gen(40);
  const std::size_t n = 30;
  const ParamVector like = layout({Shape{5, 5}, Shape{5}});
  auto integrate = [](const optim::SpectralDensity& s, int moment) {  // trapezoid rule, as the normalization
    double total = 0.0;
    for (std::size_t i = 0; i + 1 < s.grid.size(); ++i) {
      const double a = s.density[i] * std::pow(s.grid[i], moment),
                   b = s.density[i + 1] * std::pow(s.grid[i + 1], moment);
      total += 0.5 * (a + b) * (s.grid[i + 1] - s.grid[i]);
    }
    return total;
  };
  auto quadrature_mean = [](const optim::SpectralDensity& s) {
    double m = 0.0;
    for (std::size_t r = 0; r < s.nodes.size(); ++r) {
      double wsum = 0.0;
      for (std::size_t j = 0; j < s.nodes[r].size(); ++j) {
        m += s.weights[r][j] * s.nodes[r][j];
        wsum += s.weights[r][j];
      }
      CHECK(wsum == Approx(1.0).epsilon(1e-12));
    }
    return m / static_cast<double>(s.nodes.size());
  };

  SECTION("diagonal: a Rademacher start gives vᵀHv = trace, so the first moment × d is exact") {
    std::vector<double> d(n);
    for (double& x : d) x = gen.uniform(-2.0, 5.0);
    const double tr = std::accumulate(d.begin(), d.end(), 0.0);
    const auto s =
        optim::spectral_density(matrix_hvp(diagonal(d), like), like, gen, {.runs = 2, .steps = 30});
    REQUIRE(s.grid.size() == 1000);
    CHECK(integrate(s, 0) == Approx(1.0).epsilon(1e-9));
    CHECK(quadrature_mean(s) * n == Approx(tr).epsilon(1e-12));
    CHECK(integrate(s, 1) * n == Approx(tr).epsilon(1e-6));
    for (double x : s.density) CHECK(x >= 0.0);
  }
  SECTION("general: within 4 theoretical standard errors") {
    const Matrix a = random_symmetric(n, gen);
    double off = 0.0;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j)
        if (i != j) off += a[i * n + j] * a[i * n + j];
    const std::size_t runs = 8;
    const auto s = optim::spectral_density(matrix_hvp(a, like), like, gen, {.runs = runs, .steps = 30});
    CHECK(integrate(s, 0) == Approx(1.0).epsilon(1e-9));
    CHECK(integrate(s, 1) == Approx(quadrature_mean(s)).margin(1e-6));
    CHECK(std::abs(integrate(s, 1) * n - trace_of(a, n)) <= 4.0 * std::sqrt(2.0 * off / runs));
    // Full-dimension Lanczos: every run's nodes are the eigenvalues.
    const std::vector<double> dense = dense_eigenvalues(a, n);
    for (const auto& nodes : s.nodes) {
      REQUIRE(nodes.size() == n);
      for (std::size_t j = 0; j < n; ++j) CHECK(nodes[j] == Approx(dense[j]).epsilon(1e-10));
    }
  }
  SECTION("a wide spectrum: the kernel stays resolved by the grid") {
    // Eigenvalues from −500 to 1500: PyHessian's σ = √(1e-5 · 2000) ≈ 0.14 is far below its grid
    // step (2 for 1000 points), which misses the peaks; σ is floored at one grid step.
    std::vector<double> d(n);
    for (std::size_t i = 0; i < n; ++i)
      d[i] = -500.0 + 2000.0 * static_cast<double>(i) / static_cast<double>(n - 1);
    const auto s = optim::spectral_density(matrix_hvp(diagonal(d), like), like, gen, {.steps = 30});
    CHECK(integrate(s, 0) == Approx(1.0).epsilon(1e-6));
    CHECK(integrate(s, 1) * n == Approx(std::accumulate(d.begin(), d.end(), 0.0)).epsilon(1e-6));
    CHECK(s.grid.front() < -500.0);
    CHECK(s.grid.back() > 1500.0);
  }
  SECTION("errors") {
    const auto hvp = matrix_hvp(diagonal(std::vector<double>(n, 1.0)), like);
    CHECK_THROWS_AS(optim::spectral_density(hvp, like, gen, {.runs = 0}), ValueError);
    CHECK_THROWS_AS(optim::spectral_density(hvp, like, gen, {.steps = 0}), ValueError);
    CHECK_THROWS_AS(optim::spectral_density(hvp, like, gen, {.grid_points = 10}), ValueError);
    // H = I: a single node at 1 (the Krylov space of any start is one-dimensional).
    const auto s = optim::spectral_density(hvp, like, gen, {.steps = 30});
    REQUIRE(s.nodes[0].size() == 1);
    CHECK(s.nodes[0][0] == Approx(1.0).epsilon(1e-14));
    CHECK(integrate(s, 1) == Approx(1.0).epsilon(1e-9));
  }
}

// ---- flatness ----------------------------------------------------------------------------------

TEST_CASE("Flatness at a quadratic's minimum: ½ρ²λ_max and ρ²λ_max along the top eigenvector",
          "[optim][curvature]") {
  Generator gen(50);
  const Matrix a = with_spectrum({4.0, 3.0, 2.0, 1.0, 0.5, 0.25, 0.1, 0.05}, gen);
  const std::vector<double> center = {0.5, -1.0, 2.0, 0.25, 1.0, -0.5, 0.75, -2.0};
  for (DType dtype : {DType::f64, DType::f32}) {
    INFO((dtype == DType::f64 ? "float64" : "float32"));
    QuadModel model({Shape{2, 3}, Shape{2}}, dtype);
    model.set_theta(center);
    auto objective = model.objective(a, center);
    const auto before = model.snapshot();
    const double tol = dtype == DType::f64 ? 1e-9 : 1e-5;
    for (double rho : {0.05, 0.5}) {
      const auto zeroth = optim::zeroth_order_sharpness(objective, gen, {.rho = rho});
      CHECK(model.unchanged_since(before));
      CHECK(zeroth.value == Approx(0.5 * rho * rho * 4.0).epsilon(tol));
      CHECK(optim::norm(zeroth.delta) == Approx(rho).epsilon(1e-12));
      CHECK(residual(a, flat(zeroth.delta), 4.0) <=
            (dtype == DType::f64 ? 1e-8 : 1e-4) * rho);  // δ ∥ top eigenvector

      const auto first = optim::first_order_flatness(objective, gen, {.rho = rho});
      CHECK(model.unchanged_since(before));
      CHECK(first.value == Approx(rho * rho * 4.0).epsilon(tol));
      CHECK(optim::norm(first.delta) == Approx(rho).epsilon(1e-12));
    }
    // Without the eigenvector start the ascent cannot leave a minimum (∇L = 0): why it exists.
    const auto stuck =
        optim::zeroth_order_sharpness(objective, gen, {.rho = 0.1, .start_along_top_eigenvector = false});
    CHECK(stuck.value == Approx(0.0).margin(1e-12));
    CHECK(optim::first_order_flatness(objective, gen, {.rho = 0.1, .start_along_top_eigenvector = false})
              .value == Approx(0.0).margin(1e-6));
    CHECK(model.unchanged_since(before));
  }
}

TEST_CASE("Flatness away from a minimum: the exact trust-region maximum", "[optim][curvature]") {
  Generator gen(51);
  const std::vector<double> spectrum = {5.0, 2.0, 1.0, 0.5, 0.1};
  const Matrix a = with_spectrum(spectrum, gen);
  QuadModel model({Shape{5}});
  model.set_theta({0.3, -0.2, 0.1, 0.05, -0.1});
  auto objective = model.objective(a);
  const auto before = model.snapshot();
  const std::vector<double> g = multiply(a, model.theta());
  const double gnorm = flat_norm(g), rho = 0.2;
  // max_{‖δ‖≤ρ} gᵀδ + ½δᵀAδ (A ⪰ 0): δ = (μI − A)⁻¹ g with μ > λ_max and ‖δ‖ = ρ, by bisection on μ
  // in the eigenbasis.
  std::vector<double> lambda, q;
  optim::symmetric_eigen(a, 5, lambda, q);
  std::vector<double> gq(5, 0.0);
  for (std::size_t c = 0; c < 5; ++c)
    for (std::size_t r = 0; r < 5; ++r) gq[c] += q[r * 5 + c] * g[r];
  auto delta_norm = [&](double mu) {
    double n2 = 0.0;
    for (std::size_t c = 0; c < 5; ++c) n2 += gq[c] * gq[c] / ((mu - lambda[c]) * (mu - lambda[c]));
    return std::sqrt(n2);
  };
  double lo = lambda[4], hi = lambda[4] + gnorm / rho;
  for (int it = 0; it < 200; ++it) (delta_norm(0.5 * (lo + hi)) > rho ? lo : hi) = 0.5 * (lo + hi);
  double exact = 0.0;
  for (std::size_t c = 0; c < 5; ++c) {
    const double d = gq[c] / (hi - lambda[c]);
    exact += gq[c] * d + 0.5 * lambda[c] * d * d;
  }
  CHECK(exact >= rho * gnorm);
  const auto s = optim::zeroth_order_sharpness(objective, gen, {.rho = rho, .steps = 20});
  CHECK(model.unchanged_since(before));
  INFO("zeroth order: " << s.value << " vs exact " << exact);
  CHECK(s.value == Approx(exact).epsilon(1e-3));
  CHECK(s.value <= exact + 1e-12);
  CHECK(optim::norm(s.delta) <= rho * (1.0 + 1e-12));

  // First order: ρ max ‖g + Aδ‖ over the ball, against a dense sample of the sphere.
  double sampled = 0.0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<double> u(5);
    for (double& x : u) x = gen.normal();
    const double un = flat_norm(u);
    for (double& x : u) x *= rho / un;
    std::vector<double> r = multiply(a, u);
    for (std::size_t k = 0; k < 5; ++k) r[k] += g[k];
    sampled = std::max(sampled, rho * flat_norm(r));
  }
  const auto f = optim::first_order_flatness(objective, gen, {.rho = rho, .steps = 20});
  CHECK(model.unchanged_since(before));
  // Fixed steps 2ρ/m leave the ascent oscillating about the maximizer: within a few 1e-4 here.
  INFO("first order: " << f.value << " vs sampled " << sampled);
  CHECK(f.value >= sampled * (1.0 - 2e-3));
  CHECK(f.value <= rho * (gnorm + rho * 5.0) + 1e-12);
}

TEST_CASE("Every metric leaves the parameters bitwise unchanged", "[optim][curvature]") {
  Generator gen(52);
  const Matrix a = with_spectrum({3.0, -1.0, 2.0, 0.5, 1.0, -0.25, 0.1}, gen);
  for (DType dtype : {DType::f32, DType::f64}) {
    QuadModel model({Shape{2, 2}, Shape{3}}, dtype);
    model.set_theta({0.1, 0.2, -0.3, 0.4, 0.123456789, -0.7, 1.0 / 3.0});
    auto objective = model.objective(a);
    const auto before = model.snapshot();
    const ParamVector like = objective.values();
    const auto hvp = optim::hvp_of(objective);
    optim::top_eigenvalues(hvp, like, gen, {.k = 2});
    CHECK(model.unchanged_since(before));
    optim::power_iteration(hvp, like, gen, {.k = 2});
    CHECK(model.unchanged_since(before));
    optim::hutchinson_trace(hvp, like, gen, {.samples = 4});
    optim::hutchpp_trace(hvp, like, gen, {.samples = 6});
    optim::spectral_density(hvp, like, gen, {.steps = 5});
    CHECK(model.unchanged_since(before));
    optim::zeroth_order_sharpness(objective, gen, {.rho = 0.3});
    CHECK(model.unchanged_since(before));
    optim::first_order_flatness(objective, gen, {.rho = 0.3});
    CHECK(model.unchanged_since(before));
    const ParamVector d = optim::filter_normalized_direction(like, gen);
    optim::landscape_1d(objective, d, {-1.0, 0.5, 1.0});
    CHECK(model.unchanged_since(before));
    optim::landscape_2d(objective, d, optim::scaled(d, -0.5), {-1.0, 1.0}, {0.25, 2.0});
    CHECK(model.unchanged_since(before));
    // A float32 direction, and a throwing call (a direction of the wrong shape).
    ParamVector d32;
    for (const Tensor& t : d) d32.push_back(t.to(DType::f32));
    optim::landscape_1d(objective, d32, {0.5});
    CHECK(model.unchanged_since(before));
    CHECK_THROWS(optim::landscape_2d(objective, d, {Tensor::zeros(Shape{2, 2}), Tensor::zeros(Shape{4})},
                                     {1.0}, {1.0}));
    CHECK(model.unchanged_since(before));
  }
}

// ---- HVP plumbing, gradient norms --------------------------------------------------------------

TEST_CASE("hvp_of: exact HVPs of an Objective and batch-weighted data-set HVPs", "[optim][curvature]") {
  Generator gen(60);
  const Matrix a1 = random_symmetric(7, gen), a2 = random_symmetric(7, gen);
  QuadModel model({Shape{2, 2}, Shape{3}});
  model.set_theta({1, -2, 3, 0.5, 0.25, -1, 2});
  auto o1 = model.objective(a1);
  const ParamVector like = o1.values();
  const ParamVector v = {normal(Shape{2, 2}, 0.0, 1.0, gen), normal(Shape{3}, 0.0, 1.0, gen)};
  const std::vector<double> expected1 = multiply(a1, flat(v));
  const std::vector<double> got1 = flat(optim::hvp_of(o1)(v));
  for (std::size_t i = 0; i < 7; ++i) CHECK(got1[i] == Approx(expected1[i]).margin(1e-13));
  CHECK(o1.hvp_count() == 1);

  std::vector<optim::Objective> batches = {model.objective(a1), model.objective(a2)};
  const auto hvp = optim::hvp_of(batches, {1.0, 3.0});
  const std::vector<double> expected2 = multiply(a2, flat(v));
  const std::vector<double> got = flat(hvp(v));
  for (std::size_t i = 0; i < 7; ++i)
    CHECK(got[i] == Approx(0.25 * expected1[i] + 0.75 * expected2[i]).margin(1e-13));
  CHECK_THROWS_AS(optim::hvp_of(batches, {1.0}), ValueError);
  CHECK_THROWS_AS(optim::hvp_of(batches, {1.0, 0.0}), ValueError);

  // Cost accounting: Lanczos uses `steps` HVPs.
  auto o2 = model.objective(a1);
  optim::top_eigenvalues(optim::hvp_of(o2), like, gen, {.k = 1, .steps = 5});
  CHECK(o2.hvp_count() == 5);
}

TEST_CASE("gradient_norms: full data vs mean of minibatch norms", "[optim][curvature]") {
  // Batch b's loss ½‖θ − c_b‖² has ∇L_b = θ − c_b: at θ = 0, (−3, 0) and (1, 4), with weights 1/4, 3/4.
  QuadModel model({Shape{2}});
  const Matrix identity = diagonal({1.0, 1.0});
  std::vector<optim::Objective> batches = {model.objective(identity, {3.0, 0.0}),
                                           model.objective(identity, {-1.0, -4.0})};
  const auto norms = optim::gradient_norms(batches, {1.0, 3.0});
  // Full: 0.25·(−3, 0) + 0.75·(1, 4) = (0, 3) → 3. Mean: 0.25·3 + 0.75·√17.
  CHECK(norms.full_data == Approx(3.0).epsilon(1e-14));
  CHECK(norms.mean_minibatch == Approx(0.75 + 0.75 * std::sqrt(17.0)).epsilon(1e-14));
  CHECK(norms.mean_minibatch >= norms.full_data);
  // Equal gradients: no noise, equal norms.
  std::vector<optim::Objective> same = {model.objective(identity, {1.0, 2.0}),
                                        model.objective(identity, {1.0, 2.0})};
  const auto equal = optim::gradient_norms(same, {2.0, 5.0});
  CHECK(equal.full_data == Approx(std::sqrt(5.0)).epsilon(1e-14));
  CHECK(equal.mean_minibatch == Approx(std::sqrt(5.0)).epsilon(1e-14));
  CHECK_THROWS_AS(optim::gradient_norms(batches, {1.0, 2.0, 3.0}), ValueError);
  CHECK_THROWS_AS(optim::gradient_norms(batches, {1.0, -1.0}), ValueError);
}

// ---- landscape ---------------------------------------------------------------------------------

TEST_CASE("filter_normalized_direction: θ's row norms on matrices and filters, zero on vectors",
          "[optim][curvature]") {
  Generator gen(70);
  const ParamVector theta = {normal(Shape{3, 4}, 0.0, 2.0, gen, DType::f32),  // a Linear weight (out, in)
                             normal(Shape{2, 3, 2, 2}, 0.0, 1.0, gen),        // a convolution weight
                             normal(Shape{3}, 0.0, 1.0, gen),                 // a bias
                             Tensor(2.5)};                                    // a scalar
  ParamVector with_zero_row = theta;
  for (std::size_t k = 0; k < 4; ++k) with_zero_row[0].set(4 + k, 0.0);
  for (const ParamVector& t : {theta, with_zero_row}) {
    const ParamVector d = optim::filter_normalized_direction(t, gen);
    REQUIRE(d.size() == 4);
    for (std::size_t p = 0; p < 2; ++p) {
      CHECK(d[p].shape() == t[p].shape());
      const std::size_t rows = t[p].shape()[0], per = t[p].numel() / rows;
      const std::vector<double> x = values_of(t[p]), y = values_of(d[p]);
      for (std::size_t r = 0; r < rows; ++r) {
        double nx = 0.0, ny = 0.0;
        for (std::size_t k = 0; k < per; ++k) {
          nx += x[r * per + k] * x[r * per + k];
          ny += y[r * per + k] * y[r * per + k];
        }
        CHECK(std::sqrt(ny) == Approx(std::sqrt(nx)).epsilon(1e-13));
      }
    }
    CHECK(values_of(d[2]) == std::vector<double>(3, 0.0));
    CHECK(values_of(d[3]) == std::vector<double>{0.0});
  }
  // Seeded: the same generator state gives the same direction; directions differ between draws.
  Generator g1(5), g2(5);
  CHECK(same_bits(optim::filter_normalized_direction(theta, g1)[1],
                  optim::filter_normalized_direction(theta, g2)[1]));
  CHECK_FALSE(same_bits(optim::filter_normalized_direction(theta, g1)[1],
                        optim::filter_normalized_direction(theta, g1)[1]));
}

TEST_CASE("landscape_1d/2d of a quadratic equal the closed form", "[optim][curvature]") {
  Generator gen(80);
  const Matrix a = random_symmetric(7, gen);
  const std::vector<double> center = {0.1, 0.2, 0.3, -0.1, 0.5, 0.0, 1.0};
  QuadModel model({Shape{2, 2}, Shape{3}});
  model.set_theta({1.0, -1.0, 0.5, 2.0, 0.0, 0.25, -0.75});
  auto objective = model.objective(a, center);
  const ParamVector like = objective.values();
  const ParamVector d1 = optim::filter_normalized_direction(like, gen);
  const ParamVector d2 = {normal(Shape{2, 2}, 0.0, 1.0, gen), normal(Shape{3}, 0.0, 1.0, gen)};
  // L(θ + a d1 + b d2) = L + a g·d1 + b g·d2 + ½a² d1ᵀAd1 + ab d1ᵀAd2 + ½b² d2ᵀAd2.
  std::vector<double> r = model.theta();
  for (std::size_t i = 0; i < 7; ++i) r[i] -= center[i];
  const std::vector<double> ar = multiply(a, r), x1 = flat(d1), x2 = flat(d2);
  const std::vector<double> ax1 = multiply(a, x1), ax2 = multiply(a, x2);
  auto dotv = [](const std::vector<double>& u, const std::vector<double>& w) {
    return std::inner_product(u.begin(), u.end(), w.begin(), 0.0);
  };
  const double l0 = 0.5 * dotv(r, ar), g1 = dotv(ar, x1), g2 = dotv(ar, x2);
  const double q11 = dotv(x1, ax1), q12 = dotv(x1, ax2), q22 = dotv(x2, ax2);
  auto closed = [&](double s, double t) {
    return l0 + s * g1 + t * g2 + 0.5 * s * s * q11 + s * t * q12 + 0.5 * t * t * q22;
  };

  const std::vector<double> alphas = {-1.0, -0.25, 0.0, 0.5, 2.0}, betas = {-0.5, 0.0, 1.5};
  const auto line = optim::landscape_1d(objective, d1, alphas);
  REQUIRE(line.size() == alphas.size());
  for (std::size_t i = 0; i < alphas.size(); ++i)
    CHECK(line[i] == Approx(closed(alphas[i], 0.0)).epsilon(1e-12));
  CHECK(line[2] == Approx(l0).epsilon(1e-14));
  const auto plane = optim::landscape_2d(objective, d1, d2, alphas, betas);
  REQUIRE(plane.size() == alphas.size() * betas.size());
  for (std::size_t i = 0; i < alphas.size(); ++i)
    for (std::size_t j = 0; j < betas.size(); ++j)
      CHECK(plane[i * betas.size() + j] == Approx(closed(alphas[i], betas[j])).epsilon(1e-12));
}

// ---- errors ------------------------------------------------------------------------------------

TEST_CASE("Curvature metrics reject bad k, too few samples and bad starts", "[optim][curvature]") {
  Generator gen(90);
  const ParamVector like = layout({Shape{2, 2}});
  const auto hvp = matrix_hvp(diagonal({1.0, 2.0, 3.0, 4.0}), like);
  CHECK_THROWS_AS(optim::top_eigenvalues(hvp, like, gen, {.k = 0}), ValueError);
  CHECK_THROWS_AS(optim::top_eigenvalues(hvp, like, gen, {.k = 5}), ValueError);              // > dimension
  CHECK_THROWS_AS(optim::top_eigenvalues(hvp, like, gen, {.k = 3, .steps = 2}), ValueError);  // > steps
  CHECK(test::message_of<ValueError>([&] {
          optim::top_eigenvalues(hvp, like, gen, {.k = 5});
        }).find("k must be") != std::string::npos);
  CHECK_THROWS_AS(optim::power_iteration(hvp, like, gen, {.k = 0}), ValueError);
  CHECK_THROWS_AS(optim::power_iteration(hvp, like, gen, {.k = 5}), ValueError);
  CHECK_THROWS_AS(optim::power_iteration(hvp, like, gen, {.max_iterations = 0}), ValueError);
  CHECK(optim::power_iteration(hvp, like, gen, {.k = 4, .max_iterations = 2000, .tolerance = 1e-15})
            .back()
            .value == Approx(1.0).epsilon(1e-9));  // k = dimension is allowed
  CHECK_THROWS_AS(optim::hutchinson_trace(hvp, like, gen, {.samples = 1}), ValueError);
  CHECK_THROWS_AS(optim::hutchpp_trace(hvp, like, gen, {.samples = 2}), ValueError);
  CHECK_THROWS_AS(optim::top_eigenvalues(hvp, like, gen, {.start = {Tensor::zeros(Shape{2, 2})}}),
                  ValueError);
  CHECK_THROWS_AS(optim::top_eigenvalues(hvp, like, gen, {.start = {Tensor::zeros(Shape{4})}}), ShapeError);
}
