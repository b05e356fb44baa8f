#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "autodiff/tensor_ops.hpp"
#include "support/reference.hpp"

using namespace jetgrad;
using Catch::Contains;

namespace {

const DType kDTypes[] = {DType::f32, DType::f64};

struct UnaryCase {
  std::string name;
  std::function<Tensor(const Tensor&)> op;
  std::function<double(double)> ref;
  double lo, hi;
  double tol_scale = 1.0;
};

std::vector<UnaryCase> unary_cases() {
  return {
      {"neg", [](const Tensor& x) { return -x; }, [](double v) { return -v; }, -5, 5},
      {"exp", [](const Tensor& x) { return exp(x); }, [](double v) { return std::exp(v); }, -20, 20},
      {"log", [](const Tensor& x) { return log(x); }, [](double v) { return std::log(v); }, 1e-3, 100},
      {"sin", [](const Tensor& x) { return sin(x); }, [](double v) { return std::sin(v); }, -10, 10},
      {"cos", [](const Tensor& x) { return cos(x); }, [](double v) { return std::cos(v); }, -10, 10},
      {"tan", [](const Tensor& x) { return tan(x); }, [](double v) { return std::tan(v); }, -1.4, 1.4},
      {"tanh", [](const Tensor& x) { return tanh(x); }, [](double v) { return std::tanh(v); }, -10, 10},
      {"sinh", [](const Tensor& x) { return sinh(x); }, [](double v) { return std::sinh(v); }, -10, 10},
      {"cosh", [](const Tensor& x) { return cosh(x); }, [](double v) { return std::cosh(v); }, -10, 10},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }, [](double v) { return std::sqrt(v); }, 0, 100},
      {"abs", [](const Tensor& x) { return abs(x); }, [](double v) { return std::fabs(v); }, -5, 5},
      {"sign", [](const Tensor& x) { return sign(x); }, [](double v) { return double((v > 0) - (v < 0)); },
       -5, 5},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, [](double v) { return 1 / (1 + std::exp(-v)); },
       -30, 30},
      {"relu", [](const Tensor& x) { return relu(x); }, [](double v) { return v > 0 ? v : 0.0; }, -5, 5},
      {"softplus", [](const Tensor& x) { return softplus(x); },
       [](double v) { return std::log1p(std::exp(v)); }, -30, 30},
      {"erf", [](const Tensor& x) { return erf(x); }, [](double v) { return std::erf(v); }, -4, 4},
      {"square", [](const Tensor& x) { return square(x); }, [](double v) { return v * v; }, -5, 5},
      {"reciprocal", [](const Tensor& x) { return reciprocal(x); }, [](double v) { return 1 / v; }, 0.1, 10},
  };
}

Shape vec(std::size_t n) { return Shape{n}; }

}  // namespace

TEST_CASE("unary ops match the scalar reference", "[elementwise]") {
  const std::vector<Shape> shapes = {Shape{},   vec(1),       vec(7),   vec(33),
                                     vec(1000), Shape{3, 11}, Shape{0}, Shape{2, 0, 3}};
  for (const auto& c : unary_cases()) {
    for (DType dt : kDTypes) {
      for (const Shape& s : shapes) {
        INFO(c.name << " " << ref::name(dt) << " " << s.str());
        const Tensor x = ref::random(s, dt, c.lo, c.hi, 7);
        const Tensor y = c.op(x);
        CHECK(y.dtype() == dt);
        ref::require_close(y, ref::unary(x, c.ref), ref::tol_for(dt, c.tol_scale));
      }
    }
  }
}

