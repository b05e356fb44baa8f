#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "autodiff/tensor_ops.hpp"
#include "support/reference.hpp"

using namespace jetgrad;
using Catch::Contains;

namespace {

const DType kDTypes[] = {DType::f32, DType::f64};

// Exact comparison: layout ops move elements, they never round.
void require_equal(const Tensor& a, const Tensor& b) { ref::require_close(a, b, ref::Tol{0, 0}); }

Tensor ref_transpose(const Tensor& x, const std::vector<int>& perm) {
  const auto d = x.shape().to_vector();
  std::vector<std::size_t> od;
  for (int p : perm) od.push_back(d[static_cast<std::size_t>(p)]);
  Tensor out(x.dtype(), Shape(od));
  for (std::size_t i = 0; i < out.numel(); ++i) {
    const auto oi = ref::unravel(i, od);
    std::vector<std::size_t> xi(d.size());
    for (std::size_t k = 0; k < perm.size(); ++k) xi[static_cast<std::size_t>(perm[k])] = oi[k];
    out.set(i, x.at(ref::ravel(xi, d)));
  }
  return out;
}

double dot(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  double s = 0;
  for (std::size_t i = 0; i < a.numel(); ++i) s += a.at(i) * b.at(i);
  return s;
}

}  // namespace

TEST_CASE("reshape", "[layout]") {
  for (DType dt : kDTypes) {
    const Tensor x = Tensor::arange(24, dt);
    const Tensor r = reshape(x, Shape{2, 3, 4});
    CHECK(r.shape() == Shape{2, 3, 4});
    CHECK(r.dtype() == dt);
    for (std::size_t i = 0; i < 24; ++i) CHECK(r.at(i) == static_cast<double>(i));
    CHECK(reshape(Tensor(5.0, dt), Shape{1, 1}).shape() == Shape{1, 1});
    CHECK_THROWS_AS(reshape(x, Shape{5, 5}), ShapeError);
    CHECK_THROWS_WITH(reshape(x, Shape{5, 5}), Contains("(24,)") && Contains("(5, 5)"));
  }
}

TEST_CASE("transpose matches index arithmetic for every permutation", "[layout]") {
  for (DType dt : kDTypes) {
    for (const Shape& s : {Shape{3, 4}, Shape{33, 65}, Shape{1, 7}, Shape{64, 64}, Shape{0, 3}}) {
      INFO(ref::name(dt) << " " << s.str());
      const Tensor x = ref::random(s, dt, -1, 1, 61);
      require_equal(transpose(x), ref_transpose(x, {1, 0}));
      require_equal(transpose(x, {1, 0}), ref_transpose(x, {1, 0}));
      require_equal(transpose(x, {0, 1}), x);
    }
    for (const Shape& s : {Shape{2, 3, 4}, Shape{5, 1, 33}, Shape{17, 9, 40}}) {
      const Tensor x = ref::random(s, dt, -1, 1, 62);
      std::vector<int> perm = {0, 1, 2};
      do {
        INFO(ref::name(dt) << " " << s.str() << " perm " << perm[0] << perm[1] << perm[2]);
        require_equal(transpose(x, std::span<const int>(perm)), ref_transpose(x, perm));
      } while (std::next_permutation(perm.begin(), perm.end()));
      require_equal(transpose(x), ref_transpose(x, {2, 1, 0}));
    }
    const Tensor x4 = ref::random(Shape{2, 3, 4, 5}, dt, -1, 1, 63);
    require_equal(transpose(x4, {3, 1, 0, 2}), ref_transpose(x4, {3, 1, 0, 2}));
    require_equal(transpose(x4, {-1, 0, -3, 2}), ref_transpose(x4, {3, 0, 1, 2}));
    require_equal(transpose(x4, {0, 2, 1, 3}), ref_transpose(x4, {0, 2, 1, 3}));
    require_equal(transpose(Tensor(3.0, dt)), Tensor(3.0, dt));
    require_equal(transpose(Tensor::arange(9, dt)), Tensor::arange(9, dt));
  }
}

