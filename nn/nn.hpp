// jetgrad::nn in one include: modules, layers, activations, losses, initializers, the module
// gradcheck, weight files, and the data sets.
//
//   #include <nn/nn.hpp>
//   Generator gen(0);
//   nn::Sequential net({std::make_shared<nn::Linear>(2, 16, gen), std::make_shared<nn::Tanh>(),
//                       std::make_shared<nn::Linear>(16, 2, gen)});
//   Tape tape;
//   Var loss = nn::cross_entropy(net(tape.constant(x)), labels);
//   net.zero_grad();
//   nn::backward(loss, net);
#pragma once

#include "autodiff/autodiff.hpp"
#include "nn/activation.hpp"
#include "nn/conv.hpp"
#include "nn/data.hpp"
#include "nn/dropout.hpp"
#include "nn/embedding.hpp"
#include "nn/gradcheck.hpp"
#include "nn/init.hpp"
#include "nn/linear.hpp"
#include "nn/loss.hpp"
#include "nn/module.hpp"
#include "nn/norm.hpp"
#include "nn/serialize.hpp"