TEST_CASE("unary ops on special values", "[elementwise]") {
  for (DType dt : kDTypes) {
    INFO(ref::name(dt));
    const Tensor big = Tensor::from(Shape{6}, {-1000, -100, -20, 20, 100, 1000}, dt);
    const Tensor sp = softplus(big);
    for (std::size_t i = 0; i < 6; ++i) CHECK(std::isfinite(sp.at(i)));
    CHECK(sp.at(5) == 1000.0);
    CHECK(sp.at(4) == 100.0);
    CHECK(sp.at(0) == 0.0);
    CHECK(sp.at(2) == Approx(std::log1p(std::exp(-20.0))).epsilon(1e-5));
    const Tensor sg = sigmoid(big);
    for (std::size_t i = 0; i < 6; ++i) CHECK_FALSE(std::isnan(sg.at(i)));
    CHECK(sg.at(5) == 1.0);
    CHECK(sg.at(0) == 0.0);
    CHECK(sg.at(2) == Approx(1 / (1 + std::exp(20.0))).epsilon(1e-5));
    if (dt == DType::f64) CHECK(sg.at(1) == Approx(std::exp(-100.0)).epsilon(1e-12));

    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    const Tensor special = Tensor::from(Shape{5}, {0.0, -0.0, nan, inf, -inf}, dt);
    const Tensor sgn = sign(special);
    CHECK(sgn.at(0) == 0.0);
    CHECK(sgn.at(1) == 0.0);
    CHECK(std::isnan(sgn.at(2)));
    CHECK(sgn.at(3) == 1.0);
    CHECK(sgn.at(4) == -1.0);
    CHECK(std::isnan(relu(special).at(2)));
    CHECK(relu(special).at(4) == 0.0);
    CHECK(std::isnan(sigmoid(special).at(2)));
    CHECK(sigmoid(special).at(3) == 1.0);
    CHECK(sigmoid(special).at(4) == 0.0);
    CHECK(softplus(special).at(3) == inf);
    CHECK(softplus(special).at(4) == 0.0);
    CHECK(exp(special).at(4) == 0.0);
    CHECK(log(special).at(0) == -inf);
    CHECK(std::isnan(sqrt(Tensor(-1.0, dt)).item()));
  }
}

TEST_CASE("pow with a scalar exponent", "[elementwise]") {
  for (DType dt : kDTypes) {
    for (double p : {0.0, 1.0, 2.0, 3.0, -1.0, 0.5, 1.7, -2.5, 4.0}) {
      for (std::size_t n : {1u, 7u, 33u, 1000u}) {
        INFO(ref::name(dt) << " p=" << p << " n=" << n);
        const Tensor x = ref::random(vec(n), dt, 0.1, 3.0, 3);
        ref::require_close(pow(x, p), ref::unary(x, [p](double v) { return std::pow(v, p); }),
                           ref::tol_for(dt, 2));
      }
    }
    // Integer exponents of negative bases.
    const Tensor neg = Tensor::from(Shape{4}, {-2, -1.5, -1, -0.5}, dt);
    for (double p : {2.0, 3.0, 4.0, -1.0, -3.0, 5.0}) {
      INFO(ref::name(dt) << " negative base, p=" << p);
      ref::require_close(pow(neg, p), ref::unary(neg, [p](double v) { return std::pow(v, p); }),
                         ref::tol_for(dt, 2));
    }
    CHECK(pow(Tensor(0.0, dt), 0.0).item() == 1.0);
    CHECK(std::isnan(pow(Tensor(-2.0, dt), 0.5).item()));
  }
}

