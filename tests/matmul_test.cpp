#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "autodiff/tensor_ops.hpp"
#include "support/reference.hpp"

using namespace jetgrad;
using Catch::Contains;

namespace {

const DType kDTypes[] = {DType::f32, DType::f64};

// NumPy matmul written out: promote 1-D, broadcast batch dims, naive triple loop per matrix.
Tensor ref_matmul(const Tensor& a, const Tensor& b) {
  auto da = a.shape().to_vector(), db = b.shape().to_vector();
  const bool av = da.size() == 1, bv = db.size() == 1;
  if (av) da.insert(da.begin(), 1);
  if (bv) db.push_back(1);
  const std::size_t m = da[da.size() - 2], k = da.back(), n = db.back();
  REQUIRE(db[db.size() - 2] == k);
  const std::vector<std::size_t> ba(da.begin(), da.end() - 2), bb(db.begin(), db.end() - 2);
  const auto batch = ref::broadcast(ba, bb);
  std::vector<std::size_t> od = batch;
  if (!av) od.push_back(m);
  if (!bv) od.push_back(n);
  Tensor out(DType::f64, Shape(od));
  const auto va = ref::values(a), vb = ref::values(b);
  for (std::size_t t = 0; t < ref::numel(batch); ++t) {
    const auto idx = ref::unravel(t, batch);
    const std::size_t oa = ref::source_index(idx, ba) * m * k, ob = ref::source_index(idx, bb) * k * n;
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t j = 0; j < n; ++j) {
        double s = 0;
        for (std::size_t p = 0; p < k; ++p) s += va[oa + i * k + p] * vb[ob + p * n + j];
        out.set(t * m * n + i * n + j, s);
      }
  }
  return out;
}

void check_matmul(const Shape& sa, const Shape& sb, const Shape& expected_shape) {
  for (DType dt : kDTypes) {
    INFO(ref::name(dt) << " " << sa.str() << " @ " << sb.str());
    const Tensor a = ref::random(sa, dt, -1, 1, 51);
    const Tensor b = ref::random(sb, dt, -1, 1, 52);
    const Tensor c = matmul(a, b);
    CHECK(c.dtype() == dt);
    CHECK(c.shape() == expected_shape);
    const std::size_t k = sa[sa.rank() - 1];
    ref::require_close(c, ref_matmul(a, b), ref::tol_for(dt, 4 + static_cast<double>(k)));
  }
}

}  // namespace

TEST_CASE("matmul 2-D against a naive triple loop", "[matmul]") {
  check_matmul(Shape{1, 1}, Shape{1, 1}, Shape{1, 1});
  check_matmul(Shape{3, 4}, Shape{4, 5}, Shape{3, 5});
  check_matmul(Shape{7, 33}, Shape{33, 17}, Shape{7, 17});
  check_matmul(Shape{65, 9}, Shape{9, 1}, Shape{65, 1});
  check_matmul(Shape{1, 100}, Shape{100, 70}, Shape{1, 70});
}

TEST_CASE("matmul promotes 1-D operands", "[matmul]") {
  check_matmul(Shape{4}, Shape{4, 5}, Shape{5});
  check_matmul(Shape{3, 4}, Shape{4}, Shape{3});
  check_matmul(Shape{33}, Shape{33}, Shape{});
  check_matmul(Shape{2, 3, 4}, Shape{4}, Shape{2, 3});
  check_matmul(Shape{4}, Shape{2, 4, 5}, Shape{2, 5});
}

TEST_CASE("matmul broadcasts batch dimensions", "[matmul]") {
  check_matmul(Shape{2, 3, 4}, Shape{2, 4, 5}, Shape{2, 3, 5});
  check_matmul(Shape{2, 3, 4}, Shape{4, 5}, Shape{2, 3, 5});  // folded into one gemm
  check_matmul(Shape{3, 2, 3, 4}, Shape{4, 5}, Shape{3, 2, 3, 5});
  check_matmul(Shape{3, 4}, Shape{2, 4, 5}, Shape{2, 3, 5});
  check_matmul(Shape{2, 1, 3, 4}, Shape{5, 4, 6}, Shape{2, 5, 3, 6});
  check_matmul(Shape{1, 3, 4}, Shape{6, 4, 2}, Shape{6, 3, 2});
  check_matmul(Shape{6, 3, 4}, Shape{1, 4, 2}, Shape{6, 3, 2});
}

