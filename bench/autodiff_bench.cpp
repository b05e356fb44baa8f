// Reverse mode, Taylor mode and Hessian-vector products: jetgrad beside ADOL-C 2.7 (whose side is in
// bench/adolc_cases.cpp, built when ADOL-C is found). docs/performance.md, section "Reverse mode,
// Taylor mode, HVP", has the measured table and the targets.
//
// Names are a contract (docs and scripts compare them; keep them exactly): <family>/<impl>/<case>/<size>
//   eval/jetgrad/<fn>/1000         one forward evaluation with plain Tensors (no tape)
//   grad/jetgrad/<fn>/1000         what a user calls: a fresh Tape, its variables, f, gradient()
//   grad_replay/jetgrad/<fn>/1000  on a kept tape: Tape::replay at the same point + gradient(); for
//                                  rosenbrock_scalar through the doubles interface (replay from and
//                                  gradient into std::vector<double>), as ADOL-C's gradient(tag, n, x, g)
//   grad_replay_tensors/jetgrad/rosenbrock_scalar/1000  the same through the tensor interface (1,000
//                                  0-d tensors in, 1,000 out)
//   taylor/jetgrad/<fn>/<K>        Tape::taylor of degree K on a recorded tape, one direction (D = 1)
//   hvp/jetgrad/<fn>/1000          H v by HvpMethod::taylor_over_reverse (the default), recording included
//   hvp_rr/jetgrad/<fn>/1000       H v by HvpMethod::reverse_over_reverse, recording included
// with ADOL-C's grad/adolc, grad_replay/adolc, taylor/adolc, hvp/adolc beside them.
//
// The functions (float64 throughout, data in bench/autodiff_cases.hpp):
//   rosenbrock_tensor  f(x) = sum(100 (x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2) with slice on one x of
//                      1000 elements, written as a NumPy user would (a*a, not pow(a, 2)).
//   rosenbrock_scalar  the same function as the textbook loop over 0-d Vars, x given as 1000 separate
//                      0-d inputs (tape.variable per element): exactly what ADOL-C users write
//                      (x[i] <<= xp[i]), and the same template (adbench::rosenbrock_loop) that ADOL-C
//                      runs over adoubles. Its eval runs that loop over 0-d Tensors.
//   mlp_tanh           an 8-16-16-1 tanh network on a batch of 1000 fixed random inputs, loss = mean of
//                      the squared output; the 6 weight/bias tensors (433 numbers) are the inputs.
//                      jetgrad uses matmul + broadcasting bias adds; ADOL-C loops over the batch.
//                      The functional hvp() takes one input, so the MLP's HVPs call the same Tape
//                      steps hvp() makes (gradient_vars, then taylor_terms or gradient) with six inputs.
//
// Validation: before the first timing, every jetgrad result timed here is compared with ADOL-C's
// (gradient, Taylor coefficients for K = 1, 2, 4, 8, hess_vec) and between jetgrad's own paths
// (record vs replay, Taylor-over-reverse vs reverse-over-reverse); max |a - b| / max |b| <= 1e-10 per
// vector. A failure turns every benchmark of that case (jetgrad's and ADOL-C's) into an error
// ("validation failed, not timed"). The errors found are printed to stderr.
//
// Counters: items/s counts the n = 1000 Rosenbrock coordinates or the 1000 MLP samples per call;
// x_eval (Taylor) = time / eval/jetgrad of the same fn; x_grad (HVP) = time / grad/jetgrad.
//
//   OPENBLAS_NUM_THREADS=1 ./jetgrad_bench --benchmark_filter='eval/|grad|taylor/|hvp'
//   --benchmark_min_time=0.2
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#include "autodiff/functional.hpp"
#include "autodiff/tape.hpp"
#include "autodiff/var.hpp"
#include "autodiff_cases.hpp"
#include "bench_support.hpp"