namespace {
struct BinaryCase {
  std::string name;
  std::function<Tensor(const Tensor&, const Tensor&)> op;
  std::function<double(double, double)> ref;
  double lo, hi;  // operand range (both)
};

std::vector<BinaryCase> binary_cases() {
  return {
      {"add", [](const Tensor& a, const Tensor& b) { return a + b; },
       [](double x, double y) { return x + y; }, -5, 5},
      {"sub", [](const Tensor& a, const Tensor& b) { return a - b; },
       [](double x, double y) { return x - y; }, -5, 5},
      {"mul", [](const Tensor& a, const Tensor& b) { return a * b; },
       [](double x, double y) { return x * y; }, -5, 5},
      {"div", [](const Tensor& a, const Tensor& b) { return a / b; },
       [](double x, double y) { return x / y; }, 0.5, 5},
      {"pow", [](const Tensor& a, const Tensor& b) { return pow(a, b); },
       [](double x, double y) { return std::pow(x, y); }, 0.2, 3},
      {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); },
       [](double x, double y) { return x > y ? x : y; }, -5, 5},
      {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); },
       [](double x, double y) { return x < y ? x : y; }, -5, 5},
      {"less", [](const Tensor& a, const Tensor& b) { return less(a, b); },
       [](double x, double y) { return double(x < y); }, -2, 2},
      {"less_equal", [](const Tensor& a, const Tensor& b) { return less_equal(a, b); },
       [](double x, double y) { return double(x <= y); }, -2, 2},
      {"greater", [](const Tensor& a, const Tensor& b) { return greater(a, b); },
       [](double x, double y) { return double(x > y); }, -2, 2},
      {"greater_equal", [](const Tensor& a, const Tensor& b) { return greater_equal(a, b); },
       [](double x, double y) { return double(x >= y); }, -2, 2},
      {"equal", [](const Tensor& a, const Tensor& b) { return equal(a, b); },
       [](double x, double y) { return double(x == y); }, -2, 2},
      {"not_equal", [](const Tensor& a, const Tensor& b) { return not_equal(a, b); },
       [](double x, double y) { return double(x != y); }, -2, 2},
  };
}

// Values on a coarse grid so that comparisons see ties.
Tensor grid_random(const Shape& s, DType dt, double lo, double hi, unsigned seed, bool coarse) {
  Tensor t = ref::random(s, dt, lo, hi, seed);
  if (coarse)
    for (std::size_t i = 0; i < t.numel(); ++i) t.set(i, std::round(t.at(i)));
  return t;
}

const std::vector<std::pair<Shape, Shape>>& shape_pairs() {
  static const std::vector<std::pair<Shape, Shape>> p = {
      {Shape{}, Shape{}},
      {vec(1), vec(1)},
      {vec(7), vec(7)},
      {vec(33), vec(33)},
      {vec(1000), vec(1000)},
      {Shape{3, 1}, Shape{1, 4}},
      {vec(5), Shape{2, 5}},
      {Shape{2, 5}, vec(5)},
      {Shape{}, Shape{2, 3}},
      {Shape{2, 3}, Shape{}},
      {vec(1), vec(33)},
      {vec(33), vec(1)},
      {Shape{4, 1, 3}, Shape{5, 1}},
      {Shape{37, 33}, vec(33)},
      {Shape{33, 1}, Shape{33, 19}},
      {Shape{2, 0}, Shape{1, 1}},
      {Shape{0}, Shape{}},
      {Shape{2, 3, 17}, Shape{2, 1, 17}},
      {Shape{1, 3, 1}, Shape{2, 1, 5}},
      {Shape{6, 1, 40}, Shape{6, 3, 40}},
  };
  return p;
}
}  // namespace

TEST_CASE("binary ops match the broadcasting reference", "[elementwise]") {
  for (const auto& c : binary_cases()) {
    const bool coarse = c.name.find("equal") != std::string::npos || c.name == "less" ||
                        c.name == "greater" || c.name == "maximum" || c.name == "minimum";
    for (DType dt : kDTypes) {
      for (const auto& [sa, sb] : shape_pairs()) {
        INFO(c.name << " " << ref::name(dt) << " " << sa.str() << " x " << sb.str());
        const Tensor a = grid_random(sa, dt, c.lo, c.hi, 11, coarse);
        const Tensor b = grid_random(sb, dt, c.lo, c.hi, 12, coarse);
        const Tensor y = c.op(a, b);
        CHECK(y.dtype() == dt);
        ref::require_close(y, ref::binary(a, b, c.ref), ref::tol_for(dt, 2));
      }
    }
  }
}