// The last two axes of x swapped, copied (the independent route for the trans flags).
Tensor swap_last_two(const Tensor& x) {
  std::vector<int> perm;
  for (int i = 0; i < x.rank(); ++i) perm.push_back(i);
  std::swap(perm[perm.size() - 2], perm[perm.size() - 1]);
  return transpose(x, perm);
}

TEST_CASE("matmul with transposed operands equals the product of transposed copies", "[matmul]") {
  struct Pair {
    Shape a, b;  // as stored; op(a) op(b) must fit
    Transposed t;
  };
  const std::vector<Pair> pairs = {
      {{4, 3}, {4, 5}, {.a = true}},
      {{3, 4}, {5, 4}, {.b = true}},
      {{4, 3}, {5, 4}, {.a = true, .b = true}},
      {{33, 7}, {17, 33}, {.a = true, .b = true}},
      {{2, 4, 3}, {4, 5}, {.a = true}},  // batched a read transposed: not folded into one gemm
      {{2, 3, 4}, {5, 4}, {.b = true}},  // folded into one gemm with a transposed b
      {{2, 1, 4, 3}, {5, 6, 4}, {.a = true, .b = true}},
      {{4}, {5, 4}, {.b = true}},  // 1-D a promoted, b transposed
      {{4, 3}, {4}, {.a = true}},  // 1-D b promoted, a transposed
  };
  for (DType dt : kDTypes) {
    for (const Pair& p : pairs) {
      INFO(ref::name(dt) << " " << p.a.str() << (p.t.a ? "ᵀ" : "") << " @ " << p.b.str()
                         << (p.t.b ? "ᵀ" : ""));
      const Tensor a = ref::random(p.a, dt, -1, 1, 53), b = ref::random(p.b, dt, -1, 1, 54);
      const Tensor expected = ref_matmul(p.t.a ? swap_last_two(a) : a, p.t.b ? swap_last_two(b) : b);
      const Tensor c = matmul(a, b, p.t);
      CHECK(c.shape() == expected.shape());
      ref::require_close(c, expected, ref::tol_for(dt, 40));
    }
  }
  CHECK_THROWS_WITH(matmul(Tensor(DType::f64, Shape{3}), Tensor(DType::f64, Shape{3, 2}), {.a = true}),
                    Contains("(3,)") && Contains("transposed operand needs rank >= 2"));
  CHECK_THROWS_WITH(matmul(Tensor(DType::f64, Shape{2, 3}), Tensor(DType::f64, Shape{3, 2}), {.b = true}),
                    Contains("inner dimensions 3 and 2 differ"));
}

TEST_CASE("add_matmul accumulates op(a) op(b) into its accumulator", "[matmul]") {
  struct Case {
    Shape a, b;
    Transposed t;
  };
  const std::vector<Case> cases = {
      {{3, 4}, {4, 5}, {}},
      {{4, 3}, {5, 4}, {.a = true, .b = true}},
      {{2, 3, 4}, {4, 5}, {}},     // folded into one gemm
      {{1, 6, 4}, {2, 4, 5}, {}},  // broadcast batch: one gemm per batch entry
      {{2, 4, 3}, {1, 5, 4}, {.a = true, .b = true}},
  };
  for (DType dt : kDTypes) {
    for (const Case& c : cases) {
      INFO(ref::name(dt) << " " << c.a.str() << " @ " << c.b.str());
      const Tensor a = ref::random(c.a, dt, -1, 1, 61), b = ref::random(c.b, dt, -1, 1, 62);
      const Tensor product = ref_matmul(c.t.a ? swap_last_two(a) : a, c.t.b ? swap_last_two(b) : b);
      Tensor acc = ref::random(product.shape(), dt, -1, 1, 63);
      const Tensor before = acc;  // shares acc's buffer until add_matmul writes (copy on write)
      const Tensor expected = ref::binary(before, product, [](double x, double y) { return x + y; });
      add_matmul(acc, a, b, c.t);
      ref::require_close(acc, expected, ref::tol_for(dt, 40));
      ref::require_close(before, ref::random(product.shape(), dt, -1, 1, 63), {0, 0});  // the copy untouched
    }
  }
  Tensor wrong(DType::f64, Shape{3, 4});
  CHECK_THROWS_WITH(add_matmul(wrong, Tensor(DType::f64, Shape{3, 2}), Tensor(DType::f64, Shape{2, 5})),
                    Contains("(3, 4)") && Contains("(3, 5)"));
  Tensor square = ref::random(Shape{3, 3}, DType::f64, -1, 1, 64);
  CHECK_THROWS_WITH(add_matmul(square, square, Tensor(DType::f64, Shape{3, 3})),
                    Contains("must not be an operand"));
}

