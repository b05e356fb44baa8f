#include <algorithm>
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
const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

struct RedCase {
  std::string name;
  std::function<Tensor(const Tensor&)> all;
  std::function<Tensor(const Tensor&, int, bool)> axis;
  double init;
  std::function<double(double, double)> fold;
  std::function<double(double, std::size_t)> finish;  // applied to the folded value and the count
  double lo, hi;
};

double id(double v, std::size_t) { return v; }

std::vector<RedCase> red_cases() {
  auto add = [](double a, double b) { return a + b; };
  return {
      {"sum", [](const Tensor& x) { return sum(x); },
       [](const Tensor& x, int a, bool k) { return sum(x, a, k); }, 0.0, add, id, -1, 1},
      {"mean", [](const Tensor& x) { return mean(x); },
       [](const Tensor& x, int a, bool k) { return mean(x, a, k); }, 0.0, add,
       [](double v, std::size_t n) { return v / static_cast<double>(n); }, -1, 1},
      {"max", [](const Tensor& x) { return max(x); },
       [](const Tensor& x, int a, bool k) { return max(x, a, k); }, -kInf,
       [](double a, double b) { return std::max(a, b); }, id, -5, 5},
      {"min", [](const Tensor& x) { return min(x); },
       [](const Tensor& x, int a, bool k) { return min(x, a, k); }, kInf,
       [](double a, double b) { return std::min(a, b); }, id, -5, 5},
      {"prod", [](const Tensor& x) { return prod(x); },
       [](const Tensor& x, int a, bool k) { return prod(x, a, k); }, 1.0,
       [](double a, double b) { return a * b; }, id, 0.9, 1.1},
      {"logsumexp", [](const Tensor& x) { return logsumexp(x); },
       [](const Tensor& x, int a, bool k) { return logsumexp(x, a, k); }, 0.0,
       [](double a, double b) { return a + std::exp(b); }, [](double v, std::size_t) { return std::log(v); },
       -3, 3},
  };
}

// Tolerance for a reduction of n values: float sums are reordered, so allow n-proportional rounding.
ref::Tol red_tol(DType dt, std::size_t n) {
  const double scale = std::max(1.0, std::sqrt(static_cast<double>(n)));
  return ref::tol_for(dt, 2 * scale);
}

Tensor finish_all(const Tensor& folded, std::size_t n, const std::function<double(double, std::size_t)>& f) {
  return ref::unary(folded, [&](double v) { return f(v, n); });
}

}  // namespace

TEST_CASE("reductions over all elements match the reference", "[reductions]") {
  for (const auto& c : red_cases()) {
    for (DType dt : kDTypes) {
      for (const Shape& s :
           {Shape{}, Shape{1}, Shape{7}, Shape{33}, Shape{1000}, Shape{100003}, Shape{3, 17, 5}}) {
        INFO(c.name << " " << ref::name(dt) << " " << s.str());
        const Tensor x = ref::random(s, dt, c.lo, c.hi, 21);
        const Tensor r = c.all(x);
        CHECK(r.rank() == 0);
        CHECK(r.dtype() == dt);
        const double expected = c.finish(ref::reduce_all(x, c.init, c.fold), x.numel());
        ref::require_close(r, Tensor(expected), red_tol(dt, x.numel()));
      }
    }
  }
}

TEST_CASE("reductions along every axis of a rank-3 tensor, with and without keepdims", "[reductions]") {
  for (const auto& c : red_cases()) {
    for (DType dt : kDTypes) {
      for (const Shape& s : {Shape{3, 5, 7}, Shape{2, 17, 33}, Shape{4, 1, 40}}) {
        const Tensor x = ref::random(s, dt, c.lo, c.hi, 22);
        for (int axis = -3; axis < 3; ++axis) {
          for (bool keep : {false, true}) {
            INFO(c.name << " " << ref::name(dt) << " " << s.str() << " axis " << axis << " keepdims "
                        << keep);
            const Tensor r = c.axis(x, axis, keep);
            const std::size_t n = s[axis < 0 ? axis + 3 : axis];
            const Tensor expected = finish_all(ref::reduce(x, axis, keep, c.init, c.fold), n, c.finish);
            CHECK(r.shape() == reduced_shape(s, axis, keep));
            ref::require_close(r, expected, red_tol(dt, n));
          }
        }
      }
    }
  }
}