TEST_CASE("binary ops reject incompatible shapes and mixed dtypes", "[elementwise]") {
  const Tensor a(DType::f64, Shape{2, 3});
  const Tensor b(DType::f64, Shape{4});
  CHECK_THROWS_AS(a + b, ShapeError);
  CHECK_THROWS_WITH(a + b, "add: cannot broadcast shapes (2, 3) and (4,)");
  CHECK_THROWS_WITH(a * b, Contains("mul") && Contains("(2, 3)") && Contains("(4,)"));
  CHECK_THROWS_WITH(less(b, a), Contains("less") && Contains("(4,)") && Contains("(2, 3)"));
  CHECK_THROWS_AS(Tensor(DType::f64, Shape{0}) + Tensor(DType::f64, Shape{2}), ShapeError);
  const Tensor f(DType::f32, Shape{2, 3});
  CHECK_THROWS_AS(a + f, DTypeError);
  CHECK_THROWS_WITH(f + a, "add: dtype mismatch: float32 and float64");
  CHECK_THROWS_WITH(pow(a, f), Contains("float64") && Contains("float32"));
  CHECK_THROWS_WITH(where(a, a, f), Contains("where") && Contains("float32"));
}

TEST_CASE("binary ops propagate NaN", "[elementwise]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (DType dt : kDTypes) {
    const Tensor a = Tensor::from(Shape{3}, {nan, 1, nan}, dt);
    const Tensor b = Tensor::from(Shape{3}, {1, nan, nan}, dt);
    for (const Tensor& r : {maximum(a, b), minimum(a, b), a + b})
      for (std::size_t i = 0; i < 3; ++i) CHECK(std::isnan(r.at(i)));
    CHECK(pow(a, Tensor(0.0, dt)).at(0) == 1.0);
    CHECK(equal(a, a).at(0) == 0.0);
    CHECK(not_equal(a, a).at(0) == 1.0);
    const Tensor many = Tensor::full(Shape{40}, std::nan(""), dt);  // the SIMD path, not only the tail
    CHECK(not_equal(many, many).at(0) == 1.0);
    CHECK(equal(many, many).at(17) == 0.0);
    CHECK(less(many, many).at(17) == 0.0);
    CHECK(where(many, Tensor::ones(Shape{40}, dt), Tensor::zeros(Shape{40}, dt)).at(20) ==
          1.0);  // NaN is nonzero
  }
}

TEST_CASE("scalar overloads keep the tensor's dtype", "[elementwise]") {
  for (DType dt : kDTypes) {
    for (std::size_t n : {1u, 7u, 33u, 1000u}) {
      INFO(ref::name(dt) << " n=" << n);
      const Tensor x = ref::random(vec(n), dt, 0.5, 4, 5);
      const double s = 1.75;
      const auto tol = ref::tol_for(dt);
      ref::require_close(x + s, ref::unary(x, [&](double v) { return v + s; }), tol);
      ref::require_close(x - s, ref::unary(x, [&](double v) { return v - s; }), tol);
      ref::require_close(x * s, ref::unary(x, [&](double v) { return v * s; }), tol);
      ref::require_close(x / s, ref::unary(x, [&](double v) { return v / s; }), tol);
      ref::require_close(s + x, ref::unary(x, [&](double v) { return s + v; }), tol);
      ref::require_close(s - x, ref::unary(x, [&](double v) { return s - v; }), tol);
      ref::require_close(s * x, ref::unary(x, [&](double v) { return s * v; }), tol);
      ref::require_close(s / x, ref::unary(x, [&](double v) { return s / v; }), tol);
      CHECK((x + s).dtype() == dt);
      CHECK((s / x).dtype() == dt);
    }
  }
}

