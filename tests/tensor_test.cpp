#include "autodiff/tensor.hpp"

#include <cmath>
#include <cstdint>
#include <sstream>

#include <catch2/catch.hpp>

#include "autodiff/tensor_ops.hpp"

using namespace jetgrad;
using Catch::Contains;

namespace {
bool is_inline(const Tensor& t) {
  const auto* p = static_cast<const std::byte*>(t.raw_data());
  const auto* self = reinterpret_cast<const std::byte*>(&t);
  return p >= self && p < self + sizeof(Tensor);
}
}  // namespace

TEST_CASE("Tensor construction", "[tensor]") {
  Tensor d;
  CHECK(d.dtype() == DType::f64);
  CHECK(d.rank() == 0);
  CHECK(d.numel() == 1);
  CHECK(d.item() == 0.0);

  for (DType dt : {DType::f32, DType::f64}) {
    Tensor z(dt, Shape{2, 3});
    CHECK(z.dtype() == dt);
    CHECK(z.shape() == Shape{2, 3});
    CHECK(z.nbytes() == 6 * dtype_size(dt));
    for (std::size_t i = 0; i < 6; ++i) CHECK(z.at(i) == 0.0);

    Tensor f = Tensor::full(Shape{3, 7}, 2.5, dt);
    for (std::size_t i = 0; i < f.numel(); ++i) CHECK(f.at(i) == 2.5);
    Tensor o = Tensor::ones(Shape{5}, dt);
    for (std::size_t i = 0; i < 5; ++i) CHECK(o.at(i) == 1.0);
    Tensor a = Tensor::arange(9, dt);
    CHECK(a.shape() == Shape{9});
    for (std::size_t i = 0; i < 9; ++i) CHECK(a.at(i) == static_cast<double>(i));
    Tensor s(3.25, dt);
    CHECK(s.rank() == 0);
    CHECK(s.item() == 3.25);
    Tensor fr = Tensor::from(Shape{2, 2}, {1, 2, 3, 4}, dt);
    CHECK(fr.at(3) == 4.0);
    CHECK(fr.dtype() == dt);
  }
  CHECK(Tensor::zeros(Shape{2}).dtype() == DType::f64);
  CHECK_THROWS_AS(Tensor::from(Shape{2, 3}, {1, 2, 3}), ShapeError);
  CHECK_THROWS_WITH(Tensor::from(Shape{2, 3}, {1, 2, 3}),
                    Contains("(2, 3)") && Contains("6") && Contains("3 values"));
}

TEST_CASE("Tensor <-> xarray", "[tensor]") {
  xt::xarray<double> a = {{1, 2, 3}, {4, 5, 6}};
  Tensor t(a);
  CHECK(t.dtype() == DType::f64);
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.at(4) == 5.0);
  xt::xarray<double> back = t.array<double>();
  CHECK(static_cast<bool>(back == a));
  CHECK(back.shape().size() == 2);
  CHECK_THROWS_AS(t.array<float>(), DTypeError);

  xt::xarray<float> f = {{{1.5f, -2.f}}, {{3.f, 4.25f}}};
  Tensor tf(f);
  CHECK(tf.dtype() == DType::f32);
  CHECK(tf.shape() == Shape{2, 1, 2});
  CHECK(static_cast<bool>(tf.array<float>() == f));
  CHECK(tf.at(3) == 4.25);

  xt::xarray<double> scalar = 7.0;
  Tensor ts(scalar);
  CHECK(ts.rank() == 0);
  CHECK(ts.item() == 7.0);
  const double s0 = ts.array<double>()();
  CHECK(s0 == 7.0);

  xt::xarray<float> big = xt::arange<float>(1000);
  Tensor tb(big);
  CHECK(tb.numel() == 1000);
  CHECK(tb.at(999) == 999.0);
  CHECK(static_cast<bool>(tb.array<float>() == big));
}

