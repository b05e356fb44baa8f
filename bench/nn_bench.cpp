// Network training steps: one SGD step of jetgrad's nn + optim beside libtorch's (whose side is in
// bench/torch_cases.cpp, built when libtorch is found). docs/performance.md, section "Networks", has
// the measured table and the targets. The cases and their names are in bench/nn_cases.hpp:
//   mlp_step/<impl>/2-16-16-1/32, mlp_step/<impl>/784-128-10/64, mlp_step/<impl>/784-512-512-10/256,
//   cnn_step/<impl>/64                                         with <impl> = jetgrad | libtorch
//
// One step, timed the same way on both sides (the PyTorch idiom; the fresh tape is part of it):
//   jetgrad:  Tape tape; loss = L(net(tape.constant(x))); net.zero_grad(); nn::backward(loss, net);
//             sgd.step_from_grads();
//   libtorch: opt.zero_grad(); loss = L(net->forward(x)); loss.backward(); opt.step();
// float32, SGD lr 0.01 without momentum; the weights move every iteration (as in training).
//
// Validation before timing: both sides start from the same weights (jetgrad's initialization,
// copied into the libtorch modules) and must agree on the loss before and after one step
// (|a - b| <= 1e-4 max(1, |b|)); that checks forward, backward and the update. A failing case
// reports "validation failed, not timed" on both sides. Without libtorch nothing is compared.
//
// Counters (jetgrad side): tape_bytes = Tape::value_bytes() of one recorded step (forward + loss:
// the values the reverse sweep needs, which is the tape's peak: the sweep records nothing),
// tape_entries = its number of entries; items/s counts samples.
//
//   OPENBLAS_NUM_THREADS=1 ./jetgrad_bench --benchmark_filter='mlp_step|cnn_step' --benchmark_min_time=0.5
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench_support.hpp"
#include "nn/nn.hpp"
#include "nn_cases.hpp"
#include "optim/optimizer.hpp"