TEST_CASE("axpy and scale update in place", "[elementwise]") {
  for (DType dt : kDTypes) {
    for (const Shape& s : {Shape{}, Shape{5}, Shape{3, 70}}) {
      INFO(ref::name(dt) << " " << s.str());
      Tensor y = ref::random(s, dt, -2, 2, 4);
      const Tensor x = ref::random(s, dt, -2, 2, 5);
      const Tensor expected = ref::binary(y, x, [](double a, double b) { return a - 0.375 * b; });
      const void* buffer = y.raw_data();
      axpy(-0.375, x, y);
      CHECK(y.raw_data() == buffer);
      ref::require_close(y, expected, ref::tol_for(dt));
      scale(y, -2.5);
      ref::require_close(y, ref::unary(expected, [](double v) { return -2.5 * v; }), ref::tol_for(dt));
    }
  }
  SECTION("a shared buffer: y gets a fresh one, its other holder keeps the old values") {
    for (DType dt : kDTypes) {
      INFO(ref::name(dt));
      Tensor y = ref::random(Shape{3, 70}, dt, -2, 2, 4);
      const Tensor x = ref::random(Shape{3, 70}, dt, -2, 2, 5);
      const Tensor held = y;  // shares y's buffer (copy on write)
      const Tensor before = y.to(DType::f64);
      axpy(-0.375, x, y);
      CHECK(y.raw_data() != held.raw_data());
      CHECK_FALSE(y.shares_buffer());
      ref::require_close(y, ref::binary(before, x, [](double a, double b) { return a - 0.375 * b; }),
                         ref::tol_for(dt));
      ref::require_close(held, before, ref::Tol{0.0, 0.0});
    }
  }
  Tensor y(DType::f32, Shape{3});
  CHECK_THROWS_WITH(axpy(1.0, Tensor(DType::f32, Shape{4}), y), Contains("(4,)") && Contains("(3,)"));
  CHECK_THROWS_WITH(axpy(1.0, Tensor(DType::f64, Shape{3}), y), Contains("dtype mismatch"));
}

TEST_CASE("add_product accumulates alpha * a * b, fused or broadcast", "[elementwise]") {
  for (DType dt : kDTypes) {
    for (const auto& [sa, sb] :
         std::vector<std::pair<Shape, Shape>>{{Shape{37}, Shape{37}},           // fused
                                              {Shape{3, 70}, Shape{3, 70}},     // fused
                                              {Shape{1, 3, 70}, Shape{3, 70}},  // fused (leading 1)
                                              {Shape{37}, Shape{}},             // fused, b one element
                                              {Shape{3, 70}, Shape{1, 1}},      // fused, b one element
                                              {Shape{3, 4}, Shape{4}}}) {       // broadcast
      for (double alpha : {1.0, 2.0, -0.75}) {
        INFO(ref::name(dt) << " " << sa.str() << " += " << alpha << " * a * " << sb.str());
        Tensor acc = ref::random(sa, dt, -2, 2, 6);
        const Tensor a = ref::random(sa, dt, -2, 2, 7), b = ref::random(sb, dt, -2, 2, 8);
        const Tensor expected =
            ref::binary(acc, ref::binary(a, b, [alpha](double x, double y) { return alpha * x * y; }),
                        [](double x, double y) { return x + y; });
        const Tensor shared = acc;  // shares acc's buffer: the update must not reach it
        const Tensor before = acc.to(DType::f64);
        add_product(acc, a, b, alpha);
        CHECK(acc.shape() == sa);
        ref::require_close(acc, expected, ref::tol_for(dt, 4));
        ref::require_close(shared, before, ref::Tol{0, 0});
      }
    }
  }
}

TEST_CASE("mul_cotangents gives g * b and g * a, fused or broadcast", "[elementwise]") {
  for (DType dt : kDTypes) {
    for (const auto& [sa, sb] : std::vector<std::pair<Shape, Shape>>{{Shape{37}, Shape{37}},        // fused
                                                                     {Shape{3, 70}, Shape{3, 70}},  // fused
                                                                     {Shape{3, 4}, Shape{4}}}) {  // broadcast
      INFO(ref::name(dt) << " " << sa.str() << " * " << sb.str());
      const Tensor a = ref::random(sa, dt, -2, 2, 11), b = ref::random(sb, dt, -2, 2, 12);
      const Tensor g = ref::random(sa, dt, -2, 2, 13);  // the product's shape is a's here
      const auto [ga, gb] = mul_cotangents(g, a, b);
      const auto mul = [](double x, double y) { return x * y; };
      ref::require_close(ga, ref::binary(g, b, mul), ref::tol_for(dt));
      ref::require_close(gb, ref::binary(g, a, mul), ref::tol_for(dt));
      ref::require_close(ga, g * b, ref::Tol{0, 0});  // the same rounding as the separate products
      ref::require_close(gb, g * a, ref::Tol{0, 0});
    }
  }
}

