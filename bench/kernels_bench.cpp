// Kernel benchmarks: jetgrad's float32 tensor operations beside the plain C++ loop a user would
// otherwise write, and jetgrad's matmul beside cblas_sgemm called directly.
//
// Names are a contract (docs/performance.md and scripts compare them; keep them exactly):
//   kernel/<op>/<n>              jetgrad op on a float32 tensor of n elements
//   kernel/<op>_scalar_loop/<n>  plain loop over std:: functions on a std::vector<float>, same n
//   kernel/matmul/<n>            jetgrad matmul of two n x n float32 tensors
//   gemm/openblas/<n>            cblas_sgemm on the same sizes, output pre-allocated
//
// What is timed:
//   * jetgrad ops return a new Tensor, so they are measured the way users call them: the result's
//     allocation (and its free at the end of the iteration) is inside the timed region. For n = 1000
//     that is a visible part of the time. For n = 1e6 glibc keeps one freed 4 MB block cached, but
//     ops that make several 4 MB temporaries (logsumexp, softmax) get them trimmed and page-faulted
//     back on every call (see docs/performance.md).
//   * the scalar loops write into a pre-allocated std::vector, so they time the loop alone. They are
//     compiled with the same flags as everything else (-O3 -march=native, no -ffast-math): the
//     compiler vectorizes add/mul itself, but not std::exp/std::tanh calls nor float reductions
//     (which would need reassociation), so those stay one element at a time.
//   * bytes/s (SetBytesProcessed) counts the logical traffic: every input element read once and
//     every output element written once (n*4 bytes for a reduction, 2*n*4 for a unary map, 3*n*4 for
//     a binary one), not the passes an implementation really makes (softmax reads its input twice).
//     items/s counts elements of the input.
//   * matmul and gemm report FLOPS = 2 n^3 per iteration as a rate.
//
// Run single-threaded BLAS for comparable figures:
//   OPENBLAS_NUM_THREADS=1 ./jetgrad_bench --benchmark_filter='kernel|gemm' --benchmark_min_time=0.2
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>
#include <cblas.h>

#include "autodiff/tensor.hpp"
#include "autodiff/tensor_ops.hpp"