namespace nnbench {
namespace {

using namespace jetgrad;

// Const-reference DoNotOptimize only: benchmark 1.7.1's writable form miscompiles with GCC 12
// (see bench/kernels_bench.cpp).
template <class T>
BENCHMARK_ALWAYS_INLINE inline void escape(const T& value) {
  benchmark::DoNotOptimize(value);
}

// A jetgrad network with its batch and its optimizer.
struct JNet {
  Net net = Net::mlp_tiny;
  std::shared_ptr<nn::Sequential> model = std::make_shared<nn::Sequential>();
  Tensor x;
  bool mse = false;
  Tensor target;
  std::vector<std::size_t> labels;
  std::unique_ptr<optim::SGD> opt;
};

void add_linear_stack(nn::Sequential& m, const std::vector<std::size_t>& widths, bool tanh_act,
                      Generator& gen) {
  for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
    m.push_back(std::make_shared<nn::Linear>(widths[i], widths[i + 1], gen));
    if (i + 2 < widths.size()) {
      if (tanh_act)
        m.push_back(std::make_shared<nn::Tanh>());
      else
        m.push_back(std::make_shared<nn::ReLU>());
    }
  }
}

// The case with jetgrad's initialization (fixed seeds) and its batch.
std::unique_ptr<JNet> make_jnet(Net net) {
  auto j = std::make_unique<JNet>();
  j->net = net;
  Generator gen(2024 + static_cast<std::uint64_t>(net));
  nn::Sequential& m = *j->model;
  std::size_t batch = 0, classes = 10;
  switch (net) {
    case Net::mlp_tiny:
      add_linear_stack(m, {2, 16, 16, 1}, /*tanh_act=*/true, gen);
      batch = 32;
      j->x = uniform(Shape{batch, 2}, -1.0, 1.0, gen, DType::f32);
      j->mse = true;
      j->target = uniform(Shape{batch, 1}, -1.0, 1.0, gen, DType::f32);
      break;
    case Net::mlp_small:
      add_linear_stack(m, {784, 128, 10}, false, gen);
      batch = 64;
      j->x = normal(Shape{batch, 784}, 0.0, 1.0, gen, DType::f32);
      break;
    case Net::mlp_medium:
      add_linear_stack(m, {784, 512, 512, 10}, false, gen);
      batch = 256;
      j->x = normal(Shape{batch, 784}, 0.0, 1.0, gen, DType::f32);
      break;
    case Net::cnn: {
      nn::Conv2dOptions pad1;  // filled field by field (see the by-value note in nn/conv.hpp)
      pad1.padding = 1;
      m.push_back(std::make_shared<nn::Conv2d>(1, 8, 3, gen, pad1));
      m.push_back(std::make_shared<nn::ReLU>());
      m.push_back(std::make_shared<nn::MaxPool2d>(2));
      m.push_back(std::make_shared<nn::Conv2d>(8, 16, 3, gen, pad1));
      m.push_back(std::make_shared<nn::ReLU>());
      m.push_back(std::make_shared<nn::MaxPool2d>(2));
      m.push_back(std::make_shared<nn::Flatten>());
      m.push_back(std::make_shared<nn::Linear>(16 * 7 * 7, 10, gen));
      batch = 64;
      j->x = normal(Shape{batch, 1, 28, 28}, 0.0, 1.0, gen, DType::f32);
      break;
    }
  }
  if (!j->mse)
    for (std::size_t i = 0; i < batch; ++i) j->labels.push_back(static_cast<std::size_t>(gen.below(classes)));
  j->opt = std::make_unique<optim::SGD>(m.parameters(), optim::SGDOptions{.lr = learning_rate});
  return j;
}

std::vector<float> floats_of(const Tensor& t) {
  const float* p = t.data<float>();
  return {p, p + t.numel()};
}

std::vector<std::size_t> dims_of(const Tensor& t) { return {t.shape().begin(), t.shape().end()}; }

NetData export_data(JNet& j) {
  NetData d;
  d.net = j.net;
  for (const nn::Parameter* p : j.model->parameters()) {
    d.params.push_back(floats_of(p->value));
    d.param_shapes.push_back(dims_of(p->value));
  }
  d.x = floats_of(j.x);
  d.x_shape = dims_of(j.x);
  d.mse = j.mse;
  if (j.mse) {
    d.target = floats_of(j.target);
    d.target_shape = dims_of(j.target);
  }
  d.labels = j.labels;
  d.classes = 10;
  return d;
}

// ---- the timed step (validation calls the very same function) ------------------------------------

Var loss_of(JNet& j, const Var& out) {
  return j.mse ? nn::mse_loss(out, j.target) : nn::cross_entropy(out, j.labels);
}

double step(JNet& j) {
  Tape tape;
  const Var loss = loss_of(j, (*j.model)(tape.constant(j.x)));
  j.model->zero_grad();
  nn::backward(loss, *j.model);
  j.opt->step_from_grads();
  return loss.item();
}

// One recorded forward + loss: entries and value bytes.
std::pair<std::size_t, std::size_t> tape_size(JNet& j) {
  Tape tape;
  const Var loss = loss_of(j, (*j.model)(tape.constant(j.x)));
  escape(loss.item());
  return {tape.size(), tape.value_bytes()};
}

StepLosses jetgrad_step_losses(Net net) {
  auto j = make_jnet(net);
  StepLosses s;
  s.before = step(*j);
  s.after = step(*j);
  return s;
}

// ---- validation ------------------------------------------------------------------------------------

std::map<Net, std::string> run_validation() {
  std::map<Net, std::string> failures;
  std::fprintf(stderr, "nn_bench validation (loss before / after one SGD step, |a-b| <= 1e-4 max(1,|b|)):\n");
  for (Net net : all_nets) {
    try {
      const StepLosses jg = jetgrad_step_losses(net);
      if (!std::isfinite(jg.before) || !std::isfinite(jg.after) || !(jg.after < jg.before)) {
        failures[net] += "jetgrad's loss did not decrease over one step (" + std::to_string(jg.before) +
                         " -> " + std::to_string(jg.after) + "); ";
      }
#ifdef JETGRAD_HAVE_TORCH
      const StepLosses tc = torch_step_losses(net);
      auto close = [](double a, double b) { return std::abs(a - b) <= 1e-4 * std::max(1.0, std::abs(b)); };
      const bool ok = close(jg.before, tc.before) && close(jg.after, tc.after);
      std::fprintf(stderr, "  %-36s jetgrad %.7f -> %.7f  libtorch %.7f -> %.7f  %s\n",
                   bench_name(net, "*").c_str(), jg.before, jg.after, tc.before, tc.after,
                   ok ? "ok" : "<-- FAIL");
      if (!ok) failures[net] += "jetgrad and libtorch losses differ; ";
#else
      std::fprintf(stderr, "  %-36s jetgrad %.7f -> %.7f  (libtorch not built: not compared)\n",
                   bench_name(net, "*").c_str(), jg.before, jg.after);
#endif
    } catch (const std::exception& e) {
      failures[net] += std::string("exception: ") + e.what();
      std::fprintf(stderr, "  %s: exception: %s\n", bench_name(net, "*").c_str(), e.what());
    }
  }
  return failures;
}

// ---- benchmarks ----------------------------------------------------------------------------------

void jetgrad_step_benchmark(benchmark::State& state, Net net) {
  if (bench_support::skip_unvalidated(state, validation_error(net))) return;
  auto j = make_jnet(net);
  const auto [entries, bytes] = tape_size(*j);
  for (auto _ : state) escape(step(*j));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(j->x.shape()[0]));
  state.counters["tape_bytes"] = static_cast<double>(bytes);
  state.counters["tape_entries"] = static_cast<double>(entries);
}

const bool registered = [] {
  for (Net net : all_nets) {
    benchmark::RegisterBenchmark(bench_name(net, "jetgrad").c_str(), [net](benchmark::State& s) {
      jetgrad_step_benchmark(s, net);
    })->Unit(benchmark::kMicrosecond);
#ifdef JETGRAD_HAVE_TORCH
    benchmark::RegisterBenchmark(bench_name(net, "libtorch").c_str(), [net](benchmark::State& s) {
      torch_step_benchmark(s, net);
    })->Unit(benchmark::kMicrosecond);
#endif
  }
  return true;
}();

}  // namespace

const NetData& net_data(Net net) {
  // Deliberately never destroyed (static Tensors outlive the thread's buffer cache; see autodiff_bench.cpp).
  static const std::map<Net, NetData>* const data = [] {
    auto* m = new std::map<Net, NetData>;
    for (Net n : all_nets) {
      auto j = make_jnet(n);
      (*m)[n] = export_data(*j);
    }
    return m;
  }();
  return data->at(net);
}

std::string validation_error(Net net) {
  static const std::map<Net, std::string> failures = run_validation();
  const auto it = failures.find(net);
  return it == failures.end() ? std::string() : it->second;
}

}  // namespace nnbench
