// ADOL-C 2.7 side of the reverse / Taylor / HVP comparison (bench/autodiff_bench.cpp is the jetgrad
// side; docs/performance.md, section "Reverse mode, Taylor mode, HVP", explains the table).
// Compiled only when bench/CMakeLists.txt found ADOL-C (JETGRAD_HAVE_ADOLC).
//
// Names (a contract, keep them exactly):
//   grad/adolc/<fn>/1000         trace_on .. trace_off (taping the function) + gradient()
//   grad_replay/adolc/<fn>/1000  gradient() on the existing tape (= zos_forward(keep=1) + fos_reverse)
//   taylor/adolc/<fn>/<K>        forward(tag, 1, n, K, keep=0, X[n][K+1], Y[1][K+1]) along one direction
//                                (hos_forward; ADOL-C itself routes K = 1 to fos_forward)
//   hvp/adolc/<fn>/1000          hess_vec() (fos_forward + hos_reverse)
// fn: rosenbrock_tensor and rosenbrock_scalar are the same loop over adoubles here (ADOL-C has no
// tensor operations); mlp_tanh is the 8-16-16-1 tanh network as loops over the batch, with the 433
// weights and biases as independents and the 1000 x 8 inputs passive doubles.
//
// Tape buffers: with its defaults (OBUFSIZE etc. = 524288 elements) ADOL-C would spill the MLP tape
// (~0.9M operations) to ADOL-C_*.tap files in the working directory. Each problem is taped once with
// large buffers, tapestats() reads what it needs, and every timed taping uses buffers just large enough
// (+25 %), so all tapes stay in memory, as in ADOL-C's intended fast path.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <adolc/adolc.h>
#include <benchmark/benchmark.h>

#include "autodiff_cases.hpp"
#include "bench_support.hpp"

