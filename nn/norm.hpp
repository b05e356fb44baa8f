// Normalization layers: LayerNorm, BatchNorm1d, BatchNorm2d (PyTorch semantics).
//
//   nn::LayerNorm ln(Shape{16});                 // normalizes the last axis (16 features)
//   nn::BatchNorm2d bn(8, {.dtype = DType::f64}); // 8 channels of an (N, 8, H, W) input
//   Var y = bn(x);                               // training: batch statistics, running stats updated
//   bn.eval();  Var z = bn(x);                   // eval: the running statistics
//
// Forward passes are composed of Var operations (mean, subtraction, square, sqrt, division), so
// every sweep differentiates them. The running statistics are updated from the values (Tensor
// arithmetic, nothing recorded), not on the tape; replaying a recorded tape does not update them.
// See docs/nn.md ("Convolution, pooling, normalization").
#pragma once

#include <cstddef>
#include <string>

#include "nn/module.hpp"

namespace jetgrad::nn {

struct LayerNormOptions {
  double eps = 1e-5;
  bool elementwise_affine = true;  // a weight (ones) and a bias (zeros) of normalized_shape
  DType dtype = DType::f32;
};

// y = (x − E[x]) / √(Var[x] + eps) · weight + bias, the statistics over the trailing axes that
// make up normalized_shape (biased variance), for each leading index separately.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(const Shape& normalized_shape, const LayerNormOptions& options = {});
  Var forward(const Var& x) override;
  std::string describe() const override;

  Parameter* weight() { return weight_; }  // nullptr without elementwise_affine
  Parameter* bias() { return bias_; }

 private:
  Shape shape_;
  LayerNormOptions opt_;
  Parameter* weight_ = nullptr;
  Parameter* bias_ = nullptr;
};

struct BatchNormOptions {
  double eps = 1e-5;
  double momentum = 0.1;  // running = (1 − momentum) running + momentum batch statistic
  bool affine = true;     // a weight (ones) and a bias (zeros) per channel
  // With false there are no buffers and batch statistics are used in eval mode too.
  bool track_running_stats = true;
  DType dtype = DType::f32;
};

// Per-channel normalization over the batch (and spatial) axes. Training mode normalizes with the
// batch mean and biased variance and updates running_mean / running_var (the latter with the
// unbiased variance n/(n−1)·Var, n = the elements per channel), as PyTorch; eval mode normalizes
// with the running statistics. Buffers start at mean 0, variance 1.
class BatchNormBase : public Module {
 public:
  Var forward(const Var& x) override;
  std::string describe() const override;

  Parameter* weight() { return weight_; }  // nullptr without affine
  Parameter* bias() { return bias_; }
  const Tensor& running_mean() const { return *running_mean_; }
  const Tensor& running_var() const { return *running_var_; }
  std::size_t num_features() const { return channels_; }

 protected:
  BatchNormBase(std::string kind, std::size_t num_features, const BatchNormOptions& options);
  // The (N, C, R) view of an accepted input shape, or a ShapeError naming the expected one.
  virtual Shape as_ncr(const Shape& s) const = 0;

  std::string kind_;
  std::size_t channels_;
  BatchNormOptions opt_;

 private:
  Parameter* weight_ = nullptr;
  Parameter* bias_ = nullptr;
  Tensor* running_mean_ = nullptr;
  Tensor* running_var_ = nullptr;
};

// Over features of (N, C) (or channels of (N, C, L)).
class BatchNorm1d : public BatchNormBase {
 public:
  explicit BatchNorm1d(std::size_t num_features, const BatchNormOptions& options = {});

 protected:
  Shape as_ncr(const Shape& s) const override;
};

// Over channels of NCHW.
class BatchNorm2d : public BatchNormBase {
 public:
  explicit BatchNorm2d(std::size_t num_features, const BatchNormOptions& options = {});

 protected:
  Shape as_ncr(const Shape& s) const override;
};

}  // namespace jetgrad::nn
