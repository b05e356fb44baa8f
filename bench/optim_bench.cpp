// Optimizer benchmarks: the cost of one optimizer step, and of one exact Hessian-vector product, on
// a 784-128-10 ReLU MLP with cross-entropy, batch 64, float32 (random data from a Generator).
//
// Names are a contract (docs/performance.md, section "Optimizers", quotes them):
//   optim_step/<optimizer>/784-128-10/64   one step: every forward/backward/HVP the method needs and
//                                          the base update (SGD, lr 1e-3, no momentum, as base of
//                                          every wrapper; MeZO its own update)
//       <optimizer> in sgd, sam, gam (exact HVPs), gam_accelerated (code defaults), gr_exact,
//       gr_forward, mezo
//   hvp/jetgrad/784-128-10/64              Objective::hvp(v): record the loss, record its gradient,
//                                          one Taylor sweep (the whole H v from scratch)
//   hvp/libtorch/784-128-10/64             the same H v by double backward: forward, grad with
//                                          create_graph, grad of <g, v> (only with JETGRAD_HAVE_TORCH;
//                                          torch::set_num_threads(1))
//
// Targets (reported in docs/performance.md, not asserted): SAM <= 2.1x SGD, exact GAM <= 6x SGD,
// exact GR <= 3.5x SGD, jetgrad's HVP >= 1.5x faster than libtorch's.
//
//   OPENBLAS_NUM_THREADS=1 ./jetgrad_bench --benchmark_filter='optim_step|hvp/' --benchmark_min_time=1
#include <cmath>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "nn/activation.hpp"
#include "nn/linear.hpp"
#include "nn/loss.hpp"
#include "optim/flat.hpp"
#include "optim/zeroth_order.hpp"

#ifdef JETGRAD_HAVE_TORCH
#include <torch/torch.h>
#endif

namespace {

using namespace jetgrad;

constexpr std::size_t batch = 64, in = 784, hidden = 128, classes = 10;

// Only the const-reference form of DoNotOptimize (see kernels_bench.cpp: GCC 12 + benchmark 1.7.1).
template <class T>
BENCHMARK_ALWAYS_INLINE inline void escape(const T& value) {
  benchmark::DoNotOptimize(value);
}

struct Mlp {
  Generator gen{2024};
  std::shared_ptr<nn::Sequential> net = std::make_shared<nn::Sequential>();
  Tensor x;
  std::vector<std::size_t> y;

