// Losses: scalar Vars, mean-reduced over the batch, built from jetgrad's primitives (so every sweep
// differentiates them, to any order).
//
//   std::vector<std::size_t> labels = {3, 0, 7};
//   Var loss = nn::cross_entropy(logits, labels);           // logits (3, C), fused and stable
//   Var l2   = nn::mse_loss(prediction, target_tensor);
//   Var bce  = nn::binary_cross_entropy_with_logits(scores, targets01);
//
// Class labels are a std::span<const std::size_t> (one class index per row of the logits; a
// std::vector converts implicitly). They are constants: no gradient flows into them. Each label
// must be < C (ValueError naming the row otherwise).
//   mse_loss(x, y)                         = mean((x - y)²)                      over every element
//   cross_entropy(z, t)                    = mean_n [logsumexp(z_n) - z_n,t_n]  z of shape (N, C)
//       "fused": the picked logit is Σ_c z_nc · onehot_nc with a constant one-hot mask, and
//       logsumexp is max-shifted, so logits of ±1e4 in float32 stay finite. It equals
//       -mean_n log_softmax(z)_n,t_n, the composed definition (the tests keep it as a reference).
//   nll_loss(lp, t)                        = -mean_n lp_n,t_n                     lp = log-probabilities
//   binary_cross_entropy_with_logits(x, y) = mean(softplus(x) - x·y)              y in [0, 1]
//       (= mean(-y log σ(x) - (1-y) log(1-σ(x))), without overflow: softplus is a stable primitive)
#pragma once

#include <cstddef>
#include <span>

#include "autodiff/var.hpp"

namespace jetgrad::nn {

Var mse_loss(const Var& prediction, const Var& target);
Var mse_loss(const Var& prediction, const Tensor& target);

Var cross_entropy(const Var& logits, std::span<const std::size_t> labels);
Var nll_loss(const Var& log_probs, std::span<const std::size_t> labels);

Var binary_cross_entropy_with_logits(const Var& logits, const Var& targets);
Var binary_cross_entropy_with_logits(const Var& logits, const Tensor& targets);

// The constant (N, C) mask with a 1 at (n, labels[n]) (checks N, C and every label; `what` names
// the caller in errors).
Tensor one_hot(std::span<const std::size_t> labels, std::size_t num_classes, DType dtype,
               const char* what = "one_hot");

}  // namespace jetgrad::nn