TEST_CASE("transpose rejects invalid permutations", "[layout]") {
  const Tensor x(DType::f64, Shape{2, 3, 4});
  CHECK_THROWS_AS(transpose(x, {0, 1}), ShapeError);
  CHECK_THROWS_AS(transpose(x, {0, 1, 1}), ShapeError);
  CHECK_THROWS_AS(transpose(x, {0, 1, 3}), ShapeError);
  CHECK_THROWS_WITH(transpose(x, {0, 0, 2}),
                    Contains("(0, 0, 2)") && Contains("(2, 3, 4)") && Contains("twice"));
  CHECK_THROWS_WITH(transpose(x, {0, 1, 5}), Contains("axis 5") && Contains("out of range"));
  CHECK_THROWS_WITH(transpose(x, {1, 0}), Contains("2 entries") && Contains("rank 3"));
}

TEST_CASE("broadcast_to and its adjoint sum_to", "[layout]") {
  for (DType dt : kDTypes) {
    struct C {
      Shape from, to;
    };
    for (const C& c : {C{Shape{3}, Shape{2, 3}}, C{Shape{3, 1}, Shape{3, 4}}, C{Shape{}, Shape{2, 2}},
                       C{Shape{1, 4, 1}, Shape{2, 3, 4, 5}}, C{Shape{33}, Shape{7, 33}},
                       C{Shape{2, 3}, Shape{2, 3}}, C{Shape{1}, Shape{0}}, C{Shape{5, 1, 7}, Shape{5, 3, 7}},
                       C{Shape{1, 1}, Shape{3, 1, 4}}, C{Shape{1}, Shape{1}}}) {
      INFO(ref::name(dt) << " " << c.from.str() << " -> " << c.to.str());
      const Tensor x = ref::random(c.from, dt, -2, 2, 71);
      const Tensor b = broadcast_to(x, c.to);
      CHECK(b.shape() == c.to);
      // Reference: adding zeros of the target shape broadcasts with explicit index arithmetic.
      require_equal(b, ref::binary(x, Tensor(DType::f64, c.to), [](double v, double) { return v; }));

      const Tensor y = ref::random(c.to, dt, -2, 2, 72);
      const Tensor st = sum_to(y, c.from);
      CHECK(st.shape() == c.from);
      CHECK(st.dtype() == dt);
      // Reference: each element of y added into the element it was broadcast from.
      Tensor expected(DType::f64, c.from);
      const auto dt_ = c.to.to_vector(), df = c.from.to_vector();
      for (std::size_t i = 0; i < y.numel(); ++i) {
        const std::size_t j = ref::source_index(ref::unravel(i, dt_), df);
        expected.set(j, expected.at(j) + y.at(i));
      }
      ref::require_close(st, expected, ref::tol_for(dt, 10));
      // Adjointness: <broadcast_to(x), y> == <x, sum_to(y)>.
      CHECK(dot(b, y) == Approx(dot(x, st)).epsilon(dt == DType::f32 ? 1e-4 : 1e-12).margin(1e-5));
    }
    CHECK_THROWS_AS(broadcast_to(Tensor(dt, Shape{3}), Shape{2, 4}), ShapeError);
    CHECK_THROWS_WITH(broadcast_to(Tensor(dt, Shape{3}), Shape{2, 4}),
                      Contains("(3,)") && Contains("(2, 4)"));
    CHECK_THROWS_AS(broadcast_to(Tensor(dt, Shape{2, 3}), Shape{3}), ShapeError);
    CHECK_THROWS_AS(broadcast_to(Tensor(dt, Shape{2, 1}), Shape{2}), ShapeError);
    CHECK_THROWS_AS(broadcast_to(Tensor(dt, Shape{1, 1, 1}), Shape{4}),
                    ShapeError);  // one element, rank too high
    CHECK_THROWS_WITH(sum_to(Tensor(dt, Shape{2, 3}), Shape{4}), Contains("(2, 3)") && Contains("(4,)"));
    CHECK_THROWS_AS(sum_to(Tensor(dt, Shape{3}), Shape{2, 3}), ShapeError);
  }
}

