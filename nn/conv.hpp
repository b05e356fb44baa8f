// Convolution and pooling layers on NCHW tensors, and Flatten.
//
//   Generator gen(0);
//   nn::Conv2d conv(3, 8, 3, gen, {.padding = 1, .dtype = DType::f64});   // 3 → 8 channels, 3x3
//   nn::MaxPool2d pool(2);                                                 // 2x2 windows, stride 2
//   Var y = pool(relu(conv(x)));                                           // x: (N, 3, H, W)
//
// Every forward pass is composed of Var operations (unslice for zero padding, one gather for the
// windows, reshape, one matmul, max/mean), so reverse, reverse-over-reverse and Taylor sweeps all
// work with no rules of their own. See docs/nn.md ("Convolution, pooling, normalization").
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "nn/module.hpp"

namespace jetgrad::nn {

// A (height, width) pair; a single number means the same for both.
struct Size2 {
  Size2(std::size_t both = 0) : h(both), w(both) {}  // NOLINT(google-explicit-constructor)
  Size2(std::size_t height, std::size_t width) : h(height), w(width) {}
  std::size_t h, w;
  bool operator==(const Size2&) const = default;
  std::string str() const;  // "3x3"
};

// The gather table that turns a padded (N, C, Hp·Wp) tensor into its sliding windows:
// entry [(i·kw + j)·L + (oh·OW + ow)] is the flat padded position of kernel tap (i, j) of output
// pixel (oh, ow), L = OH·OW. Made once per input shape and cached by the layer.
struct WindowTable {
  std::size_t H = 0, W = 0;        // unpadded input extents it was made for
  std::size_t Hp = 0, Wp = 0;      // padded extents
  std::size_t OH = 0, OW = 0;      // output extents
  std::vector<std::size_t> index;  // kh·kw·OH·OW entries
};

// Builds the table; throws ShapeError naming `layer` when the (padded) input is smaller than the
// (dilated) kernel.
WindowTable make_window_table(const std::string& layer, std::size_t H, std::size_t W, Size2 kernel,
                              Size2 stride, Size2 padding, Size2 dilation);

// The option structs are taken by const reference: g++ 12.2 with AVX-512 (-march=native here)
// miscompiles some small structs of constants passed by value on the stack (their fields arrive
// shuffled: a default Conv2dOptions arrived with padding 1x0).
struct Conv2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;  // zeros on every side
  Size2 dilation = 1;
  bool bias = true;
  DType dtype = DType::f32;
};

// y[n, o] = b[o] + Σ_c w[o, c] ⋆ x[n, c]  (cross-correlation, as PyTorch's Conv2d).
// weight (out, in, kh, kw), bias (out). Initialized as PyTorch: Kaiming-uniform with a = √5,
// which is U(−1/√fan_in, 1/√fan_in) with fan_in = in·kh·kw, and the bias from the same
// distribution; the weight is drawn from `gen` first, then the bias.
class Conv2d : public Module {
 public:
  Conv2d(std::size_t in_channels, std::size_t out_channels, Size2 kernel, Generator& gen,
         const Conv2dOptions& options = {});

  Var forward(const Var& x) override;
  std::string describe() const override;

  Parameter& weight() { return *weight_; }
  Parameter* bias() { return bias_; }  // nullptr when made with bias = false
  std::size_t in_channels() const { return in_; }
  std::size_t out_channels() const { return out_; }

 private:
  std::shared_ptr<const WindowTable> table_for(std::size_t H, std::size_t W);
  std::size_t in_, out_;
  Size2 kernel_;
  Conv2dOptions opt_;
  Parameter* weight_;
  Parameter* bias_ = nullptr;
  std::mutex cache_mutex_;
  std::shared_ptr<const WindowTable> cache_;  // the table of the last input shape
};

struct Pool2dOptions {
  Size2 stride = 0;   // 0: the kernel size (PyTorch's default)
  Size2 padding = 0;  // at most half the kernel on each side
  // AvgPool2d only: whether the zeros of the padding count in the divisor (PyTorch's default, true).
  bool count_include_pad = true;
};

// Shared machinery of the two pooling layers: windows as (N, C, kh·kw, OH·OW) through one gather.
class Pool2dBase : public Module {
 public:
  // What a pooling layer precomputes per input shape and dtype.
  struct Tables {
    WindowTable table;
    DType dtype = DType::f64;
    Tensor pad_fill;  // (Hp·Wp): the dtype's lowest finite value at padded positions, 0 elsewhere
    Tensor divisor;   // (OH·OW): how many window elements are inside the input
  };

 protected:
  Pool2dBase(std::string kind, Size2 kernel, const Pool2dOptions& options);
  // x (N, C, H, W) -> its windows (N, C, kh·kw, OH·OW), the padding zero or, with lowest_padding,
  // the lowest finite value of the dtype.
  Var windows(const Var& x, bool lowest_padding, std::shared_ptr<const Tables>* tables);
  std::string describe_base() const;

  std::string kind_;
  Size2 kernel_;
  Pool2dOptions opt_;

 private:
  std::shared_ptr<const Tables> tables_for(std::size_t H, std::size_t W, DType dtype);
  std::mutex cache_mutex_;
  std::shared_ptr<const Tables> cache_;
};

// Max over each window. The padding never wins (it holds the dtype's lowest finite value).
// Tie rule: jetgrad's max — tied elements of a window share the gradient equally (PyTorch gives it
// all to one of them); with distinct values the two agree.
class MaxPool2d : public Pool2dBase {
 public:
  explicit MaxPool2d(Size2 kernel, const Pool2dOptions& options = {});
  Var forward(const Var& x) override;
  std::string describe() const override { return describe_base(); }
};

// Mean over each window (floor output size, as PyTorch with ceil_mode = false).
class AvgPool2d : public Pool2dBase {
 public:
  explicit AvgPool2d(Size2 kernel, const Pool2dOptions& options = {});
  Var forward(const Var& x) override;
  std::string describe() const override { return describe_base(); }
};

// Merges axes start_dim..end_dim into one (negative dims count from the end), as torch.nn.Flatten.
class Flatten : public Module {
 public:
  explicit Flatten(int start_dim = 1, int end_dim = -1) : start_(start_dim), end_(end_dim) {}
  Var forward(const Var& x) override;
  std::string describe() const override;

 private:
  int start_, end_;
};

}  // namespace jetgrad::nn
