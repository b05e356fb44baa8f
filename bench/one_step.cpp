// One SGD training step of the 784-128-10 ReLU MLP, cross-entropy, batch 64, float32 -- the case
// mlp_step/jetgrad/784-128-10/64 of bench/nn_bench.cpp, written out on its own -- for counting
// instructions under callgrind (bench/callgrind_step), where wall time on a loaded machine is not.
//
// Two warm-up steps first (first-use costs: the buffer cache, OpenBLAS's start-up), then the counted
// step in one_training_step(), which bench/callgrind_step selects with
// --toggle-collect=one_training_step, so the count covers exactly one step:
//   Tape tape; loss = cross_entropy(net(tape.constant(x)), y); net.zero_grad();
//   nn::backward(loss, net); sgd.step_from_grads();
//
//   valgrind --tool=callgrind --toggle-collect=one_training_step ./one_step
// Needs a build valgrind can run: valgrind 3.19 has no AVX-512 (SIGILL), so callgrind_step builds
// jetgrad with -march=x86-64-v3 (AVX2 + FMA) instead of -march=native.
#include <cstddef>
#include <cstdio>
#include <memory>
#include <vector>

#include "nn/nn.hpp"
#include "optim/optimizer.hpp"

using namespace jetgrad;

namespace {

struct Mlp {
  Generator gen{2025};  // the seed of nn_bench.cpp's 784-128-10 case (2024 + 1)
  std::shared_ptr<nn::Sequential> net = std::make_shared<nn::Sequential>();
  Tensor x;
  std::vector<std::size_t> y;
  std::unique_ptr<optim::SGD> opt;

  Mlp() {
    net->push_back(std::make_shared<nn::Linear>(784, 128, gen));
    net->push_back(std::make_shared<nn::ReLU>());
    net->push_back(std::make_shared<nn::Linear>(128, 10, gen));
    x = normal(Shape{64, 784}, 0.0, 1.0, gen, DType::f32);
    for (std::size_t i = 0; i < 64; ++i) y.push_back(static_cast<std::size_t>(gen.below(10)));
    opt = std::make_unique<optim::SGD>(net->parameters(), optim::SGDOptions{.lr = 0.01});
  }
};

double step(Mlp& m) {
  Tape tape;
  const Var loss = nn::cross_entropy((*m.net)(tape.constant(m.x)), m.y);
  m.net->zero_grad();
  nn::backward(loss, *m.net);
  m.opt->step_from_grads();
  return loss.item();
}

}  // namespace

// extern "C" and noinline, so that callgrind's --toggle-collect can name them: only the step inside
// one_training_step is counted, not the warm-up steps.
extern "C" __attribute__((noinline)) double warm_up_step(Mlp* m) { return step(*m); }
extern "C" __attribute__((noinline)) double one_training_step(Mlp* m) { return step(*m); }

int main() {
  auto m = std::make_unique<Mlp>();
  double loss = 0.0;
  for (int i = 0; i < 2; ++i) loss = warm_up_step(m.get());
  std::printf("one_step: 784-128-10 ReLU MLP, batch 64, SGD lr 0.01; loss after 2 warm-up steps %.6f\n",
              loss);
  loss = one_training_step(m.get());
  std::printf("one_step: loss at the counted step %.6f\n", loss);
  return 0;
}