TEST_CASE("slice and unslice follow Python's clipping", "[layout]") {
  struct C {
    int axis;
    std::ptrdiff_t start, stop, step;
  };
  for (DType dt : kDTypes) {
    const Shape s{4, 9, 3};
    const Tensor x = ref::random(s, dt, -1, 1, 81);
    for (const C& c :
         {C{1, 0, 9, 1}, C{1, 2, 7, 1}, C{1, 1, 9, 3}, C{1, -3, 100, 1}, C{0, -100, 2, 1}, C{2, 0, 3, 2},
          C{-1, 1, 2, 1}, C{1, 5, 2, 1}, C{1, 0, 9, 20}, C{0, 3, -1, 1}, C{1, -1, 9, 1}}) {
      INFO(ref::name(dt) << " axis " << c.axis << " [" << c.start << ":" << c.stop << ":" << c.step << "]");
      const std::size_t ax = static_cast<std::size_t>(c.axis < 0 ? c.axis + 3 : c.axis);
      // Python's range of selected positions, by brute force over all positions.
      const auto n = static_cast<std::ptrdiff_t>(s[static_cast<int>(ax)]);
      auto norm = [&](std::ptrdiff_t v) { return std::clamp<std::ptrdiff_t>(v < 0 ? v + n : v, 0, n); };
      std::vector<std::size_t> pos;
      for (std::ptrdiff_t p = norm(c.start); p < norm(c.stop); p += c.step)
        pos.push_back(static_cast<std::size_t>(p));
      auto od = s.to_vector();
      od[ax] = pos.size();
      Tensor expected(DType::f64, Shape(od));
      for (std::size_t i = 0; i < expected.numel(); ++i) {
        auto idx = ref::unravel(i, od);
        idx[ax] = pos[idx[ax]];
        expected.set(i, x.at(ref::ravel(idx, s.to_vector())));
      }
      const Tensor sl = slice(x, c.axis, c.start, c.stop, c.step);
      require_equal(sl, expected);
      // unslice is the adjoint of slice.
      const Tensor y = ref::random(Shape(od), dt, -1, 1, 82);
      {  // leave a dirty buffer of the full size in the cache: unslice must not rely on zeroed memory
        Tensor dirty = Tensor::full(s, 7.0, dt);
      }
      const Tensor u = unslice(y, s, c.axis, c.start, c.stop, c.step);
      CHECK(u.shape() == s);
      Tensor expected_u(DType::f64, s);  // dense reference: zeros, y at the selected positions
      for (std::size_t i = 0; i < y.numel(); ++i) {
        auto idx = ref::unravel(i, od);
        idx[ax] = pos[idx[ax]];
        expected_u.set(ref::ravel(idx, s.to_vector()), y.at(i));
      }
      require_equal(u, expected_u);
      CHECK(dot(sl, y) == Approx(dot(x, u)).epsilon(1e-5).margin(1e-6));
      std::size_t nonzero = 0;
      for (std::size_t i = 0; i < u.numel(); ++i) nonzero += u.at(i) != 0.0;
      CHECK(nonzero == y.numel());
      // slice_add adds the same into an existing tensor, and leaves a tensor sharing its buffer alone.
      Tensor acc = ref::random(s, dt, -1, 1, 83);
      const Tensor shared = acc, before = acc.to(DType::f64);
      slice_add(acc, y, c.axis, c.start, c.stop, c.step);
      ref::require_close(acc, ref::binary(before, expected_u, [](double p, double q) { return p + q; }),
                         ref::tol_for(dt));
      require_equal(shared, before);
      // ... and alpha times it (the reverse sweep adds with a factor of -1 into adjoints held so).
      for (double alpha : {-1.0, 2.5}) {
        Tensor scaled_acc = before.to(dt);
        slice_add(scaled_acc, y, c.axis, c.start, c.stop, c.step, alpha);
        ref::require_close(
            scaled_acc,
            ref::binary(before, expected_u, [alpha](double p, double q) { return p + alpha * q; }),
            ref::tol_for(dt));
      }
    }
    CHECK_THROWS_AS(slice(x, 1, 0, 5, 0), ValueError);
    CHECK_THROWS_WITH(slice(x, 1, 0, 5, -1), Contains("step") && Contains("-1"));
    CHECK_THROWS_AS(slice(x, 3, 0, 1), ShapeError);
    CHECK_THROWS_AS(unslice(Tensor(dt, Shape{4, 2, 3}), s, 1, 0, 3), ShapeError);
    CHECK_THROWS_WITH(unslice(Tensor(dt, Shape{4, 2, 3}), s, 1, 0, 3),
                      Contains("(4, 2, 3)") && Contains("(4, 9, 3)"));
    Tensor acc(dt, s);
    CHECK_THROWS_WITH(slice_add(acc, Tensor(dt, Shape{4, 2, 3}), 1, 0, 3),
                      Contains("(4, 2, 3)") && Contains("(4, 9, 3)"));
    CHECK_THROWS_AS(
        slice_add(acc, Tensor(DType::f64 == dt ? DType::f32 : DType::f64, Shape{4, 3, 3}), 1, 0, 3),
        DTypeError);
  }
}