TEST_CASE("Tensor typed access checks the dtype", "[tensor]") {
  Tensor t(DType::f32, Shape{3});
  CHECK_NOTHROW(t.data<float>());
  CHECK_THROWS_AS(t.data<double>(), DTypeError);
  CHECK_THROWS_WITH(t.data<double>(), Contains("float32") && Contains("float64"));
  t.data<float>()[1] = 4.0f;
  CHECK(t.at(1) == 4.0);
  t.set(2, -1.5);
  CHECK(t.data<float>()[2] == -1.5f);
  CHECK_THROWS_AS(t.at(3), ValueError);
  CHECK_THROWS_WITH(t.set(5, 0.0), Contains("index 5") && Contains("3 elements"));
  CHECK_THROWS_AS(t.item(), ShapeError);
  CHECK_THROWS_WITH(t.item(), Contains("(3,)"));
  CHECK(Tensor::ones(Shape{1, 1}).item() == 1.0);
}

TEST_CASE("Tensor storage: inline when small, aligned heap otherwise", "[tensor]") {
  CHECK(is_inline(Tensor(DType::f64, Shape{2})));
  CHECK(is_inline(Tensor(DType::f32, Shape{4})));
  CHECK(is_inline(Tensor(1.0)));
  CHECK_FALSE(is_inline(Tensor(DType::f64, Shape{3})));
  CHECK_FALSE(is_inline(Tensor(DType::f32, Shape{5})));
  for (std::size_t n : {5u, 17u, 1000u}) {
    Tensor t(DType::f32, Shape{n});
    CHECK(reinterpret_cast<std::uintptr_t>(t.raw_data()) % 64 == 0);
  }
}

TEST_CASE("Tensor copies behave as deep copies, moves are cheap and leave a valid tensor", "[tensor]") {
  for (std::size_t n : {2u, 100u}) {
    Tensor a = Tensor::arange(n);
    Tensor b = a;
    b.set(0, 42.0);
    CHECK(a.at(0) == 0.0);
    CHECK(b.at(0) == 42.0);
    CHECK(b.at(n - 1) == static_cast<double>(n - 1));
    Tensor c(DType::f32, Shape{7});
    c = a;
    CHECK(c.dtype() == DType::f64);
    CHECK(c.shape() == a.shape());
    CHECK(c.at(1) == 1.0);

    const void* p = a.raw_data();
    Tensor m = std::move(a);
    CHECK(m.at(n - 1) == static_cast<double>(n - 1));
    if (n > 2) CHECK(m.raw_data() == p);  // heap buffer handed over
    CHECK(a.numel() == 1);                // NOLINT(bugprone-use-after-move): moved-from state is specified
    Tensor m2;
    m2 = std::move(m);
    CHECK(m2.at(1) == 1.0);
    CHECK(m.numel() == 1);  // NOLINT
    a = m2;                 // reusable after move
    CHECK(a.at(1) == 1.0);
  }
}

namespace {
const void* buffer_of(const Tensor& t) { return t.raw_data(); }  // the const access: never detaches
}  // namespace

TEST_CASE("Tensor copies share the buffer until one of them is written", "[tensor]") {
  const Tensor original = Tensor::arange(100, DType::f32);
  const auto untouched = [&] {
    for (std::size_t i = 0; i < 100; ++i)
      if (original.at(i) != static_cast<double>(i)) return false;
    return true;
  };
  // Copies, assignments and reshapes share; each kind of write detaches only the written tensor.
  Tensor copy = original;
  Tensor assigned(DType::f64, Shape{3});
  assigned = original;
  const Tensor reshaped = original.reshape(Shape{10, 10});
  CHECK(buffer_of(copy) == buffer_of(original));
  CHECK(buffer_of(assigned) == buffer_of(original));
  CHECK(buffer_of(reshaped) == buffer_of(original));

  copy.set(3, -1.0);
  CHECK(buffer_of(copy) != buffer_of(original));
  CHECK(copy.at(3) == -1.0);
  CHECK(copy.at(4) == 4.0);  // the rest was copied on detaching
  assigned.data<float>()[0] = 7.0f;
  CHECK(assigned.at(0) == 7.0);
  CHECK(assigned.at(99) == 99.0);
  CHECK(untouched());

  const auto written_by = [&](const auto& write) {
    Tensor t = original;
    write(t);
    return t;
  };
  CHECK(written_by([](Tensor& t) { t.fill(2.0); }).at(50) == 2.0);
  CHECK(written_by([](Tensor& t) { t += Tensor(1.0, DType::f32); }).at(50) == 51.0);
  CHECK(written_by([&](Tensor& t) { axpy(2.0, original, t); }).at(50) == 150.0);
  CHECK(written_by([](Tensor& t) { scale(t, 0.5); }).at(50) == 25.0);
  CHECK(written_by([](Tensor& t) { static_cast<float*>(t.raw_data())[50] = 0.0f; }).at(50) == 0.0);
  CHECK(written_by([](Tensor& t) { t.resize(Shape{100}, DType::f32); }).shape() == Shape{100});
  Tensor into = original;
  into.copy_from(Tensor::zeros(Shape{100}, DType::f32));
  CHECK(into.at(50) == 0.0);
  CHECK(untouched());

  // A buffer outlives the tensor that made it, for as long as a copy holds it.
  Tensor survivor;
  {
    Tensor temporary = Tensor::arange(1000);
    survivor = temporary;
  }
  CHECK(survivor.at(999) == 999.0);
}