TEST_CASE("reductions of empty tensors and axes", "[reductions]") {
  for (DType dt : kDTypes) {
    const Tensor e(dt, Shape{0});
    CHECK(sum(e).item() == 0.0);
    CHECK(prod(e).item() == 1.0);
    CHECK(std::isnan(mean(e).item()));
    CHECK(logsumexp(e).item() == -kInf);
    CHECK_THROWS_AS(max(e), ValueError);
    CHECK_THROWS_AS(min(e), ValueError);
    CHECK_THROWS_AS(argmax(e), ValueError);
    CHECK_THROWS_WITH(max(e), Contains("max") && Contains("empty") && Contains("(0,)"));

    const Tensor z(dt, Shape{2, 0, 3});
    const Tensor s = sum(z, 1);
    CHECK(s.shape() == Shape{2, 3});
    for (std::size_t i = 0; i < s.numel(); ++i) CHECK(s.at(i) == 0.0);
    const Tensor p = prod(z, 1, true);
    CHECK(p.shape() == Shape{2, 1, 3});
    for (std::size_t i = 0; i < p.numel(); ++i) CHECK(p.at(i) == 1.0);
    CHECK_THROWS_AS(max(z, 1), ValueError);
    CHECK_THROWS_WITH(min(z, 1),
                      Contains("min") && Contains("axis 1") && Contains("(2, 0, 3)") && Contains("empty"));
    CHECK_THROWS_AS(argmax(z, -2), ValueError);
    // Reducing a non-empty axis of an empty tensor is fine and empty.
    CHECK(max(z, 0).shape() == Shape{0, 3});
    CHECK(sum(z, 2).shape() == Shape{2, 0});
  }
}

TEST_CASE("reduction axis errors", "[reductions]") {
  const Tensor x(DType::f32, Shape{2, 3});
  CHECK_THROWS_AS(sum(x, 2), ShapeError);
  CHECK_THROWS_AS(max(x, -3), ShapeError);
  CHECK_THROWS_WITH(mean(x, 5), Contains("axis 5") && Contains("rank 2"));
  CHECK_THROWS_AS(softmax(x, 2), ShapeError);
  CHECK_THROWS_AS(sum(Tensor(1.0), 0), ShapeError);
}

TEST_CASE("max, min and argmax with NaN and ties", "[reductions]") {
  for (DType dt : kDTypes) {
    const Tensor t = Tensor::from(Shape{6}, {1, 5, 2, 5, -1, 5}, dt);
    CHECK(argmax(t).item() == 1.0);
    CHECK(argmax(t).dtype() == DType::f64);
    Tensor big = ref::random(Shape{1000}, dt, -1, 1, 3);
    big.set(977, 7.0);
    CHECK(max(big).item() == 7.0);
    CHECK(argmax(big).item() == 977.0);
    big.set(500, kNaN);
    CHECK(std::isnan(max(big).item()));
    CHECK(std::isnan(min(big).item()));
    CHECK(argmax(big).item() == 500.0);
    const Tensor withnan = Tensor::from(Shape{2, 3}, {1, kNaN, 3, 4, 5, 6}, dt);
    CHECK(std::isnan(max(withnan, 1).at(0)));
    CHECK(max(withnan, 1).at(1) == 6.0);
    CHECK(std::isnan(min(withnan, 0).at(1)));
    CHECK(argmax(withnan, 1).at(0) == 1.0);
    const Tensor allneg = Tensor::full(Shape{5}, -kInf, dt);
    CHECK(max(allneg).item() == -kInf);
    CHECK(argmax(allneg).item() == 0.0);
  }
}