TEST_CASE("concat", "[layout]") {
  for (DType dt : kDTypes) {
    const Tensor a = ref::random(Shape{2, 3, 4}, dt, -1, 1, 91);
    const Tensor b = ref::random(Shape{2, 5, 4}, dt, -1, 1, 92);
    const Tensor c = ref::random(Shape{2, 1, 4}, dt, -1, 1, 93);
    const Tensor r = concat({a, b, c}, 1);
    CHECK(r.shape() == Shape{2, 9, 4});
    require_equal(slice(r, 1, 0, 3), a);
    require_equal(slice(r, 1, 3, 8), b);
    require_equal(slice(r, 1, 8, 9), c);
    for (std::size_t i = 0; i < r.numel(); ++i) {
      auto idx = ref::unravel(i, {2, 9, 4});
      double e;
      if (idx[1] < 3) {
        e = a.at(ref::ravel(idx, {2, 3, 4}));
      } else if (idx[1] < 8) {
        idx[1] -= 3;
        e = b.at(ref::ravel(idx, {2, 5, 4}));
      } else {
        idx[1] -= 8;
        e = c.at(ref::ravel(idx, {2, 1, 4}));
      }
      REQUIRE(r.at(i) == e);
    }
    const Tensor r0 = concat({a, a}, 0);
    CHECK(r0.shape() == Shape{4, 3, 4});
    require_equal(slice(r0, 0, 2, 4), a);
    const Tensor rl = concat({a, Tensor(dt, Shape{2, 3, 0}), a}, -1);
    CHECK(rl.shape() == Shape{2, 3, 8});
    require_equal(slice(rl, 2, 4, 8), a);
    const std::vector<Tensor> one = {a};
    require_equal(concat(std::span<const Tensor>(one), 2), a);

    CHECK_THROWS_AS(concat({a, b}, 0), ShapeError);
    CHECK_THROWS_WITH(concat({a, b}, 2), Contains("(2, 3, 4)") && Contains("(2, 5, 4)"));
    CHECK_THROWS_WITH(concat({a, Tensor(dt, Shape{3, 4})}, 0), Contains("(2, 3, 4)") && Contains("(3, 4)"));
    CHECK_THROWS_AS(concat({a, a}, 3), ShapeError);
    CHECK_THROWS_AS(concat(std::span<const Tensor>(), 0), ValueError);
    CHECK_THROWS_AS(concat({Tensor(1.0, dt), Tensor(2.0, dt)}, 0), ShapeError);
  }
  CHECK_THROWS_WITH(concat({Tensor(DType::f32, Shape{2}), Tensor(DType::f64, Shape{2})}, 0),
                    Contains("float32") && Contains("float64"));
}

TEST_CASE("gather and scatter_add along the last axis with runs of consecutive indices (im2col)",
          "[layout]") {
  // Overlapping windows, as a convolution's index table has them: the kernels copy and add whole runs.
  std::vector<std::size_t> idx;
  for (const auto& [first, length] :
       std::vector<std::pair<std::size_t, std::size_t>>{{0, 5}, {2, 5}, {1, 5}, {0, 7}})
    for (std::size_t t = 0; t < length; ++t) idx.push_back(first + t);
  for (DType dt : kDTypes) {
    INFO(ref::name(dt));
    const Shape s{3, 2, 7}, gathered{3, 2, idx.size()};
    const Tensor x = ref::random(s, dt, -1, 1, 103), y = ref::random(gathered, dt, -1, 1, 104);
    Tensor expected_gather(DType::f64, gathered), expected_scatter(DType::f64, s);
    for (std::size_t row = 0; row < 6; ++row)
      for (std::size_t c = 0; c < idx.size(); ++c) {
        expected_gather.set(row * idx.size() + c, x.at(row * 7 + idx[c]));
        const std::size_t j = row * 7 + idx[c];
        expected_scatter.set(j, expected_scatter.at(j) + y.at(row * idx.size() + c));
      }
    require_equal(gather(x, idx, -1), expected_gather);
    ref::require_close(scatter_add(y, idx, -1, s), expected_scatter, ref::tol_for(dt));
  }
}

