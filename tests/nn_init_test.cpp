// nn initializers (nn/init): fans and gains, variance of each random initializer against the
// theory on a large layer, orthogonality, ZerO against Algorithm 1 of the paper on small cases,
// and bit-for-bit reproducibility from one seed.
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include <catch2/catch.hpp>

#include "nn/embedding.hpp"
#include "nn/init.hpp"
#include "nn/linear.hpp"

using namespace jetgrad;

namespace {

struct Moments {
  double mean = 0.0, var = 0.0, max_abs = 0.0;
};
Moments moments(const Tensor& t) {
  Moments m;
  const double n = static_cast<double>(t.numel());
  for (std::size_t i = 0; i < t.numel(); ++i) m.mean += t.at(i);
  m.mean /= n;
  for (std::size_t i = 0; i < t.numel(); ++i) {
    m.var += (t.at(i) - m.mean) * (t.at(i) - m.mean);
    m.max_abs = std::max(m.max_abs, std::abs(t.at(i)));
  }
  m.var /= n;
  return m;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

// Sylvester's Hadamard matrix built by its recursion H_m = [[H, H], [H, -H]] (independent of the
// popcount formula the implementation uses).
std::vector<std::vector<double>> hadamard(std::size_t n) {
  std::vector<std::vector<double>> h = {{1.0}};
  while (h.size() < n) {
    const std::size_t k = h.size();
    std::vector<std::vector<double>> g(2 * k, std::vector<double>(2 * k));
    for (std::size_t i = 0; i < k; ++i)
      for (std::size_t j = 0; j < k; ++j) {
        g[i][j] = g[i][j + k] = g[i + k][j] = h[i][j];
        g[i + k][j + k] = -h[i][j];
      }
    h = std::move(g);
  }
  return h;
}

}  // namespace

TEST_CASE("init: fans and gains follow PyTorch", "[nn][init]") {
  CHECK(nn::fans(Shape{10, 20}) == std::pair<std::size_t, std::size_t>{20, 10});
  CHECK(nn::fans(Shape{8, 3, 5, 5}) == std::pair<std::size_t, std::size_t>{75, 200});
  CHECK_THROWS_AS(nn::fans(Shape{10}), ShapeError);
  CHECK(nn::calculate_gain(nn::Nonlinearity::relu) == Approx(std::sqrt(2.0)));
  CHECK(nn::calculate_gain(nn::Nonlinearity::tanh) == Approx(5.0 / 3.0));
  CHECK(nn::calculate_gain(nn::Nonlinearity::sigmoid) == 1.0);
  CHECK(nn::calculate_gain(nn::Nonlinearity::leaky_relu, 0.2) == Approx(std::sqrt(2.0 / 1.04)));
}

TEST_CASE("init: variance of each random initializer matches the theory on a large layer", "[nn][init]") {
  Generator gen(2024);
  const Shape s{1000, 400};  // 400k samples: the relative sd of a variance estimate is ≈ 0.2–0.3%
  const double fan_in = 400, fan_out = 1000, tol = 0.02;
  struct Case {
    const char* name;
    Tensor w;
    double var;
    double bound;  // 0 for normal
  };
  const double g = 1.7;
  const std::vector<Case> cases = {
      {"xavier_uniform", nn::xavier_uniform(s, gen, g), g * g * 2.0 / (fan_in + fan_out),
       g * std::sqrt(6.0 / (fan_in + fan_out))},
      {"xavier_normal", nn::xavier_normal(s, gen, g), g * g * 2.0 / (fan_in + fan_out), 0.0},
      {"kaiming_uniform", nn::kaiming_uniform(s, gen), 2.0 / fan_in, std::sqrt(6.0 / fan_in)},
      {"kaiming_normal", nn::kaiming_normal(s, gen), 2.0 / fan_in, 0.0},
      {"kaiming_normal fan_out", nn::kaiming_normal(s, gen, 1.0, nn::FanMode::fan_out), 1.0 / fan_out, 0.0},
      {"kaiming_uniform fan_out", nn::kaiming_uniform(s, gen, 1.0, nn::FanMode::fan_out), 1.0 / fan_out,
       std::sqrt(3.0 / fan_out)},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    CHECK(c.w.dtype() == DType::f32);
    CHECK(c.w.shape() == s);
    const Moments m = moments(c.w);
    CHECK(m.var == Approx(c.var).epsilon(tol));
    CHECK(std::abs(m.mean) < 5.0 * std::sqrt(c.var / 4e5));
    if (c.bound > 0) {
      CHECK(m.max_abs <= c.bound * (1 + 1e-6));
      CHECK(m.max_abs > 0.99 * c.bound);
    }
  }
  // Linear's default (PyTorch): U(±1/√in) for weight and bias, variance 1/(3 in)
  nn::Linear fc(400, 1000, gen);
  CHECK(moments(fc.weight().value).var == Approx(1.0 / (3.0 * fan_in)).epsilon(tol));
  // Embedding's default: N(0, 1)
  nn::Embedding emb(1000, 200, gen);
  CHECK(moments(emb.weight().value).var == Approx(1.0).epsilon(tol));
}

TEST_CASE("init: orthogonal gives QᵀQ = I (or QQᵀ = I), scaled by the gain", "[nn][init]") {
  Generator gen(3);
  for (const Shape& s : {Shape{64, 64}, Shape{30, 50}, Shape{50, 30}, Shape{8, 3, 3, 3}, Shape{1, 5}}) {
    INFO(s.str());
    const double gain = 2.5;
    const Tensor q = nn::orthogonal(s, gen, gain, DType::f64);
    REQUIRE(q.shape() == s);
    const std::size_t rows = s[0], cols = s.numel() / rows;
    const Tensor m = reshape(q, Shape{rows, cols}) / gain;
    // orthonormal along the shorter side
    const Tensor gram = rows <= cols ? matmul(m, transpose(m)) : matmul(transpose(m), m);
    const std::size_t k = std::min(rows, cols);
    double err = 0.0;
    for (std::size_t i = 0; i < k; ++i)
      for (std::size_t j = 0; j < k; ++j)
        err = std::max(err, std::abs(gram.at(i * k + j) - (i == j ? 1.0 : 0.0)));
    CHECK(err < 1e-12);
  }
  CHECK(nn::orthogonal(Shape{16, 16}, gen).dtype() == DType::f32);
  CHECK_THROWS_AS(nn::orthogonal(Shape{4}, gen), ShapeError);
}

TEST_CASE("init: ZerO follows Algorithm 1 of the paper on small cases, deterministically",
          "[nn][init][zero]") {
  SECTION("square: the identity") {
    const Tensor w = nn::zero_init(Shape{3, 3}, DType::f64);
    for (std::size_t i = 0; i < 3; ++i)
      for (std::size_t j = 0; j < 3; ++j) CHECK(w.at(i * 3 + j) == (i == j ? 1.0 : 0.0));
  }
  SECTION("contracting (out < in): the partial identity, the first out inputs pass") {
    const Tensor w = nn::zero_init(Shape{2, 4}, DType::f64);
    const std::vector<double> expected = {1, 0, 0, 0, 0, 1, 0, 0};
    for (std::size_t i = 0; i < 8; ++i) CHECK(w.at(i) == expected[i]);
  }
  SECTION("expanding (out > in): c · I* H_m I*, m = ⌈log2 out⌉, c = 2^-(m-1)/2") {
    // (4, 2): m = 2, c = 2^-1/2; H_2 columns 0..1
    const Tensor w42 = nn::zero_init(Shape{4, 2}, DType::f64);
    const double c2 = 1.0 / std::sqrt(2.0);
    const std::vector<double> e42 = {c2, c2, c2, -c2, c2, c2, c2, -c2};
    for (std::size_t i = 0; i < 8; ++i) CHECK(w42.at(i) == Approx(e42[i]).epsilon(1e-15));
    // (5, 3) and (12, 7): non-powers of two are cut from the next Hadamard matrix
    for (const auto& [P, Q] :
         std::vector<std::pair<std::size_t, std::size_t>>{{5, 3}, {12, 7}, {2, 1}, {16, 5}}) {
      INFO(P << " x " << Q);
      const std::size_t m = static_cast<std::size_t>(std::ceil(std::log2(static_cast<double>(P))));
      const double c = std::pow(2.0, -(static_cast<double>(m) - 1.0) / 2.0);
      const auto H = hadamard(std::size_t{1} << m);
      const Tensor w = nn::zero_init(Shape{P, Q}, DType::f64);
      for (std::size_t i = 0; i < P; ++i)
        for (std::size_t j = 0; j < Q; ++j) CHECK(w.at(i * Q + j) == Approx(c * H[i][j]).epsilon(1e-15));
    }
  }
  SECTION("the orthonormal scale of the authors' notebook: WᵀW = I when out is a power of two") {
    const Tensor w = nn::zero_init(Shape{8, 3}, DType::f64, nn::ZerOScale::orthonormal);
    const Tensor gram = matmul(transpose(w), w);
    for (std::size_t i = 0; i < 3; ++i)
      for (std::size_t j = 0; j < 3; ++j)
        CHECK(gram.at(i * 3 + j) == Approx(i == j ? 1.0 : 0.0).margin(1e-15));
    // the paper's scale is √2 larger
    CHECK(nn::zero_init(Shape{8, 3}, DType::f64).at(0) == Approx(std::sqrt(2.0) * w.at(0)));
  }
  SECTION("convolution kernels (Algorithm 2): the matrix at the centre tap") {
    const Tensor k = nn::zero_init(Shape{4, 2, 3, 3}, DType::f64);
    const Tensor m = nn::zero_init(Shape{4, 2}, DType::f64);
    for (std::size_t o = 0; o < 4; ++o)
      for (std::size_t i = 0; i < 2; ++i)
        for (std::size_t t = 0; t < 9; ++t)
          CHECK(k.at((o * 2 + i) * 9 + t) == (t == 4 ? m.at(o * 2 + i) : 0.0));
    CHECK_THROWS_AS(nn::zero_init(Shape{4, 2, 2, 2}), ShapeError);
  }
  SECTION("deterministic: no generator, identical bits every time") {
    CHECK(same_bits(nn::zero_init(Shape{37, 11}), nn::zero_init(Shape{37, 11})));
    CHECK(nn::zero_init(Shape{37, 11}).dtype() == DType::f32);
  }
}

TEST_CASE("init: the same seed gives the same weights bit for bit, another seed others",
          "[nn][init][reproducible]") {
  auto build = [](std::uint64_t seed) {
    Generator gen(seed);
    nn::Sequential net;
    net.push_back(std::make_shared<nn::Linear>(13, 32, gen));
    net.push_back(std::make_shared<nn::Linear>(32, 7, gen));
    std::vector<Tensor> w;
    for (auto* p : net.parameters()) w.push_back(p->value);
    w.push_back(nn::orthogonal(Shape{9, 5}, gen));
    w.push_back(nn::xavier_normal(Shape{9, 5}, gen));
    return w;
  };
  const auto a = build(42), b = build(42), c = build(43);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(same_bits(a[i], b[i]));
    CHECK_FALSE(same_bits(a[i], c[i]));
  }
}
