// libtorch side of the network training-step comparison (bench/nn_bench.cpp is the jetgrad side and
// registers both; bench/nn_cases.hpp names the cases). Compiled only when bench/CMakeLists.txt found
// libtorch (JETGRAD_HAVE_TORCH).
//
//   mlp_step/libtorch/<arch>/<batch>, cnn_step/libtorch/64: one step of the PyTorch idiom,
//     opt.zero_grad(); loss = L(net->forward(x)); loss.backward(); opt.step();
//   with torch::nn::Sequential modules, torch::optim::SGD (lr 0.01, no momentum), float32,
//   torch::set_num_threads(1) (and OPENBLAS_NUM_THREADS=1 in the environment, as for jetgrad).
// The weights are jetgrad's initial ones (nnbench::net_data), copied in parameter by parameter.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "bench_support.hpp"
#include "nn_cases.hpp"

namespace nnbench {
namespace {

template <class T>
BENCHMARK_ALWAYS_INLINE inline void escape(const T& value) {
  benchmark::DoNotOptimize(value);
}

std::vector<std::int64_t> dims(const std::vector<std::size_t>& shape) { return {shape.begin(), shape.end()}; }

torch::Tensor tensor_of(const std::vector<float>& v, const std::vector<std::size_t>& shape) {
  // from_blob does not own (or copy) the memory: clone it.
  return torch::from_blob(const_cast<float*>(v.data()), dims(shape), torch::kFloat32).clone();
}

struct TNet {
  torch::nn::Sequential model;
  torch::Tensor x, target, labels;
  bool mse = false;
  std::unique_ptr<torch::optim::SGD> opt;
};

void add_linear_stack(torch::nn::Sequential& m, const std::vector<std::int64_t>& widths, bool tanh_act) {
  for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
    m->push_back(torch::nn::Linear(widths[i], widths[i + 1]));
    if (i + 2 < widths.size()) {
      if (tanh_act)
        m->push_back(torch::nn::Tanh());
      else
        m->push_back(torch::nn::ReLU());
    }
  }
}

std::unique_ptr<TNet> make_tnet(Net net) {
  torch::set_num_threads(1);
  const NetData& d = net_data(net);
  auto t = std::make_unique<TNet>();
  switch (net) {
    case Net::mlp_tiny:
      add_linear_stack(t->model, {2, 16, 16, 1}, true);
      break;
    case Net::mlp_small:
      add_linear_stack(t->model, {784, 128, 10}, false);
      break;
    case Net::mlp_medium:
      add_linear_stack(t->model, {784, 512, 512, 10}, false);
      break;
    case Net::cnn:
      t->model->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 8, 3).padding(1)));
      t->model->push_back(torch::nn::ReLU());
      t->model->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2)));
      t->model->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 16, 3).padding(1)));
      t->model->push_back(torch::nn::ReLU());
      t->model->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2)));
      t->model->push_back(torch::nn::Flatten());
      t->model->push_back(torch::nn::Linear(16 * 7 * 7, 10));
      break;
  }
  // jetgrad's weights, in module order (same layouts).
  std::vector<torch::Tensor> params = t->model->parameters();
  if (params.size() != d.params.size())
    throw std::runtime_error("libtorch model has " + std::to_string(params.size()) +
                             " parameter tensors, jetgrad's " + std::to_string(d.params.size()));
  {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < params.size(); ++i) {
      const torch::Tensor src = tensor_of(d.params[i], d.param_shapes[i]);
      if (!params[i].sizes().equals(src.sizes()))
        throw std::runtime_error("parameter " + std::to_string(i) + ": libtorch and jetgrad shapes differ");
      params[i].copy_(src);
    }
  }
  t->x = tensor_of(d.x, d.x_shape);
  t->mse = d.mse;
  if (d.mse) {
    t->target = tensor_of(d.target, d.target_shape);
  } else {
    std::vector<std::int64_t> labels(d.labels.begin(), d.labels.end());
    t->labels = torch::tensor(labels, torch::kLong);
  }
  t->opt = std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(learning_rate));
  return t;
}

// The timed step; returns the loss before the update (a 0-d tensor).
torch::Tensor step(TNet& t) {
  t.opt->zero_grad();
  const torch::Tensor out = t.model->forward(t.x);
  torch::Tensor loss =
      t.mse ? torch::mse_loss(out, t.target) : torch::nn::functional::cross_entropy(out, t.labels);
  loss.backward();
  t.opt->step();
  return loss;
}

}  // namespace

StepLosses torch_step_losses(Net net) {
  auto t = make_tnet(net);
  StepLosses s;
  s.before = step(*t).item<double>();
  s.after = step(*t).item<double>();
  return s;
}

void torch_step_benchmark(benchmark::State& state, Net net) {
  if (bench_support::skip_unvalidated(state, validation_error(net))) return;
  auto t = make_tnet(net);
  for (auto _ : state) {
    const torch::Tensor loss = step(*t);
    escape(loss.data_ptr());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * t->x.size(0));
}

}  // namespace nnbench
