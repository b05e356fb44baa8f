// The tape's allocation contract: a recorded graph replays without heap allocation, scalar code
// included (tape.hpp, Tape::replay). Every operator new of this test binary is counted here, per
// thread, and so are the buffers the per-thread cache (buffer_pool.hpp) has to take from malloc.
#include <cstdlib>
#include <new>
#include <vector>

#include <catch2/catch.hpp>

#include "autodiff/buffer_pool.hpp"
#include "autodiff/functional.hpp"
#include "autodiff/pool_vector.hpp"
#include "support/gradcheck_support.hpp"

namespace {
thread_local std::size_t operator_news = 0;
}  // namespace

// Every unaligned form is replaced, so that each delete meets the malloc of its own new (ASan
// checks the pairing); the aligned forms keep the library's pair.
namespace {
void* counted_malloc(std::size_t bytes) noexcept {
  ++operator_news;
  return std::malloc(bytes == 0 ? 1 : bytes);
}
}  // namespace
void* operator new(std::size_t bytes) {
  if (void* p = counted_malloc(bytes)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t bytes) {
  if (void* p = counted_malloc(bytes)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t bytes, const std::nothrow_t&) noexcept { return counted_malloc(bytes); }
void* operator new[](std::size_t bytes, const std::nothrow_t&) noexcept { return counted_malloc(bytes); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

using namespace jetgrad;

namespace {

struct Allocations {
  std::size_t news, fresh_buffers;
};
Allocations allocations_now() { return {operator_news, detail::buffer_pool_stats().fresh_allocations}; }

// Heap allocations made by f (operator new, and buffers the cache had to take from malloc).
template <class F>
Allocations allocations_of(F&& f) {
  const Allocations before = allocations_now();
  f();
  const Allocations after = allocations_now();
  return {after.news - before.news, after.fresh_buffers - before.fresh_buffers};
}

Var rosenbrock_loop(const std::vector<Var>& x) {
  Var s = 0.0 * x[0];
  for (std::size_t i = 0; i + 1 < x.size(); ++i) {
    const Var t = x[i + 1] - x[i] * x[i], u = 1.0 - x[i];
    s = s + 100.0 * t * t + u * u;
  }
  return s;
}

}  // namespace

TEST_CASE("allocation: a recorded scalar loop replays without heap allocation", "[tape][replay][alloc]") {
  std::vector<Tensor> x0, x1;
  for (int i = 0; i < 200; ++i) {
    x0.emplace_back(0.5 + 0.01 * i);
    x1.emplace_back(-0.3 + 0.02 * i);
  }
  Tape tape;
  std::vector<Var> x;
  for (const Tensor& t : x0) x.push_back(tape.variable(t));
  const Var y = rosenbrock_loop(x);
  const double recorded = y.item();

  tape.replay(x1);  // the first replay may fill caches
  const Allocations replays = allocations_of([&] {
    for (int r = 0; r < 3; ++r) tape.replay(r % 2 == 0 ? x0 : x1);
  });
  CHECK(replays.news == 0);
  CHECK(replays.fresh_buffers == 0);
  CHECK(y.item() == recorded);  // the last replay was at x0 again

  // And the values it computed are the function's at that point.
  tape.replay(x1);
  double expected = 0;
  for (std::size_t i = 0; i + 1 < x1.size(); ++i) {
    const double t = x1[i + 1].item() - x1[i].item() * x1[i].item(), u = 1.0 - x1[i].item();
    expected += 100.0 * t * t + u * u;
  }
  CHECK(y.item() == Approx(expected).epsilon(1e-14));

  // Through the doubles interface, replay and gradient together allocate nothing either.
  std::vector<double> xd0, xd1, g(x.size());
  for (std::size_t i = 0; i < x0.size(); ++i) {
    xd0.push_back(x0[i].item());
    xd1.push_back(x1[i].item());
  }
  tape.replay(xd1);
  tape.gradient(y, x, g);
  const Allocations sweeps = allocations_of([&] {
    for (int r = 0; r < 3; ++r) {
      tape.replay(r % 2 == 0 ? xd0 : xd1);
      tape.gradient(y, x, g);
    }
  });
  CHECK(sweeps.news == 0);
  CHECK(sweeps.fresh_buffers == 0);
  const std::vector<Tensor> gt = tape.gradient(y, x);  // at x0, as the last replay
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(g[i] == gt[i].item());
}

TEST_CASE("allocation: a recorded tensor network replays without heap allocation", "[tape][replay][alloc]") {
  const Tensor X = gc::random_tensor(Shape{32, 8}, -1, 1, 1), W1 = gc::random_tensor(Shape{8, 16}, -1, 1, 2),
               W2 = gc::random_tensor(Shape{16, 1}, -1, 1, 3);
  Tape tape;
  const Var w1 = tape.variable(W1), w2 = tape.variable(W2);
  const Var y = mean(square(matmul(tanh(matmul(tape.constant(X), w1)), w2)));
  const double recorded = y.item();
  const Tensor W1b = gc::random_tensor(Shape{8, 16}, -1, 1, 4);
  tape.replay({W1b, W2});
  const Allocations replays = allocations_of([&] {
    for (int r = 0; r < 3; ++r) tape.replay({r % 2 == 0 ? W1 : W1b, W2});
  });
  CHECK(replays.news == 0);
  CHECK(replays.fresh_buffers == 0);
  CHECK(y.item() == recorded);  // the last replay was at the recorded point
}

TEST_CASE("allocation: PoolVector keeps its elements as it grows and reuses cached buffers", "[alloc]") {
  detail::PoolVector<double> v;
  for (int i = 0; i < 5000; ++i) v.push_back(0.5 * i);
  REQUIRE(v.size() == 5000);
  bool all_kept = true;
  for (int i = 0; i < 5000; ++i) all_kept &= v[static_cast<std::size_t>(i)] == 0.5 * i;
  CHECK(all_kept);
  detail::PoolVector<double> moved = std::move(v);
  CHECK(v.size() == 0);
  CHECK(moved[4999] == 0.5 * 4999);
  moved.assign(3, 7.0);
  CHECK((moved.size() == 3 && moved[0] == 7.0 && moved[2] == 7.0));

  // The same size made again, after the first is gone, comes from the cache.
  { detail::PoolVector<std::int32_t> a(100000, -1); }
  const Allocations again = allocations_of([] {
    detail::PoolVector<std::int32_t> b(100000, -1);
    CHECK(b[99999] == -1);
  });
  CHECK(again.fresh_buffers == 0);
  CHECK(again.news == 0);
}