TEST_CASE("argmax along every axis", "[reductions]") {
  for (DType dt : kDTypes) {
    const Shape s{3, 5, 7};
    Tensor x = ref::random(s, dt, -3, 3, 31);
    for (std::size_t i = 0; i < x.numel(); ++i) x.set(i, std::round(x.at(i)));  // ties: the first wins
    for (int axis = 0; axis < 3; ++axis) {
      for (bool keep : {false, true}) {
        INFO(ref::name(dt) << " axis " << axis << " keepdims " << keep);
        const Tensor r = argmax(x, axis, keep);
        CHECK(r.dtype() == DType::f64);
        CHECK(r.shape() == reduced_shape(s, axis, keep));
        // Reference: scan with explicit index arithmetic.
        const auto d = s.to_vector();
        std::vector<std::size_t> od;
        for (std::size_t i = 0; i < 3; ++i)
          if (static_cast<int>(i) != axis) od.push_back(d[i]);
        for (std::size_t o = 0; o < ref::numel(od); ++o) {
          auto idx = ref::unravel(o, od);
          idx.insert(idx.begin() + axis, 0);
          std::size_t best = 0;
          double bv = -kInf;
          for (std::size_t j = 0; j < d[static_cast<std::size_t>(axis)]; ++j) {
            idx[static_cast<std::size_t>(axis)] = j;
            const double v = x.at(ref::ravel(idx, d));
            if (v > bv) {
              bv = v;
              best = j;
            }
          }
          CHECK(r.at(o) == static_cast<double>(best));
        }
      }
    }
  }
}

TEST_CASE("logsumexp is max-shifted", "[reductions]") {
  for (DType dt : kDTypes) {
    const Tensor x = Tensor::from(Shape{2, 3}, {1000, 1000, 1000, -1000, -1001, -1002}, dt);
    const Tensor r = logsumexp(x, 1);
    CHECK(r.at(0) == Approx(1000 + std::log(3.0)).epsilon(1e-6));
    CHECK(r.at(1) == Approx(-1000 + std::log(1 + std::exp(-1.0) + std::exp(-2.0))).epsilon(1e-6));
    CHECK(logsumexp(x).item() == Approx(1000 + std::log(3.0)).epsilon(1e-6));
    CHECK(logsumexp(Tensor::full(Shape{4}, -kInf, dt)).item() == -kInf);
    CHECK(logsumexp(Tensor::from(Shape{2}, {kInf, 1}, dt)).item() == kInf);
    CHECK(logsumexp(x, 0, true).shape() == Shape{1, 3});
  }
}

TEST_CASE("softmax and log_softmax along every axis", "[reductions]") {
  for (DType dt : kDTypes) {
    for (const Shape& s : {Shape{3, 5, 7}, Shape{2, 33}, Shape{1000}}) {
      const Tensor x = ref::random(s, dt, -10, 10, 41);
      for (int axis = -s.rank(); axis < s.rank(); ++axis) {
        INFO(ref::name(dt) << " " << s.str() << " axis " << axis);
        // Reference: exp(x) / sum(exp(x)) along the axis, in double, with explicit indices.
        const Tensor lse =
            ref::unary(ref::reduce(x, axis, true, 0.0, [](double a, double b) { return a + std::exp(b); }),
                       [](double v) { return std::log(v); });
        const Tensor expected_log = ref::binary(x, lse, [](double a, double l) { return a - l; });
        const Tensor expected = ref::unary(expected_log, [](double v) { return std::exp(v); });
        const Tensor sm = softmax(x, axis);
        const Tensor lsm = log_softmax(x, axis);
        CHECK(sm.dtype() == dt);
        ref::require_close(sm, expected, ref::tol_for(dt, 5));
        ref::require_close(lsm, expected_log, ref::tol_for(dt, 5));
      }
    }
    // Large logits do not overflow.
    const Tensor big = Tensor::from(Shape{1, 3}, {1000, 999, -1000}, dt);
    const Tensor sm = softmax(big);
    CHECK(sm.at(0) == Approx(1 / (1 + std::exp(-1.0))).epsilon(1e-6));
    CHECK(sm.at(2) == 0.0);
    CHECK(log_softmax(big).at(2) == Approx(-2000 - std::log1p(std::exp(-1.0))).epsilon(1e-6));
    CHECK(softmax(Tensor(dt, Shape{0, 3}), 1).shape() == Shape{0, 3});
  }
}

TEST_CASE("dot_f64 pairs elements in order whatever the shapes, and names a count mismatch", "[reductions]") {
  const Tensor a = Tensor::from(Shape{2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor b = Tensor::from(Shape{6}, {6, 5, 4, 3, 2, 1}).to(DType::f32);
  CHECK(dot_f64(a, b) == 56.0);
  CHECK(dot_f64(a, a) == 91.0);
  CHECK_THROWS_WITH(dot_f64(a, Tensor::zeros(Shape{5}, DType::f64)),
                    Catch::Contains("6 and 5 elements") && Catch::Contains("(2, 3)"));
}