TEST_CASE("matmul with zero-sized dimensions", "[matmul]") {
  for (DType dt : kDTypes) {
    const Tensor c = matmul(Tensor(dt, Shape{3, 0}), Tensor(dt, Shape{0, 4}));
    CHECK(c.shape() == Shape{3, 4});
    Tensor a = Tensor::full(Shape{3, 0}, 1.0, dt);
    Tensor r = matmul(a, Tensor(dt, Shape{0, 4}));
    for (std::size_t i = 0; i < r.numel(); ++i) CHECK(r.at(i) == 0.0);
    CHECK(matmul(Tensor(dt, Shape{0, 3}), Tensor(dt, Shape{3, 4})).shape() == Shape{0, 4});
    CHECK(matmul(Tensor(dt, Shape{0, 2, 3}), Tensor(dt, Shape{3, 4})).shape() == Shape{0, 2, 4});
    CHECK(matmul(Tensor(dt, Shape{2, 3}), Tensor(dt, Shape{3, 0})).shape() == Shape{2, 0});
  }
}

TEST_CASE("matmul errors name both shapes", "[matmul]") {
  const Tensor a(DType::f64, Shape{2, 3});
  CHECK_THROWS_AS(matmul(a, Tensor(DType::f64, Shape{4, 5})), ShapeError);
  CHECK_THROWS_WITH(matmul(a, Tensor(DType::f64, Shape{4, 5})),
                    "matmul: shapes (2, 3) and (4, 5) do not fit: inner dimensions 3 and 4 differ");
  CHECK_THROWS_WITH(matmul(Tensor(DType::f64, Shape{4}), Tensor(DType::f64, Shape{3})),
                    Contains("(4,)") && Contains("(3,)") && Contains("inner dimensions 4 and 3"));
  CHECK_THROWS_WITH(matmul(Tensor(DType::f64, Shape{2, 3, 4}), Tensor(DType::f64, Shape{3, 4, 5})),
                    Contains("(2, 3, 4)") && Contains("(3, 4, 5)") && Contains("batch"));
  CHECK_THROWS_AS(matmul(Tensor(2.0), a), ShapeError);
  CHECK_THROWS_WITH(matmul(a, Tensor(DType::f32, Shape{3, 2})),
                    "matmul: dtype mismatch: float64 and float32");
}

TEST_CASE("matmul_layout and matmul_into: the product's shape, then the product in place", "[matmul]") {
  for (DType dt : kDTypes) {
    INFO(ref::name(dt));
    const Tensor a = ref::random(Shape{2, 4, 3}, dt, -1, 1, 71), b = ref::random(Shape{5, 4}, dt, -1, 1, 72);
    const Transposed t{.a = true, .b = true};
    Tensor out = matmul_layout(a, b, t);
    REQUIRE(out.shape() == Shape({2, 3, 5}));
    REQUIRE(out.dtype() == dt);
    matmul_into(out, a, b, t);
    ref::require_close(out, ref_matmul(swap_last_two(a), swap_last_two(b)), ref::tol_for(dt, 40));
  }
  CHECK_THROWS_WITH(matmul_layout(Tensor(DType::f64, Shape{2, 3}), Tensor(DType::f64, Shape{2, 3}), {}),
                    Contains("inner dimensions 3 and 2 differ"));
  Tensor wrong(DType::f64, Shape{2, 2});
  CHECK_THROWS_WITH(matmul_into(wrong, Tensor(DType::f64, Shape{2, 3}), Tensor(DType::f64, Shape{3, 4}), {}),
                    Contains("matmul_into") && Contains("(2, 2)") && Contains("(2, 4)"));
}
