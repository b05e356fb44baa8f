// A small, complete training run for the thread-safety and safe-state tests: a seeded MLP with
// dropout on seeded synthetic data, a shuffling DataLoader, cross-entropy, Adam, and (per step) an
// exact Hessian-vector product of the loss so that the Taylor and double-reverse sweeps run too.
// Everything random comes from the one seed, so a run is a pure function of (seed, steps).
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "autodiff/autodiff.hpp"
#include "nn/activation.hpp"
#include "nn/data.hpp"
#include "nn/dropout.hpp"
#include "nn/linear.hpp"
#include "nn/loss.hpp"
#include "optim/optimizer.hpp"

namespace jetgrad::test {

struct TinyRun {
  Generator gen;
  nn::Dataset data;
  std::shared_ptr<nn::Sequential> net;
  std::unique_ptr<optim::Adam> adam;
  std::unique_ptr<nn::DataLoader> loader;
  std::vector<double> losses;      // one per step
  std::vector<double> curvatures;  // vᵀHv of the first layer's bias loss, one per step

  explicit TinyRun(std::uint64_t seed, std::size_t hidden = 16) : gen(seed) {
    net = std::make_shared<nn::Sequential>();
    net->push_back(std::make_shared<nn::Linear>(4, hidden, gen, true, DType::f64));
    net->push_back(std::make_shared<nn::Tanh>());
    net->push_back(std::make_shared<nn::Dropout>(0.2, gen));
    net->push_back(std::make_shared<nn::Linear>(hidden, 3, gen, true, DType::f64));
    data.inputs = normal(Shape{48, 4}, 0.0, 1.0, gen);
    for (std::size_t i = 0; i < 48; ++i) data.labels.push_back(gen.below(3));
    data.num_classes = 3;
    adam = std::make_unique<optim::Adam>(net->parameters(), optim::AdamOptions{.lr = 0.01});
    loader = std::make_unique<nn::DataLoader>(data, 16, /*shuffle=*/true, gen);
  }

  // `steps` optimizer steps (epochs of 3 batches, reshuffled each epoch).
  void train(int steps) {
    int done = 0;
    while (done < steps) {
      for (const nn::Batch& b : *loader) {
        if (done == steps) break;
        Tape tape;
        const Var loss = nn::cross_entropy((*net)(tape.constant(b.x)), b.y);
        losses.push_back(loss.item());
        net->zero_grad();
        nn::backward(loss, *net);
        adam->step_from_grads();
        // An exact HVP on a fresh tape: Taylor over a recorded gradient.
        const Tensor w = net->parameters()[0]->value;
        const Tensor x = b.x;
        const Tensor hv =
            hvp([&](const Var& W) { return sum(tanh(matmul(tape_constant(W, x), transpose(W)))); }, w,
                Tensor::ones(w.shape()));
        curvatures.push_back(sum(hv * w).item());
        ++done;
      }
    }
  }

  nn::NamedTensors state() { return net->state(); }

 private:
  static Var tape_constant(const Var& like, const Tensor& t) { return like.tape()->constant(t); }
};

inline bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

inline bool same_bits(const nn::NamedTensors& a, const nn::NamedTensors& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].first != b[i].first || !same_bits(a[i].second, b[i].second)) return false;
  return true;
}

inline bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

}  // namespace jetgrad::test