TEST_CASE("Tensor::resize reuses the buffer when it is large enough", "[tensor]") {
  Tensor t(DType::f64, Shape{100});
  const void* p = t.raw_data();
  t.resize(Shape{10, 5}, DType::f32);
  CHECK(t.raw_data() == p);
  CHECK(t.shape() == Shape{10, 5});
  CHECK(t.dtype() == DType::f32);
  t.resize(Shape{200}, DType::f32);  // 800 bytes == capacity
  CHECK(t.raw_data() == p);
  t.resize(Shape{201}, DType::f64);
  CHECK(t.numel() == 201);
  CHECK(reinterpret_cast<std::uintptr_t>(t.raw_data()) % 64 == 0);
  t.fill(3.0);
  CHECK(t.at(200) == 3.0);

  Tensor src = Tensor::arange(50, DType::f32);
  Tensor dst(DType::f64, Shape{64});
  const void* q = dst.raw_data();
  dst.copy_from(src);
  CHECK(dst.raw_data() == q);
  CHECK(dst.dtype() == DType::f32);
  CHECK(dst.at(49) == 49.0);
}

TEST_CASE("Tensor conversions and reshape", "[tensor]") {
  Tensor a = Tensor::from(Shape{2, 3}, {0.1, 1, 2, 3, 4, 1e300});
  Tensor f = a.to(DType::f32);
  CHECK(f.dtype() == DType::f32);
  CHECK(f.at(0) == static_cast<double>(0.1f));
  CHECK(std::isinf(f.at(5)));
  Tensor d = f.to(DType::f64);
  CHECK(d.at(0) == static_cast<double>(0.1f));
  Tensor r = a.reshape(Shape{3, 2});
  CHECK(r.shape() == Shape{3, 2});
  CHECK(r.at(4) == 4.0);
  CHECK(a.shape() == Shape{2, 3});
  CHECK_THROWS_AS(a.reshape(Shape{4}), ShapeError);
  CHECK_THROWS_WITH(a.reshape(Shape{4}), Contains("(2, 3)") && Contains("(4,)"));
}

TEST_CASE("Tensor printing", "[tensor]") {
  Tensor t = Tensor::from(Shape{2, 2}, {1, 2.5, -3, 4}, DType::f32);
  const std::string s = t.str();
  CHECK_THAT(s, Contains("[[1, 2.5],") && Contains("[-3, 4]]") && Contains("float32") && Contains("(2, 2)"));
  std::ostringstream os;
  os << Tensor(2.0);
  CHECK_THAT(os.str(), Contains("2") && Contains("float64"));
  CHECK_THAT(Tensor(DType::f64, Shape{0, 3}).str(), Contains("[]"));
  const std::string big = Tensor::arange(5000).str();
  CHECK_THAT(big, Contains("...") && Contains("4999"));
  CHECK(big.size() < 200);
}

TEST_CASE("check_same_dtype names the operation and both dtypes", "[tensor]") {
  Tensor a(DType::f32, Shape{2});
  Tensor b(DType::f64, Shape{2});
  CHECK_NOTHROW(check_same_dtype(a, a, "add"));
  CHECK_THROWS_AS(check_same_dtype(a, b, "add"), DTypeError);
  CHECK_THROWS_WITH(check_same_dtype(a, b, "add"), "add: dtype mismatch: float32 and float64");
}
