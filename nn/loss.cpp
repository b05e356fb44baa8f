#include "nn/loss.hpp"

#include <string>

namespace jetgrad::nn {

namespace {

void check_same_shape(const Shape& a, const Shape& b, const char* what) {
  if (!(a == b)) {
    throw ShapeError(std::string(what) + ": the prediction has shape " + a.str() + ", the target " + b.str() +
                     " (they must match; broadcasting is not applied to losses)");
  }
}

// The (N, C) shape of class scores with one label per row.
void check_scores(const Var& scores, std::span<const std::size_t> labels, const char* what) {
  if (scores.rank() != 2) {
    throw ShapeError(std::string(what) + ": expected scores of shape (N, C), got " + scores.shape().str());
  }
  if (scores.shape()[0] != labels.size()) {
    throw ShapeError(std::string(what) + ": " + std::to_string(scores.shape()[0]) + " rows of scores but " +
                     std::to_string(labels.size()) + " labels");
  }
  if (labels.empty()) throw ShapeError(std::string(what) + ": an empty batch has no mean");
}

}  // namespace

Tensor one_hot(std::span<const std::size_t> labels, std::size_t num_classes, DType dtype, const char* what) {
  Tensor mask(dtype, Shape{labels.size(), num_classes});
  for (std::size_t n = 0; n < labels.size(); ++n) {
    if (labels[n] >= num_classes) {
      throw ValueError(std::string(what) + ": label " + std::to_string(labels[n]) + " of row " +
                       std::to_string(n) + " is out of range for " + std::to_string(num_classes) +
                       " classes");
    }
    mask.set(n * num_classes + labels[n], 1.0);
  }
  return mask;
}

Var mse_loss(const Var& prediction, const Var& target) {
  check_same_shape(prediction.shape(), target.shape(), "mse_loss");
  return mean(square(prediction - target));
}

Var mse_loss(const Var& prediction, const Tensor& target) {
  check_same_shape(prediction.shape(), target.shape(), "mse_loss");
  return mean(square(prediction - target));
}

Var cross_entropy(const Var& logits, std::span<const std::size_t> labels) {
  check_scores(logits, labels, "cross_entropy");
  const Tensor mask = one_hot(labels, logits.shape()[1], logits.dtype(), "cross_entropy");
  return mean(logsumexp(logits, 1) - sum(logits * mask, 1));
}

Var nll_loss(const Var& log_probs, std::span<const std::size_t> labels) {
  check_scores(log_probs, labels, "nll_loss");
  const Tensor mask = one_hot(labels, log_probs.shape()[1], log_probs.dtype(), "nll_loss");
  return -mean(sum(log_probs * mask, 1));
}

Var binary_cross_entropy_with_logits(const Var& logits, const Var& targets) {
  check_same_shape(logits.shape(), targets.shape(), "binary_cross_entropy_with_logits");
  return mean(softplus(logits) - logits * targets);
}

Var binary_cross_entropy_with_logits(const Var& logits, const Tensor& targets) {
  check_same_shape(logits.shape(), targets.shape(), "binary_cross_entropy_with_logits");
  return mean(softplus(logits) - logits * targets);
}

}  // namespace jetgrad::nn