  Mlp() {
    net->push_back(std::make_shared<nn::Linear>(in, hidden, gen));
    net->push_back(std::make_shared<nn::ReLU>());
    net->push_back(std::make_shared<nn::Linear>(hidden, classes, gen));
    x = normal(Shape{batch, in}, 0.0, 1.0, gen, DType::f32);
    for (std::size_t i = 0; i < batch; ++i) y.push_back(gen.below(classes));
  }
  optim::Objective objective() {
    return optim::Objective(net->parameters(),
                            [this](Tape& tape) { return nn::cross_entropy((*net)(tape.constant(x)), y); });
  }
};

using Make = std::function<std::unique_ptr<optim::Optimizer>(const optim::ParamList&)>;

std::unique_ptr<optim::Optimizer> sgd(const optim::ParamList& p) {
  return std::make_unique<optim::SGD>(p, optim::SGDOptions{.lr = 1e-3});
}

void optimizer_step(benchmark::State& state, const Make& make) {
  Mlp mlp;
  auto objective = mlp.objective();
  auto opt = make(mlp.net->parameters());
  for (auto _ : state) escape(opt->step(objective));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["forwards_per_step"] =
      static_cast<double>(objective.forward_count()) / static_cast<double>(state.iterations());
}

void register_steps() {
  optim::GAMOptions exact_gam;  // paper Algorithm 1, exact HVPs
  optim::GAMOptions accelerated_gam;
  accelerated_gam.method = optim::GAMOptions::Method::accelerated;  // the official code's defaults
  optim::GradRegOptions gr_exact;
  gr_exact.method = optim::GradRegOptions::Method::exact;
  optim::GradRegOptions gr_forward;
  gr_forward.method = optim::GradRegOptions::Method::forward;
  const std::vector<std::pair<std::string, Make>> cases{
      {"sgd", sgd},
      {"sam",
       [](const optim::ParamList& p) { return std::make_unique<optim::SAM>(sgd(p), optim::SAMOptions{}); }},
      {"gam",
       [exact_gam](const optim::ParamList& p) { return std::make_unique<optim::GAM>(sgd(p), exact_gam); }},
      {"gam_accelerated",
       [accelerated_gam](const optim::ParamList& p) {
         return std::make_unique<optim::GAM>(sgd(p), accelerated_gam);
       }},
      {"gr_exact",
       [gr_exact](const optim::ParamList& p) {
         return std::make_unique<optim::GradientRegularization>(sgd(p), gr_exact);
       }},
      {"gr_forward",
       [gr_forward](const optim::ParamList& p) {
         return std::make_unique<optim::GradientRegularization>(sgd(p), gr_forward);
       }},
      {"mezo",
       [](const optim::ParamList& p) {
         return std::make_unique<optim::MeZO>(p, optim::MeZOOptions{}, Generator(7));
       }},
  };
  for (const auto& [name, make] : cases) {
    benchmark::RegisterBenchmark(("optim_step/" + name + "/784-128-10/64").c_str(), [make = make](
                                                                                        benchmark::State& s) {
      optimizer_step(s, make);
    })->Unit(benchmark::kMicrosecond);
  }
}

void hvp_jetgrad(benchmark::State& state) {
  Mlp mlp;
  auto objective = mlp.objective();
  Generator gen(3);
  optim::ParamVector v;
  for (const nn::Parameter* p : objective.params())
    v.push_back(normal(p->value.shape(), 0.0, 1.0, gen, DType::f32));
  for (auto _ : state) {
    const optim::ParamVector hv = objective.hvp(v);
    escape(hv);
  }
}

#ifdef JETGRAD_HAVE_TORCH
void hvp_libtorch(benchmark::State& state) {
  torch::set_num_threads(1);
  torch::manual_seed(2024);
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  const double b1 = 1.0 / std::sqrt(static_cast<double>(in)),
               b2 = 1.0 / std::sqrt(static_cast<double>(hidden));
  std::vector<torch::Tensor> params{
      (torch::rand({static_cast<long>(hidden), static_cast<long>(in)}, opts) * 2 - 1)
          .mul(b1)
          .requires_grad_(),
      (torch::rand({static_cast<long>(hidden)}, opts) * 2 - 1).mul(b1).requires_grad_(),
      (torch::rand({static_cast<long>(classes), static_cast<long>(hidden)}, opts) * 2 - 1)
          .mul(b2)
          .requires_grad_(),
      (torch::rand({static_cast<long>(classes)}, opts) * 2 - 1).mul(b2).requires_grad_()};
  const torch::Tensor x = torch::randn({static_cast<long>(batch), static_cast<long>(in)}, opts);
  const torch::Tensor y =
      torch::randint(static_cast<long>(classes), {static_cast<long>(batch)}, torch::kLong);
  std::vector<torch::Tensor> v;
  for (const auto& p : params) v.push_back(torch::randn_like(p));
  for (auto _ : state) {
    const torch::Tensor h = torch::relu(torch::addmm(params[1], x, params[0].t()));
    const torch::Tensor logits = torch::addmm(params[3], h, params[2].t());
    const torch::Tensor loss = torch::nn::functional::cross_entropy(logits, y);
    const auto g = torch::autograd::grad({loss}, params, {}, /*retain_graph=*/true, /*create_graph=*/true);
    torch::Tensor gv = (g[0] * v[0]).sum();
    for (std::size_t i = 1; i < g.size(); ++i) gv = gv + (g[i] * v[i]).sum();
    const auto hv = torch::autograd::grad({gv}, params);
    escape(hv);
  }
}
#endif

const bool registered = [] {
  register_steps();
  benchmark::RegisterBenchmark("hvp/jetgrad/784-128-10/64", hvp_jetgrad)->Unit(benchmark::kMicrosecond);
#ifdef JETGRAD_HAVE_TORCH
  benchmark::RegisterBenchmark("hvp/libtorch/784-128-10/64", hvp_libtorch)->Unit(benchmark::kMicrosecond);
#endif
  return true;
}();

}  // namespace