TEST_CASE("gather and scatter_add (np.take semantics)", "[layout]") {
  for (DType dt : kDTypes) {
    const Shape s{3, 5, 4};
    const Tensor x = ref::random(s, dt, -1, 1, 101);
    const std::vector<std::size_t> idx = {4, 0, 4, 2, 1, 1};
    for (int axis : {0, 1, 2, -1}) {
      const std::size_t ax = static_cast<std::size_t>(axis < 0 ? axis + 3 : axis);
      std::vector<std::size_t> use;
      for (std::size_t i : idx)
        if (i < s[static_cast<int>(ax)]) use.push_back(i);
      INFO(ref::name(dt) << " axis " << axis);
      auto od = s.to_vector();
      od[ax] = use.size();
      Tensor expected(DType::f64, Shape(od));
      for (std::size_t i = 0; i < expected.numel(); ++i) {
        auto oi = ref::unravel(i, od);
        oi[ax] = use[oi[ax]];
        expected.set(i, x.at(ref::ravel(oi, s.to_vector())));
      }
      const Tensor g = gather(x, use, axis);
      require_equal(g, expected);
      // scatter_add is the adjoint of gather; repeated indices accumulate.
      const Tensor y = ref::random(Shape(od), dt, -1, 1, 102);
      const Tensor sc = scatter_add(y, use, axis, s);
      CHECK(sc.shape() == s);
      Tensor exp_sc(DType::f64, s);
      for (std::size_t i = 0; i < y.numel(); ++i) {
        auto oi = ref::unravel(i, od);
        oi[ax] = use[oi[ax]];
        const std::size_t j = ref::ravel(oi, s.to_vector());
        exp_sc.set(j, exp_sc.at(j) + y.at(i));
      }
      ref::require_close(sc, exp_sc, ref::tol_for(dt));
    }
    const std::vector<std::size_t> none;
    CHECK(gather(x, none, 1).shape() == Shape{3, 0, 4});
    const std::vector<std::size_t> bad = {1, 7};
    CHECK_THROWS_AS(gather(x, bad, 1), ValueError);
    CHECK_THROWS_WITH(gather(x, bad, 1), Contains("index 7") && Contains("extent 5"));
    CHECK_THROWS_WITH(scatter_add(Tensor(dt, Shape{3, 2, 4}), bad, 1, s),
                      Contains("index 7") && Contains("extent 5"));
    CHECK_THROWS_AS(scatter_add(Tensor(dt, Shape{3, 3, 4}), bad, 1, s), ShapeError);
    CHECK_THROWS_AS(gather(x, bad, 3), ShapeError);
  }
}

TEST_CASE("max_abs_diff and allclose", "[layout]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const Tensor a = Tensor::from(Shape{2, 2}, {1, 2, 3, 4});
  const Tensor b = Tensor::from(Shape{2, 2}, {1, 2.5, 3, 3});
  CHECK(max_abs_diff(a, b) == 1.0);
  CHECK(max_abs_diff(a, a) == 0.0);
  CHECK(max_abs_diff(a, Tensor::from(Shape{2}, {1, 2})) == 2.0);  // broadcast rows
  CHECK(max_abs_diff(a, a.to(DType::f32)) == 0.0);
  CHECK(std::isnan(max_abs_diff(a, Tensor::from(Shape{2, 2}, {1, nan, 3, 4}))));
  CHECK(max_abs_diff(Tensor(inf), Tensor(inf)) == 0.0);
  CHECK(max_abs_diff(Tensor(inf), Tensor(1.0)) == inf);
  CHECK_FALSE(allclose(a, b));
  CHECK(allclose(a, a + 1e-9));
  CHECK_FALSE(allclose(a, a + 1e-3));
  CHECK(allclose(a, a + 1e-3, 1e-2));
  CHECK(allclose(Tensor(1e-9), Tensor(0.0)));
  CHECK_FALSE(allclose(Tensor(nan), Tensor(nan)));
  CHECK(allclose(Tensor(inf), Tensor(inf)));
  CHECK_FALSE(allclose(Tensor(inf), Tensor(-inf)));
  CHECK_THROWS_AS(max_abs_diff(a, Tensor(DType::f64, Shape{3})), ShapeError);
  CHECK_THROWS_AS(allclose(a, Tensor(DType::f64, Shape{3})), ShapeError);
}