namespace {

using jetgrad::DType;
using jetgrad::Shape;
using jetgrad::Tensor;

// Inputs in [-4, 4]: exp, tanh and sigmoid take their general path (no saturation shortcut),
// and nothing overflows in float.
std::vector<float> random_floats(std::size_t n, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-4.0f, 4.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

Tensor make_tensor(const Shape& shape, std::uint32_t seed) {
  Tensor t(DType::f32, shape);
  const std::vector<float> v = random_floats(shape.numel(), seed);
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

void set_traffic(benchmark::State& state, std::size_t n, std::size_t floats_per_element) {
  const auto iters = static_cast<std::int64_t>(state.iterations());
  state.SetBytesProcessed(iters * static_cast<std::int64_t>(n * floats_per_element * sizeof(float)));
  state.SetItemsProcessed(iters * static_cast<std::int64_t>(n));
}

// Only the const-reference form of DoNotOptimize is used (through escape()): with GCC 12, benchmark
// 1.7.1's read-write form (asm "+m,r" on a non-const lvalue) miscompiled these loops at -O3 -- the
// pointer read back after it was garbage and the loop segfaulted. An input-only asm operand plus the
// "memory" clobber is all that is needed here.
template <class T>
BENCHMARK_ALWAYS_INLINE inline void escape(const T& value) {
  benchmark::DoNotOptimize(value);
}

// ---- jetgrad ops -------------------------------------------------------------------------------
// The result is created (allocated) and destroyed in every iteration: that is the cost users pay.

using UnaryOp = Tensor (*)(const Tensor&);

void bench_unary(benchmark::State& state, UnaryOp op, std::size_t n, std::size_t floats_per_element) {
  const Tensor x = make_tensor(Shape{n}, 1);
  for (auto _ : state) {
    Tensor y = op(x);
    escape(y.raw_data());
    benchmark::ClobberMemory();
  }
  set_traffic(state, n, floats_per_element);
}

using BinaryOp = Tensor (*)(const Tensor&, const Tensor&);

void bench_binary(benchmark::State& state, BinaryOp op, std::size_t n) {
  const Tensor a = make_tensor(Shape{n}, 1);
  const Tensor b = make_tensor(Shape{n}, 2);
  for (auto _ : state) {
    Tensor y = op(a, b);
    escape(y.raw_data());
    benchmark::ClobberMemory();
  }
  set_traffic(state, n, 3);
}

// Overload sets (sum/max/logsumexp/softmax have axis forms): pick the one-argument form explicitly.
Tensor op_exp(const Tensor& x) { return jetgrad::exp(x); }
Tensor op_tanh(const Tensor& x) { return jetgrad::tanh(x); }
Tensor op_sigmoid(const Tensor& x) { return jetgrad::sigmoid(x); }
Tensor op_sum(const Tensor& x) { return jetgrad::sum(x); }
Tensor op_max(const Tensor& x) { return jetgrad::max(x); }
Tensor op_logsumexp(const Tensor& x) { return jetgrad::logsumexp(x); }
Tensor op_softmax(const Tensor& x) { return jetgrad::softmax(x, -1); }
Tensor op_add(const Tensor& a, const Tensor& b) { return a + b; }
Tensor op_mul(const Tensor& a, const Tensor& b) { return a * b; }

// ---- plain scalar loops --------------------------------------------------------------------------
// Pre-allocated output; the buffers escape and memory is clobbered every iteration, so the compiler
// can neither drop the work nor hoist it out of the timing loop.

template <class F>
void bench_scalar_map(benchmark::State& state, std::size_t n, F f) {
  const std::vector<float> in = random_floats(n, 1);
  std::vector<float> out(n);
  for (auto _ : state) {
    const float* x = in.data();
    float* y = out.data();
    escape(x);
    escape(y);
    for (std::size_t i = 0; i < n; ++i) y[i] = f(x[i]);
    benchmark::ClobberMemory();
  }
  set_traffic(state, n, 2);
}

template <class F>
void bench_scalar_zip(benchmark::State& state, std::size_t n, F f) {
  const std::vector<float> in_a = random_floats(n, 1);
  const std::vector<float> in_b = random_floats(n, 2);
  std::vector<float> out(n);
  for (auto _ : state) {
    const float* a = in_a.data();
    const float* b = in_b.data();
    float* y = out.data();
    escape(a);
    escape(b);
    escape(y);
    for (std::size_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
    benchmark::ClobberMemory();
  }
  set_traffic(state, n, 3);
}

float scalar_max(const float* x, std::size_t n) {
  float m = -std::numeric_limits<float>::infinity();
  for (std::size_t i = 0; i < n; ++i) m = std::max(m, x[i]);
  return m;
}

void scalar_sum(benchmark::State& state, std::size_t n) {
  const std::vector<float> in = random_floats(n, 1);
  for (auto _ : state) {
    const float* x = in.data();
    escape(x);
    float s = 0.0f;
    for (std::size_t i = 0; i < n; ++i) s += x[i];
    escape(s);
    benchmark::ClobberMemory();
  }
  set_traffic(state, n, 1);
}

void scalar_max_bench(benchmark::State& state, std::size_t n) {
  const std::vector<float> in = random_floats(n, 1);
  for (auto _ : state) {
    const float* x = in.data();
    escape(x);
    float m = scalar_max(x, n);
    escape(m);
    benchmark::ClobberMemory();
  }
  set_traffic(state, n, 1);
}

void scalar_logsumexp(benchmark::State& state, std::size_t n) {
  const std::vector<float> in = random_floats(n, 1);
  for (auto _ : state) {
    const float* x = in.data();
    escape(x);
    const float m = scalar_max(x, n);
    float s = 0.0f;
    for (std::size_t i = 0; i < n; ++i) s += std::exp(x[i] - m);
    float r = m + std::log(s);
    escape(r);
    benchmark::ClobberMemory();
  }
  set_traffic(state, n, 1);
}

void scalar_softmax(benchmark::State& state, std::size_t n) {
  const std::vector<float> in = random_floats(n, 1);
  std::vector<float> out(n);
  for (auto _ : state) {
    const float* x = in.data();
    float* y = out.data();
    escape(x);
    escape(y);
    const float m = scalar_max(x, n);
    float s = 0.0f;
    for (std::size_t i = 0; i < n; ++i) {
      y[i] = std::exp(x[i] - m);
      s += y[i];
    }
    const float inv = 1.0f / s;
    for (std::size_t i = 0; i < n; ++i) y[i] *= inv;
    benchmark::ClobberMemory();
  }
  set_traffic(state, n, 2);
}

// ---- matrix products ---------------------------------------------------------------------------

void set_flops(benchmark::State& state, std::size_t n) {
  const double nd = static_cast<double>(n);
  state.counters["FLOPS"] =
      benchmark::Counter(2.0 * nd * nd * nd, benchmark::Counter::kIsIterationInvariantRate);
}

// jetgrad matmul allocates its n x n result every iteration (as users call it).
void jetgrad_matmul(benchmark::State& state, std::size_t n) {
  const Tensor a = make_tensor(Shape{n, n}, 1);
  const Tensor b = make_tensor(Shape{n, n}, 2);
  for (auto _ : state) {
    Tensor c = jetgrad::matmul(a, b);
    escape(c.raw_data());
    benchmark::ClobberMemory();
  }
  set_flops(state, n);
}

// The ceiling: the BLAS jetgrad links, called directly into a pre-allocated output.
void openblas_sgemm(benchmark::State& state, std::size_t n) {
  const std::vector<float> a = random_floats(n * n, 1);
  const std::vector<float> b = random_floats(n * n, 2);
  std::vector<float> c(n * n);
  const int ni = static_cast<int>(n);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni, ni, ni, 1.0f, a.data(), ni, b.data(), ni, 0.0f,
                c.data(), ni);
    escape(c.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, n);
}

// ---- registration ------------------------------------------------------------------------------

template <class F>
void register_bench(const std::string& name, F fn) {
  benchmark::RegisterBenchmark(name.c_str(), std::move(fn));  // the name is kept exactly as given
}

// "<prefix>/<n>" (built by appending: GCC 12 gives a false -Wrestrict on "/" + std::to_string(n)).
std::string bench_name(const char* prefix, std::size_t n) {
  std::string name = prefix;
  name += '/';
  name += std::to_string(n);
  return name;
}

bool register_kernel_benchmarks() {
#ifdef OPENBLAS_VERSION
  benchmark::AddCustomContext("openblas_corename", openblas_get_corename());
  benchmark::AddCustomContext("openblas_config", openblas_get_config());
#endif
  for (std::size_t n : {std::size_t{1000}, std::size_t{1000000}}) {
    register_bench(bench_name("kernel/exp", n), [n](benchmark::State& s) { bench_unary(s, op_exp, n, 2); });
    register_bench(bench_name("kernel/exp_scalar_loop", n),
                   [n](benchmark::State& s) { bench_scalar_map(s, n, [](float v) { return std::exp(v); }); });

    register_bench(bench_name("kernel/tanh", n), [n](benchmark::State& s) { bench_unary(s, op_tanh, n, 2); });
    register_bench(bench_name("kernel/tanh_scalar_loop", n), [n](benchmark::State& s) {
      bench_scalar_map(s, n, [](float v) { return std::tanh(v); });
    });

    register_bench(bench_name("kernel/sigmoid", n),
                   [n](benchmark::State& s) { bench_unary(s, op_sigmoid, n, 2); });
    register_bench(bench_name("kernel/sigmoid_scalar_loop", n), [n](benchmark::State& s) {
      bench_scalar_map(s, n, [](float v) { return 1.0f / (1.0f + std::exp(-v)); });
    });

    register_bench(bench_name("kernel/add", n), [n](benchmark::State& s) { bench_binary(s, op_add, n); });
    register_bench(bench_name("kernel/add_scalar_loop", n), [n](benchmark::State& s) {
      bench_scalar_zip(s, n, [](float p, float q) { return p + q; });
    });

    register_bench(bench_name("kernel/mul", n), [n](benchmark::State& s) { bench_binary(s, op_mul, n); });
    register_bench(bench_name("kernel/mul_scalar_loop", n), [n](benchmark::State& s) {
      bench_scalar_zip(s, n, [](float p, float q) { return p * q; });
    });

    register_bench(bench_name("kernel/sum", n), [n](benchmark::State& s) { bench_unary(s, op_sum, n, 1); });
    register_bench(bench_name("kernel/sum_scalar_loop", n), [n](benchmark::State& s) { scalar_sum(s, n); });

    register_bench(bench_name("kernel/max", n), [n](benchmark::State& s) { bench_unary(s, op_max, n, 1); });
    register_bench(bench_name("kernel/max_scalar_loop", n),
                   [n](benchmark::State& s) { scalar_max_bench(s, n); });

    register_bench(bench_name("kernel/logsumexp", n),
                   [n](benchmark::State& s) { bench_unary(s, op_logsumexp, n, 1); });
    register_bench(bench_name("kernel/logsumexp_scalar_loop", n),
                   [n](benchmark::State& s) { scalar_logsumexp(s, n); });

    register_bench(bench_name("kernel/softmax", n),
                   [n](benchmark::State& s) { bench_unary(s, op_softmax, n, 2); });
    register_bench(bench_name("kernel/softmax_scalar_loop", n),
                   [n](benchmark::State& s) { scalar_softmax(s, n); });
  }
  for (std::size_t n : {std::size_t{64}, std::size_t{256}, std::size_t{1024}}) {
    register_bench(bench_name("kernel/matmul", n), [n](benchmark::State& s) { jetgrad_matmul(s, n); });
    register_bench(bench_name("gemm/openblas", n), [n](benchmark::State& s) { openblas_sgemm(s, n); });
  }
  return true;
}

[[maybe_unused]] const bool kernel_benchmarks_registered = register_kernel_benchmarks();

}  // namespace
