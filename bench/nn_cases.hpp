// The network training-step cases shared by bench/nn_bench.cpp (jetgrad) and bench/torch_cases.cpp
// (libtorch, built only with JETGRAD_HAVE_TORCH). Numbers cross between the two files as plain
// std::vector<float>: this header includes neither jetgrad nor libtorch.
//
// Every case is one SGD step (lr 0.01, no momentum) on a fixed batch, float32:
//   mlp_step/<impl>/2-16-16-1/32         Linear-Tanh-Linear-Tanh-Linear, MSE against fixed targets
//   mlp_step/<impl>/784-128-10/64        Linear-ReLU-Linear, cross-entropy
//   mlp_step/<impl>/784-512-512-10/256   Linear-ReLU-Linear-ReLU-Linear, cross-entropy
//   cnn_step/<impl>/64                   on 1x28x28 inputs: Conv2d(1→8, 3x3, pad 1)-ReLU-MaxPool2d(2)-
//                                        Conv2d(8→16, 3x3, pad 1)-ReLU-MaxPool2d(2)-Flatten-Linear(784→10),
//                                        cross-entropy
// The weights are jetgrad's initialization (nn_bench.cpp makes the modules from a Generator) and are
// copied into the libtorch modules, parameter by parameter in module order (PyTorch's layouts:
// Linear weight (out, in), Conv2d weight (out, in, kh, kw), then the bias).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

namespace nnbench {

enum class Net { mlp_tiny, mlp_small, mlp_medium, cnn };
inline constexpr Net all_nets[] = {Net::mlp_tiny, Net::mlp_small, Net::mlp_medium, Net::cnn};

inline constexpr double learning_rate = 0.01;

// "mlp_step" or "cnn_step".
inline const char* family(Net net) { return net == Net::cnn ? "cnn_step" : "mlp_step"; }
// The benchmark name for one implementation ("jetgrad", "libtorch"), e.g. mlp_step/jetgrad/784-128-10/64.
inline std::string bench_name(Net net, const std::string& impl) {
  switch (net) {
    case Net::mlp_tiny:
      return "mlp_step/" + impl + "/2-16-16-1/32";
    case Net::mlp_small:
      return "mlp_step/" + impl + "/784-128-10/64";
    case Net::mlp_medium:
      return "mlp_step/" + impl + "/784-512-512-10/256";
    case Net::cnn:
      return "cnn_step/" + impl + "/64";
  }
  return "?";
}

// One case's data, as jetgrad made it: initial parameters in module order with their shapes, the
// batch, and the targets (MSE) or class labels (cross-entropy).
struct NetData {
  Net net = Net::mlp_tiny;
  std::vector<std::vector<float>> params;
  std::vector<std::vector<std::size_t>> param_shapes;
  std::vector<float> x;
  std::vector<std::size_t> x_shape;
  bool mse = false;
  std::vector<float> target;  // mse: same shape as the output
  std::vector<std::size_t> target_shape;
  std::vector<std::size_t> labels;  // cross-entropy
  std::size_t classes = 0;
};

// Defined in nn_bench.cpp (never destroyed).
const NetData& net_data(Net net);

// Loss at the initial weights, and after one SGD step from them.
struct StepLosses {
  double before = 0.0;
  double after = 0.0;
};

// Empty when the case validated (jetgrad and libtorch agree, or libtorch is not built), else what
// went wrong; computed once, on first use (nn_bench.cpp).
std::string validation_error(Net net);

#ifdef JETGRAD_HAVE_TORCH
// libtorch's side (torch_cases.cpp): the losses from net_data(net), and the timed benchmark.
StepLosses torch_step_losses(Net net);
void torch_step_benchmark(::benchmark::State& state, Net net);
#endif

}  // namespace nnbench