TEST_CASE("mul_cotangents and scaled_product of a moved operand write over its buffer if it is theirs",
          "[elementwise]") {
  for (DType dt : kDTypes) {
    INFO(ref::name(dt));
    const Tensor a = ref::random(Shape{37}, dt, -2, 2, 21), b = ref::random(Shape{37}, dt, -2, 2, 22);
    const Tensor g0 = ref::random(Shape{37}, dt, -2, 2, 23);
    const auto [ga, gb] = mul_cotangents(g0, a, b);
    const Tensor sp = scaled_product(g0, a, -0.7);
    const auto own_copy = [&] {  // a buffer of its own holding g0's elements
      Tensor t;
      t.copy_from(g0);
      return t;
    };
    {  // g is the only holder of its buffer: g b lands in it
      Tensor g = own_copy();
      const void* buffer = g.raw_data();
      const auto [ra, rb] = mul_cotangents(std::move(g), a, b);
      CHECK(ra.raw_data() == buffer);
      ref::require_close(ra, ga, ref::Tol{0, 0});
      ref::require_close(rb, gb, ref::Tol{0, 0});
      Tensor h = own_copy();
      const void* h_buffer = h.raw_data();
      const Tensor r = scaled_product(std::move(h), a, -0.7);
      CHECK(r.raw_data() == h_buffer);
      ref::require_close(r, sp, ref::Tol{0, 0});
    }
    {  // shared: the other holder keeps its values
      Tensor g = g0;
      const auto [ra, rb] = mul_cotangents(std::move(g), a, b);
      ref::require_close(ra, ga, ref::Tol{0, 0});
      ref::require_close(rb, gb, ref::Tol{0, 0});
      Tensor h = g0;
      ref::require_close(scaled_product(std::move(h), a, -0.7), sp, ref::Tol{0, 0});
      ref::require_close(g0, ref::random(Shape{37}, dt, -2, 2, 23), ref::Tol{0, 0});
    }
    {  // shapes that broadcast: a new buffer, the same numbers
      const Tensor row = ref::random(Shape{3, 37}, dt, -2, 2, 24);
      Tensor g = own_copy();
      const auto [ra, rb] = mul_cotangents(std::move(g), row, a);
      ref::require_close(ra, g0 * a, ref::Tol{0, 0});
      ref::require_close(rb, g0 * row, ref::Tol{0, 0});
    }
  }
}

TEST_CASE("scaled_product gives alpha * a * b, fused or broadcast, with the rounding of a * b * alpha",
          "[elementwise]") {
  for (DType dt : kDTypes) {
    for (const auto& [sa, sb] : std::vector<std::pair<Shape, Shape>>{{Shape{37}, Shape{37}},        // fused
                                                                     {Shape{3, 70}, Shape{3, 70}},  // fused
                                                                     {Shape{}, Shape{}},            // fused
                                                                     {Shape{3, 4}, Shape{4}}}) {  // broadcast
      for (double alpha : {2.0, -0.3}) {
        INFO(ref::name(dt) << " " << alpha << " * " << sa.str() << " * " << sb.str());
        const Tensor a = ref::random(sa, dt, -2, 2, 9), b = ref::random(sb, dt, -2, 2, 10);
        const Tensor expected = ref::binary(a, b, [alpha](double x, double y) { return x * y * alpha; });
        const Tensor r = scaled_product(a, b, alpha);
        CHECK(r.dtype() == dt);
        ref::require_close(r, expected, ref::tol_for(dt, 4));
        const Tensor composed = a * b * alpha;
        REQUIRE(r.shape() == composed.shape());
        for (std::size_t i = 0; i < r.numel(); ++i) CHECK(r.at(i) == composed.at(i));
      }
    }
  }
}