namespace adbench {
namespace {

using bench_support::ratio_to;
using bench_support::seconds_per_call;

using jetgrad::DType;
using jetgrad::HvpMethod;
using jetgrad::Shape;
using jetgrad::Tape;
using jetgrad::Tensor;
using jetgrad::Var;

// Const-reference DoNotOptimize only: benchmark 1.7.1's writable form miscompiles with GCC 12
// (see bench/kernels_bench.cpp).
template <class T>
BENCHMARK_ALWAYS_INLINE inline void escape(const T& value) {
  benchmark::DoNotOptimize(value);
}

// ---- the functions, written once for Tensor (eval) and Var (recorded) ------------------------------

template <class T>
T rosenbrock_tensor(const T& x) {
  const auto n = static_cast<std::ptrdiff_t>(x.numel());
  const T a = slice(x, 0, 0, n - 1);
  const T b = slice(x, 0, 1, n);
  const T t = b - a * a;
  const T u = 1.0 - a;
  return sum(100.0 * t * t + u * u);
}

template <class T>
T mlp_tanh(const std::vector<T>& p, const Tensor& X) {
  const T h1 = tanh(matmul(X, p[0]) + p[1]);
  const T h2 = tanh(matmul(h1, p[2]) + p[3]);
  const T out = matmul(h2, p[4]) + p[5];
  return mean(out * out);
}

enum class Fn { rosenbrock_tensor, rosenbrock_scalar, mlp_tanh };

const char* fn_name(Fn f) {
  switch (f) {
    case Fn::rosenbrock_tensor:
      return "rosenbrock_tensor";
    case Fn::rosenbrock_scalar:
      return "rosenbrock_scalar";
    case Fn::mlp_tanh:
      return "mlp_tanh";
  }
  return "?";
}

Tensor tensor_of(const double* v, const Shape& shape) {
  Tensor t(DType::f64, shape);
  std::copy(v, v + shape.numel(), t.data<double>());
  return t;
}

// A problem as jetgrad sees it: the differentiated inputs as Tensors, one direction per input
// (shape [1] + its shape, i.e. D = 1), the MLP's data.
struct Case {
  Fn fn;
  std::vector<Tensor> inputs;
  std::vector<Tensor> directions;
  std::vector<Tensor> plain_directions;  // same shapes as the inputs (for the functional hvp)
  Tensor X;
  std::vector<double> x_flat, v_flat;  // the same numbers, flattened (ADOL-C's order)
  std::size_t items = 0;
};

Case make_case(Fn fn) {
  Case c;
  c.fn = fn;
  if (fn == Fn::mlp_tanh) {
    c.x_flat = mlp_params();
    c.v_flat = mlp_direction();
    const Shape shapes[6] = {Shape{mlp_in, mlp_h1}, Shape{mlp_h1},          Shape{mlp_h1, mlp_h2},
                             Shape{mlp_h2},         Shape{mlp_h2, mlp_out}, Shape{mlp_out}};
    std::size_t off = 0;
    for (const Shape& s : shapes) {
      c.inputs.push_back(tensor_of(c.x_flat.data() + off, s));
      c.plain_directions.push_back(tensor_of(c.v_flat.data() + off, s));
      Shape ds{1};
      for (std::size_t d : s) ds.push_back(d);
      c.directions.push_back(tensor_of(c.v_flat.data() + off, ds));
      off += s.numel();
    }
    const std::vector<double> X = mlp_inputs();
    c.X = tensor_of(X.data(), Shape{mlp_batch, mlp_in});
    c.items = mlp_batch;
  } else {
    c.x_flat = rosen_point();
    c.v_flat = rosen_direction();
    if (fn == Fn::rosenbrock_tensor) {
      c.inputs.push_back(tensor_of(c.x_flat.data(), Shape{rosen_n}));
      c.plain_directions.push_back(tensor_of(c.v_flat.data(), Shape{rosen_n}));
      c.directions.push_back(tensor_of(c.v_flat.data(), Shape{1, rosen_n}));
    } else {
      for (std::size_t i = 0; i < rosen_n; ++i) {
        c.inputs.emplace_back(c.x_flat[i]);
        c.plain_directions.emplace_back(c.v_flat[i]);
        c.directions.push_back(tensor_of(&c.v_flat[i], Shape{1}));
      }
    }
    c.items = rosen_n;
  }
  return c;
}

// Deliberately never destroyed: Tensors in objects with static storage would be freed after the
// thread's buffer cache (autodiff/buffer_pool.cpp, thread_local) is gone, which corrupted the heap at exit.
const Case& get_case(Fn fn) {
  static const Case* const cases = new Case[3]{make_case(Fn::rosenbrock_tensor),
                                               make_case(Fn::rosenbrock_scalar), make_case(Fn::mlp_tanh)};
  return cases[static_cast<int>(fn)];
}

Var call_fn(const Case& c, const std::vector<Var>& vars) {
  switch (c.fn) {
    case Fn::rosenbrock_tensor:
      return rosenbrock_tensor(vars[0]);
    case Fn::rosenbrock_scalar:
      return rosenbrock_loop(vars);
    case Fn::mlp_tanh:
      return mlp_tanh(vars, c.X);
  }
  return {};
}

Tensor eval(const Case& c) {
  switch (c.fn) {
    case Fn::rosenbrock_tensor:
      return rosenbrock_tensor(c.inputs[0]);
    case Fn::rosenbrock_scalar:
      return rosenbrock_loop(c.inputs);
    case Fn::mlp_tanh:
      return mlp_tanh(c.inputs, c.X);
  }
  return {};
}

// A recorded tape kept across iterations (Tape is neither copyable nor movable).
struct Recorded {
  std::unique_ptr<Tape> tape = std::make_unique<Tape>();
  std::vector<Var> vars;
  Var y;
};

std::unique_ptr<Recorded> record(const Case& c) {
  auto r = std::make_unique<Recorded>();
  r->vars.reserve(c.inputs.size());
  for (const Tensor& t : c.inputs) r->vars.push_back(r->tape->variable(t));
  r->y = call_fn(c, r->vars);
  return r;
}

// ---- the timed operations (the validation calls the very same functions) ---------------------------

std::vector<Tensor> grad_record(const Case& c) {
  Tape tape;
  std::vector<Var> vars;
  vars.reserve(c.inputs.size());
  for (const Tensor& t : c.inputs) vars.push_back(tape.variable(t));
  const Var y = call_fn(c, vars);
  return tape.gradient(y, vars);
}

std::vector<Tensor> grad_replay(Recorded& r, const Case& c) {
  r.tape->replay(c.inputs);
  return r.tape->gradient(r.y, r.vars);
}

// Scalar code's replay + gradient through the doubles interface (every input a 0-d float64).
void grad_replay_doubles(Recorded& r, const Case& c, std::vector<double>& g) {
  r.tape->replay(c.x_flat);
  r.tape->gradient(r.y, r.vars, g);
}

std::vector<Tensor> taylor(const Recorded& r, const Case& c, int K) {
  const Var outs[] = {r.y};
  return r.tape->taylor(outs, r.vars, c.directions, K)[0];
}

std::vector<Tensor> hvp(const Case& c, HvpMethod method) {
  if (c.fn == Fn::rosenbrock_tensor) {
    return {jetgrad::hvp([](const Var& x) { return rosenbrock_tensor(x); }, c.inputs[0],
                         c.plain_directions[0], method)};
  }
  // Several inputs: the steps of jetgrad::hvp (autodiff/functional.cpp) with one Var per tensor.
  Tape tape;
  std::vector<Var> vars;
  vars.reserve(c.inputs.size());
  for (const Tensor& t : c.inputs) vars.push_back(tape.variable(t));
  const Var y = call_fn(c, vars);
  const std::vector<Var> g = tape.gradient_vars(y, vars);
  if (method == HvpMethod::reverse_over_reverse) {
    Var s = sum(g[0] * c.plain_directions[0]);
    for (std::size_t j = 1; j < g.size(); ++j) s = s + sum(g[j] * c.plain_directions[j]);
    return tape.gradient(s, vars);
  }
  std::vector<std::vector<Tensor>> t = tape.taylor_terms(g, vars, c.directions, 1);
  std::vector<Tensor> out;
  out.reserve(t.size());
  for (std::size_t j = 0; j < t.size(); ++j) out.push_back(jetgrad::reshape(t[j][0], c.inputs[j].shape()));
  return out;
}

// ---- validation ------------------------------------------------------------------------------------

std::vector<double> flatten(const std::vector<Tensor>& ts) {
  std::vector<double> out;
  for (const Tensor& t : ts)
    for (std::size_t i = 0; i < t.numel(); ++i) out.push_back(t.at(i));
  return out;
}

std::vector<double> taylor_items(const std::vector<Tensor>& c) {
  std::vector<double> out;
  for (const Tensor& t : c) out.push_back(t.item());
  return out;
}

// max |a - b| / max |b| (0 when both are all zeros; 1e300 on a size mismatch).
double rel_error(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return 1e300;
  double diff = 0.0, scale = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  if (!std::isfinite(diff)) return 1e300;
  return scale > 0.0 ? diff / scale : diff;
}

// Failures per case name; "" collects failures not tied to one case (an exception).
std::map<std::string, std::string> run_validation() {
  constexpr double tol = 1e-10;
  const int degrees[] = {1, 2, 4, 8};
  std::map<std::string, std::string> failures;
  double worst = 0.0;
  auto check = [&](const std::string& what, const std::vector<double>& a, const std::vector<double>& b) {
    const double e = rel_error(a, b);
    worst = std::max(worst, e);
    std::fprintf(stderr, "  %-58s rel err %.2e%s\n", what.c_str(), e, e <= tol ? "" : "  <-- FAIL");
    if (!(e <= tol)) {
      std::ostringstream msg;
      msg << what << " (rel err " << e << "); ";
      failures[what.substr(0, what.find(':'))] += msg.str();
    }
  };
  std::fprintf(stderr, "autodiff_bench validation (max|a-b|/max|b| <= %.0e):\n", tol);
  try {
    for (Fn fn : {Fn::rosenbrock_tensor, Fn::rosenbrock_scalar, Fn::mlp_tanh}) {
      const Case& c = get_case(fn);
      const std::string name = fn_name(fn);
      const Problem problem = fn == Fn::mlp_tanh ? Problem::mlp_tanh : Problem::rosenbrock;
      const bool higher = fn != Fn::rosenbrock_scalar;  // Taylor and HVP cases

      const double native = fn == Fn::mlp_tanh ? mlp_loop(c.x_flat, mlp_inputs()) : rosenbrock_loop(c.x_flat);
      check(name + ": eval vs plain double loop", {eval(c).item()}, {native});
      const std::vector<double> g = flatten(grad_record(c));
      auto rec = record(c);
      const std::size_t size_before = rec->tape->size();
      check(name + ": grad_replay vs grad", flatten(grad_replay(*rec, c)), g);
      if (fn == Fn::rosenbrock_scalar) {
        std::vector<double> gd(c.x_flat.size());
        grad_replay_doubles(*rec, c, gd);
        check(name + ": grad_replay (doubles) vs grad", gd, g);
      }
      if (rec->tape->size() != size_before) failures[name] += name + ": replay + gradient grew the tape; ";
      std::vector<std::vector<double>> tay;
      std::vector<double> hv, hv_rr;
      if (higher) {
        for (int K : degrees) tay.push_back(taylor_items(taylor(*rec, c, K)));
        hv = flatten(hvp(c, HvpMethod::taylor_over_reverse));
        hv_rr = flatten(hvp(c, HvpMethod::reverse_over_reverse));
        check(name + ": hvp_rr vs hvp", hv_rr, hv);
        double gv = 0.0, vhv = 0.0;
        for (std::size_t i = 0; i < g.size(); ++i) {
          gv += g[i] * c.v_flat[i];
          vhv += c.v_flat[i] * hv[i];
        }
        check(name + ": taylor c1 vs g.v", {tay[3][1]}, {gv});
        check(name + ": taylor 2 c2 vs v.Hv", {2.0 * tay[3][2]}, {vhv});
      }
#ifdef JETGRAD_HAVE_ADOLC
      const AdolcReference ref = adolc_reference(problem, c.x_flat, c.v_flat, {1, 2, 4, 8});
      std::fprintf(stderr, "  %s: ADOL-C tape has %zu operations\n", name.c_str(), ref.tape_operations);
      check(name + ": value vs ADOL-C", {eval(c).item()}, {ref.value});
      check(name + ": grad vs ADOL-C gradient()", g, ref.gradient);
      if (higher) {
        for (std::size_t k = 0; k < 4; ++k)
          check(name + ": taylor K=" + std::to_string(degrees[k]) + " vs ADOL-C forward()", tay[k],
                ref.taylor[k]);
        check(name + ": hvp vs ADOL-C hess_vec()", hv, ref.hess_vec);
        check(name + ": hvp_rr vs ADOL-C hess_vec()", hv_rr, ref.hess_vec);
      }
#else
      (void)problem;
      std::fprintf(stderr, "  (ADOL-C not built: jetgrad's paths checked against each other only)\n");
#endif
    }
  } catch (const std::exception& e) {
    failures[""] += std::string("exception: ") + e.what();
  }
  std::fprintf(stderr, "  worst rel err %.2e: %s\n", worst, failures.empty() ? "ok" : "FAILED");
  return failures;
}

bool skip_if_invalid(benchmark::State& state, Fn fn) {
  return bench_support::skip_unvalidated(state, validation_error(fn_name(fn)));
}

void set_items(benchmark::State& state, const Case& c) {
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(c.items));
}

// ---- benchmarks ----------------------------------------------------------------------------------

void BM_eval(benchmark::State& state, Fn fn) {
  if (skip_if_invalid(state, fn)) return;
  const Case& c = get_case(fn);
  for (auto _ : state) {
    Tensor y = eval(c);
    escape(y.raw_data());
    benchmark::ClobberMemory();
  }
  set_items(state, c);
}

void BM_grad(benchmark::State& state, Fn fn) {
  if (skip_if_invalid(state, fn)) return;
  const Case& c = get_case(fn);
  for (auto _ : state) {
    std::vector<Tensor> g = grad_record(c);
    escape(g.data());
    benchmark::ClobberMemory();
  }
  set_items(state, c);
}

// Replay + gradient through the tensor interface.
void BM_grad_replay_tensors(benchmark::State& state, Fn fn) {
  if (skip_if_invalid(state, fn)) return;
  const Case& c = get_case(fn);
  auto rec = record(c);
  for (auto _ : state) {
    std::vector<Tensor> g = grad_replay(*rec, c);
    escape(g.data());
    benchmark::ClobberMemory();
  }
  set_items(state, c);
}

// The scalar loop through the doubles interface (ADOL-C's gradient(tag, n, x, g) takes and gives
// double arrays); the other functions through the tensor interface.
void BM_grad_replay(benchmark::State& state, Fn fn) {
  if (fn != Fn::rosenbrock_scalar) {
    BM_grad_replay_tensors(state, fn);
    return;
  }
  if (skip_if_invalid(state, fn)) return;
  const Case& c = get_case(fn);
  auto rec = record(c);
  std::vector<double> g(c.x_flat.size());
  for (auto _ : state) {
    grad_replay_doubles(*rec, c, g);
    escape(g.data());
    benchmark::ClobberMemory();
  }
  set_items(state, c);
}

void BM_taylor(benchmark::State& state, Fn fn) {
  if (skip_if_invalid(state, fn)) return;
  const int K = static_cast<int>(state.range(0));
  const Case& c = get_case(fn);
  auto rec = record(c);
  const double eval_s = seconds_per_call([&] { escape(eval(c).raw_data()); });
  for (auto _ : state) {
    std::vector<Tensor> coeffs = taylor(*rec, c, K);
    escape(coeffs.data());
    benchmark::ClobberMemory();
  }
  set_items(state, c);
  state.counters["x_eval"] = ratio_to(eval_s);
}

void BM_hvp(benchmark::State& state, Fn fn, HvpMethod method) {
  if (skip_if_invalid(state, fn)) return;
  const Case& c = get_case(fn);
  const double grad_s = seconds_per_call([&] { escape(grad_record(c).data()); });
  for (auto _ : state) {
    std::vector<Tensor> hv = hvp(c, method);
    escape(hv.data());
    benchmark::ClobberMemory();
  }
  set_items(state, c);
  state.counters["x_grad"] = ratio_to(grad_s);
}

#define ADBENCH_NAME(family, fn) family "/jetgrad/" fn "/1000"
BENCHMARK_CAPTURE(BM_eval, rosenbrock_tensor, Fn::rosenbrock_tensor)
    ->Name(ADBENCH_NAME("eval", "rosenbrock_tensor"));
BENCHMARK_CAPTURE(BM_eval, rosenbrock_scalar, Fn::rosenbrock_scalar)
    ->Name(ADBENCH_NAME("eval", "rosenbrock_scalar"));
BENCHMARK_CAPTURE(BM_eval, mlp_tanh, Fn::mlp_tanh)->Name(ADBENCH_NAME("eval", "mlp_tanh"));
BENCHMARK_CAPTURE(BM_grad, rosenbrock_tensor, Fn::rosenbrock_tensor)
    ->Name(ADBENCH_NAME("grad", "rosenbrock_tensor"));
BENCHMARK_CAPTURE(BM_grad, rosenbrock_scalar, Fn::rosenbrock_scalar)
    ->Name(ADBENCH_NAME("grad", "rosenbrock_scalar"));
BENCHMARK_CAPTURE(BM_grad, mlp_tanh, Fn::mlp_tanh)->Name(ADBENCH_NAME("grad", "mlp_tanh"));
BENCHMARK_CAPTURE(BM_grad_replay, rosenbrock_tensor, Fn::rosenbrock_tensor)
    ->Name(ADBENCH_NAME("grad_replay", "rosenbrock_tensor"));
BENCHMARK_CAPTURE(BM_grad_replay, rosenbrock_scalar, Fn::rosenbrock_scalar)
    ->Name(ADBENCH_NAME("grad_replay", "rosenbrock_scalar"));
BENCHMARK_CAPTURE(BM_grad_replay, mlp_tanh, Fn::mlp_tanh)->Name(ADBENCH_NAME("grad_replay", "mlp_tanh"));
BENCHMARK_CAPTURE(BM_grad_replay_tensors, rosenbrock_scalar, Fn::rosenbrock_scalar)
    ->Name(ADBENCH_NAME("grad_replay_tensors", "rosenbrock_scalar"));
// ->Arg(K): Google Benchmark appends "/K" to the name.
BENCHMARK_CAPTURE(BM_taylor, mlp_tanh, Fn::mlp_tanh)
    ->Name("taylor/jetgrad/mlp_tanh")
    ->Arg(1)
    ->Arg(2)
    ->Arg(4)
    ->Arg(8);
BENCHMARK_CAPTURE(BM_taylor, rosenbrock_tensor, Fn::rosenbrock_tensor)
    ->Name("taylor/jetgrad/rosenbrock_tensor")
    ->Arg(1)
    ->Arg(2)
    ->Arg(4)
    ->Arg(8);
BENCHMARK_CAPTURE(BM_hvp, rosenbrock_tensor, Fn::rosenbrock_tensor, HvpMethod::taylor_over_reverse)
    ->Name(ADBENCH_NAME("hvp", "rosenbrock_tensor"));
BENCHMARK_CAPTURE(BM_hvp, mlp_tanh, Fn::mlp_tanh, HvpMethod::taylor_over_reverse)
    ->Name(ADBENCH_NAME("hvp", "mlp_tanh"));
BENCHMARK_CAPTURE(BM_hvp, rosenbrock_tensor_rr, Fn::rosenbrock_tensor, HvpMethod::reverse_over_reverse)
    ->Name(ADBENCH_NAME("hvp_rr", "rosenbrock_tensor"));
BENCHMARK_CAPTURE(BM_hvp, mlp_tanh_rr, Fn::mlp_tanh, HvpMethod::reverse_over_reverse)
    ->Name(ADBENCH_NAME("hvp_rr", "mlp_tanh"));
#undef ADBENCH_NAME

}  // namespace

std::string validation_error(const std::string& fn) {
  static const std::map<std::string, std::string> failures = run_validation();
  std::string err;
  if (auto it = failures.find(""); it != failures.end()) err += it->second;
  if (auto it = failures.find(fn); it != failures.end()) err += it->second;
  return err;
}

}  // namespace adbench