namespace adbench {
namespace {

using bench_support::ratio_to;
using bench_support::seconds_per_call;

template <class T>
BENCHMARK_ALWAYS_INLINE inline void escape(const T& value) {
  benchmark::DoNotOptimize(value);
}

struct Buffers {
  uint obs, lbs, vbs, tbs;
};

struct ProblemData {
  Problem problem;
  std::vector<double> x;  // the independents (Rosenbrock point or flattened MLP parameters)
  std::vector<double> v;  // one direction
  std::vector<double> X;  // MLP inputs (passive), empty for Rosenbrock
  std::size_t items;      // items/s counter: n (Rosenbrock) or the batch (MLP)
};

const ProblemData& data(Problem p) {
  static const ProblemData rosen{Problem::rosenbrock, rosen_point(), rosen_direction(), {}, rosen_n};
  static const ProblemData mlp{Problem::mlp_tanh, mlp_params(), mlp_direction(), mlp_inputs(), mlp_batch};
  return p == Problem::rosenbrock ? rosen : mlp;
}

void record(short tag, const ProblemData& d, const Buffers& b) {
  trace_on(tag, 0, b.obs, b.lbs, b.vbs, b.tbs);
  {
    std::vector<adouble> ax(d.x.size());
    for (std::size_t i = 0; i < ax.size(); ++i) ax[i] <<= d.x[i];
    adouble y = d.problem == Problem::rosenbrock ? rosenbrock_loop(ax) : mlp_loop(ax, d.X);
    double yv = 0.0;
    y >>= yv;
  }
  trace_off();
}

// Buffers that hold the whole tape of `p` in memory (measured once by a probe taping).
const Buffers& buffers(Problem p) {
  auto measure = [](Problem q) {
    constexpr uint big = 1u << 23;
    const short probe_tag = 99;
    record(probe_tag, data(q), Buffers{big, big, big, big});
    std::size_t st[STAT_SIZE] = {};
    tapestats(probe_tag, st);
    if (st[OP_FILE_ACCESS] || st[LOC_FILE_ACCESS] || st[VAL_FILE_ACCESS]) {
      throw std::runtime_error("ADOL-C probe tape spilled to files; raise the probe buffers");
    }
    auto fit = [](std::size_t n) { return static_cast<uint>(n + n / 4 + 1024); };
    return Buffers{fit(st[NUM_OPERATIONS]), fit(st[NUM_LOCATIONS]), fit(st[NUM_VALUES]),
                   fit(st[TAY_STACK_SIZE])};
  };
  static const Buffers rosen = measure(Problem::rosenbrock);
  static const Buffers mlp = measure(Problem::mlp_tanh);
  return p == Problem::rosenbrock ? rosen : mlp;
}

short tag_of(Problem p) { return p == Problem::rosenbrock ? 1 : 2; }

// Taylor input/output arrays for forward(tag, 1, n, K, 0, X, Y): X[i] = (x_i, v_i, 0, ..., 0).
struct TaylorArrays {
  std::vector<std::vector<double>> rows;
  std::vector<double*> X;
  std::vector<double> y;
  double* Y[1];
  TaylorArrays(const ProblemData& d, int K)
      : rows(d.x.size(), std::vector<double>(static_cast<std::size_t>(K) + 1, 0.0)),
        X(d.x.size()),
        y(static_cast<std::size_t>(K) + 1, 0.0) {
    for (std::size_t i = 0; i < rows.size(); ++i) {
      rows[i][0] = d.x[i];
      if (K >= 1) rows[i][1] = d.v[i];
      X[i] = rows[i].data();
    }
    Y[0] = y.data();
  }
};

void check_rc(int rc, const char* what) {
  if (rc < 0) throw std::runtime_error(std::string("ADOL-C ") + what + " returned " + std::to_string(rc));
}

const char* fn_name(Problem p, bool scalar = false) {
  if (p == Problem::mlp_tanh) return "mlp_tanh";
  return scalar ? "rosenbrock_scalar" : "rosenbrock_tensor";
}

bool skip_if_invalid(benchmark::State& state, Problem p) {
  // The two Rosenbrock names share one ADOL-C tape: run it only if both jetgrad forms validated.
  const std::string err = p == Problem::mlp_tanh
                              ? validation_error(fn_name(p))
                              : validation_error(fn_name(p)) + validation_error(fn_name(p, true));
  return bench_support::skip_unvalidated(state, err);
}

void set_items(benchmark::State& state, const ProblemData& d) {
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(d.items));
}

// ---- benchmarks ----------------------------------------------------------------------------------

void BM_adolc_grad(benchmark::State& state, Problem p) {
  if (skip_if_invalid(state, p)) return;
  const ProblemData& d = data(p);
  const Buffers& b = buffers(p);
  const short tag = tag_of(p);
  const int n = static_cast<int>(d.x.size());
  std::vector<double> g(d.x.size());
  for (auto _ : state) {
    record(tag, d, b);
    check_rc(gradient(tag, n, d.x.data(), g.data()), "gradient");
    escape(g.data());
    benchmark::ClobberMemory();
  }
  set_items(state, d);
}

void BM_adolc_grad_replay(benchmark::State& state, Problem p) {
  if (skip_if_invalid(state, p)) return;
  const ProblemData& d = data(p);
  const short tag = tag_of(p);
  const int n = static_cast<int>(d.x.size());
  record(tag, d, buffers(p));
  std::vector<double> g(d.x.size());
  for (auto _ : state) {
    check_rc(gradient(tag, n, d.x.data(), g.data()), "gradient");
    escape(g.data());
    benchmark::ClobberMemory();
  }
  set_items(state, d);
}

void BM_adolc_taylor(benchmark::State& state, Problem p) {
  if (skip_if_invalid(state, p)) return;
  const int K = static_cast<int>(state.range(0));
  const ProblemData& d = data(p);
  const short tag = tag_of(p);
  const int n = static_cast<int>(d.x.size());
  record(tag, d, buffers(p));
  TaylorArrays ta(d, K);
  std::vector<double> y0(1);
  const double zos =
      seconds_per_call([&] { check_rc(zos_forward(tag, 1, n, 0, d.x.data(), y0.data()), "zos_forward"); });
  for (auto _ : state) {
    check_rc(forward(tag, 1, n, K, 0, ta.X.data(), ta.Y), "forward");
    escape(ta.y.data());
    benchmark::ClobberMemory();
  }
  set_items(state, d);
  state.counters["x_zos"] = ratio_to(zos);  // time / ADOL-C's zos_forward (its tape replay)
}

void BM_adolc_hvp(benchmark::State& state, Problem p) {
  if (skip_if_invalid(state, p)) return;
  const ProblemData& d = data(p);
  const short tag = tag_of(p);
  const int n = static_cast<int>(d.x.size());
  record(tag, d, buffers(p));
  std::vector<double> x = d.x, v = d.v, w(d.x.size());
  std::vector<double> g(d.x.size());
  const double grad_s = seconds_per_call([&] { check_rc(gradient(tag, n, x.data(), g.data()), "gradient"); });
  for (auto _ : state) {
    check_rc(hess_vec(tag, n, x.data(), v.data(), w.data()), "hess_vec");
    escape(w.data());
    benchmark::ClobberMemory();
  }
  set_items(state, d);
  state.counters["x_grad_replay"] = ratio_to(grad_s);  // time / ADOL-C's gradient() on the kept tape
}

#define ADBENCH_NAME(family, fn) family "/adolc/" fn "/1000"
BENCHMARK_CAPTURE(BM_adolc_grad, rosenbrock_tensor, Problem::rosenbrock)
    ->Name(ADBENCH_NAME("grad", "rosenbrock_tensor"));
BENCHMARK_CAPTURE(BM_adolc_grad, rosenbrock_scalar, Problem::rosenbrock)
    ->Name(ADBENCH_NAME("grad", "rosenbrock_scalar"));
BENCHMARK_CAPTURE(BM_adolc_grad, mlp_tanh, Problem::mlp_tanh)->Name(ADBENCH_NAME("grad", "mlp_tanh"));
BENCHMARK_CAPTURE(BM_adolc_grad_replay, rosenbrock_tensor, Problem::rosenbrock)
    ->Name(ADBENCH_NAME("grad_replay", "rosenbrock_tensor"));
BENCHMARK_CAPTURE(BM_adolc_grad_replay, rosenbrock_scalar, Problem::rosenbrock)
    ->Name(ADBENCH_NAME("grad_replay", "rosenbrock_scalar"));
BENCHMARK_CAPTURE(BM_adolc_grad_replay, mlp_tanh, Problem::mlp_tanh)
    ->Name(ADBENCH_NAME("grad_replay", "mlp_tanh"));
// Registered with ->Arg(K): Google Benchmark appends "/K" to the name.
BENCHMARK_CAPTURE(BM_adolc_taylor, mlp_tanh, Problem::mlp_tanh)
    ->Name("taylor/adolc/mlp_tanh")
    ->Arg(1)
    ->Arg(2)
    ->Arg(4)
    ->Arg(8);
BENCHMARK_CAPTURE(BM_adolc_taylor, rosenbrock_tensor, Problem::rosenbrock)
    ->Name("taylor/adolc/rosenbrock_tensor")
    ->Arg(1)
    ->Arg(2)
    ->Arg(4)
    ->Arg(8);
BENCHMARK_CAPTURE(BM_adolc_hvp, rosenbrock_tensor, Problem::rosenbrock)
    ->Name(ADBENCH_NAME("hvp", "rosenbrock_tensor"));
BENCHMARK_CAPTURE(BM_adolc_hvp, mlp_tanh, Problem::mlp_tanh)->Name(ADBENCH_NAME("hvp", "mlp_tanh"));
#undef ADBENCH_NAME

}  // namespace

// ---- reference answers for the validation in autodiff_bench.cpp ------------------------------------

AdolcReference adolc_reference(Problem problem, const std::vector<double>& x, const std::vector<double>& v,
                               const std::vector<int>& degrees) {
  const short tag = 90;
  ProblemData d = data(problem);
  d.x = x;
  d.v = v;
  record(tag, d, buffers(problem));
  const int n = static_cast<int>(x.size());
  AdolcReference r;
  std::size_t st[STAT_SIZE] = {};
  tapestats(tag, st);
  r.tape_operations = st[NUM_OPERATIONS];
  std::vector<double> xs = x, vs = v;
  r.gradient.resize(x.size());
  r.hess_vec.resize(x.size());
  check_rc(function(tag, 1, n, xs.data(), &r.value), "function");
  check_rc(gradient(tag, n, xs.data(), r.gradient.data()), "gradient");
  check_rc(hess_vec(tag, n, xs.data(), vs.data(), r.hess_vec.data()), "hess_vec");
  for (int K : degrees) {
    TaylorArrays ta(d, K);
    check_rc(forward(tag, 1, n, K, 0, ta.X.data(), ta.Y), "forward");
    r.taylor.push_back(ta.y);
  }
  return r;
}

}  // namespace adbench