TEST_CASE("operator+= broadcasts b into a", "[elementwise]") {
  for (DType dt : kDTypes) {
    for (const auto& [sa, sb] : std::vector<std::pair<Shape, Shape>>{{Shape{3, 4}, Shape{4}},
                                                                     {Shape{3, 4}, Shape{3, 1}},
                                                                     {Shape{33}, Shape{}},
                                                                     {Shape{1000}, Shape{1000}},
                                                                     {Shape{2, 3, 5}, Shape{3, 1}}}) {
      INFO(ref::name(dt) << " " << sa.str() << " += " << sb.str());
      Tensor a = ref::random(sa, dt, -2, 2, 1);
      const Tensor b = ref::random(sb, dt, -2, 2, 2);
      const Tensor expected = ref::binary(a, b, [](double x, double y) { return x + y; });
      Tensor& r = (a += b);
      CHECK(&r == &a);
      CHECK(a.shape() == sa);
      ref::require_close(a, expected, ref::tol_for(dt));
    }
    Tensor a = ref::random(Shape{7}, dt, -1, 1, 3);
    const Tensor twice = ref::unary(a, [](double v) { return 2 * v; });
    a += a;
    ref::require_close(a, twice, ref::tol_for(dt));
    Tensor small(dt, Shape{3});
    CHECK_THROWS_AS(small += Tensor(dt, Shape{2, 3}), ShapeError);
    CHECK_THROWS_WITH(small += Tensor(dt, Shape{2, 3}), Contains("(3,)") && Contains("(2, 3)"));
    CHECK_THROWS_AS(small += Tensor(dt == DType::f32 ? DType::f64 : DType::f32, Shape{3}), DTypeError);
  }
}

TEST_CASE("where broadcasts cond, a and b together", "[elementwise]") {
  for (DType dt : kDTypes) {
    struct C {
      Shape c, a, b;
    };
    for (const C& s :
         {C{Shape{3, 1}, Shape{1, 4}, Shape{}}, C{vec(33), vec(33), vec(33)}, C{vec(1000), vec(1000), vec(1)},
          C{Shape{2, 3}, Shape{3}, Shape{2, 1}}, C{Shape{}, vec(7), vec(7)}, C{Shape{0}, Shape{}, Shape{}}}) {
      INFO(ref::name(dt) << " " << s.c.str() << " " << s.a.str() << " " << s.b.str());
      Tensor cond = ref::random(s.c, dt, -1, 1, 4);
      for (std::size_t i = 0; i < cond.numel(); ++i) cond.set(i, cond.at(i) > 0 ? 2.0 : 0.0);
      const Tensor a = ref::random(s.a, dt, -5, 5, 5);
      const Tensor b = ref::random(s.b, dt, -5, 5, 6);
      const Tensor expected =
          ref::ternary(cond, a, b, [](double c, double x, double y) { return c != 0 ? x : y; });
      ref::require_close(where(cond, a, b), expected, ref::tol_for(dt));
      // cond of the other dtype is accepted.
      const Tensor cond2 = cond.to(dt == DType::f32 ? DType::f64 : DType::f32);
      ref::require_close(where(cond2, a, b), expected, ref::tol_for(dt));
    }
    CHECK_THROWS_AS(where(Tensor(dt, Shape{2}), Tensor(dt, Shape{3}), Tensor(dt, Shape{3})), ShapeError);
  }
}

TEST_CASE("clamp", "[elementwise]") {
  for (DType dt : kDTypes) {
    for (std::size_t n : {1u, 7u, 33u, 1000u}) {
      const Tensor x = ref::random(vec(n), dt, -3, 3, 9);
      ref::require_close(clamp(x, -1, 0.5),
                         ref::unary(x, [](double v) { return std::min(std::max(v, -1.0), 0.5); }),
                         ref::tol_for(dt));
    }
    CHECK(std::isnan(clamp(Tensor(std::nan(""), dt), 0, 1).item()));
    CHECK(clamp(Tensor(5.0, dt), 2, 2).item() == 2.0);
  }
  CHECK_THROWS_AS(clamp(Tensor(1.0), 2, 1), ValueError);
  CHECK_THROWS_WITH(clamp(Tensor(1.0), 2, 1), Contains("clamp") && Contains("2") && Contains("1"));
}
