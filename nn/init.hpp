// Weight initializers. Each returns a new Tensor of the given shape; every random draw comes from
// the Generator passed in, so the same seed gives the same weights bit for bit.
//
//   Generator gen(7);
//   nn::Linear fc(256, 256, gen);
//   fc.weight().value = nn::orthogonal(Shape{256, 256}, gen, nn::calculate_gain(nn::Nonlinearity::tanh));
//   fc.weight().value = nn::kaiming_normal(Shape{256, 256}, gen);   // He init for ReLU (gain √2)
//   fc.weight().value = nn::zero_init(Shape{256, 256});            // ZerO: deterministic identity
//
// Fans (PyTorch's convention): for a weight of shape (out, in, k1, k2, ...), with receptive field
// r = k1·k2·..., fan_in = in·r and fan_out = out·r. Rank < 2 is rejected (no fan is defined).
//   xavier_uniform  U(-a, a),  a = gain · √(6 / (fan_in + fan_out))
//   xavier_normal   N(0, σ²),  σ = gain · √(2 / (fan_in + fan_out))
//   kaiming_uniform U(-a, a),  a = gain · √(3 / fan)     (fan = fan_in by default)
//   kaiming_normal  N(0, σ²),  σ = gain / √fan
//   orthogonal      gain · Q, Q from the QR factorization of a Gaussian matrix (double precision)
//   zero_init       ZerO (Zhao, Schäfer, Anandkumar, TMLR 2022), Algorithm 1: see below
#pragma once

#include <cstddef>
#include <utility>

#include "autodiff/random.hpp"
#include "autodiff/tensor.hpp"

namespace jetgrad::nn {

enum class Nonlinearity { linear, sigmoid, tanh, relu, leaky_relu, selu };
// PyTorch's calculate_gain: linear/sigmoid 1, tanh 5/3, relu √2, leaky_relu √(2 / (1 + slope²)), selu 3/4.
double calculate_gain(Nonlinearity nonlinearity, double negative_slope = 0.01);

enum class FanMode { fan_in, fan_out };
// (fan_in, fan_out) of a weight shape; throws ShapeError for rank < 2.
std::pair<std::size_t, std::size_t> fans(const Shape& shape);

Tensor xavier_uniform(const Shape& shape, Generator& gen, double gain = 1.0, DType dtype = DType::f32);
Tensor xavier_normal(const Shape& shape, Generator& gen, double gain = 1.0, DType dtype = DType::f32);
// The default gain √2 is He et al.'s, for ReLU networks.
Tensor kaiming_uniform(const Shape& shape, Generator& gen, double gain = 1.4142135623730951,
                       FanMode mode = FanMode::fan_in, DType dtype = DType::f32);
Tensor kaiming_normal(const Shape& shape, Generator& gen, double gain = 1.4142135623730951,
                      FanMode mode = FanMode::fan_in, DType dtype = DType::f32);

// A (semi-)orthogonal matrix: the shape is viewed as (rows, cols) with rows = shape[0] and cols the
// product of the rest. Rows are orthonormal when rows <= cols, columns otherwise, times `gain`.
// Method (as PyTorch): draw A ~ N(0, 1) of the taller orientation, A = QR by modified Gram–Schmidt
// (reorthogonalized once, in double), with R's diagonal positive, so Q is Haar-distributed.
Tensor orthogonal(const Shape& shape, Generator& gen, double gain = 1.0, DType dtype = DType::f32);

// ZerO initialization, Algorithm 1 of Zhao et al. 2022 ("ZerO Initialization: Initializing Neural
// Networks with only Zeros and Ones"). For W of shape (P, Q) = (out, in), y = W x:
//   P == Q:  W = I                         (identity)
//   P <  Q:  W = I*                        (partial identity: W[i][i] = 1, the first P inputs pass)
//   P >  Q:  W = c · I* H_m I*,  m = ⌈log2 P⌉,  c = 2^(-(m-1)/2)
//            i.e. W[i][j] = c · H_m[i][j] for i < P, j < Q, with H_m the 2^m × 2^m Sylvester
//            Hadamard matrix, H_m[i][j] = (-1)^popcount(i & j).
// The paper's Algorithm 1 states c = 2^(-(m-1)/2); the authors' reference notebook divides by
// 2^(m/2) instead (an orthonormal H). ZerOScale::paper (the default) follows the paper's text,
// ZerOScale::orthonormal the notebook. For rank > 2 (convolution kernels (out, in, k, ...), every
// spatial extent odd) Algorithm 2 applies: the matrix goes to the centre tap, zeros elsewhere.
// Biases are zero in ZerO (set them with Tensor::zeros). No randomness at all.
enum class ZerOScale { paper, orthonormal };
Tensor zero_init(const Shape& shape, DType dtype = DType::f32, ZerOScale scale = ZerOScale::paper);

}  // namespace jetgrad::nn
