#include "nn/init.hpp"

#include <bit>
#include <cmath>
#include <string>
#include <vector>

#include "autodiff/errors.hpp"

namespace jetgrad::nn {

double calculate_gain(Nonlinearity nonlinearity, double negative_slope) {
  switch (nonlinearity) {
    case Nonlinearity::linear:
    case Nonlinearity::sigmoid:
      return 1.0;
    case Nonlinearity::tanh:
      return 5.0 / 3.0;
    case Nonlinearity::relu:
      return std::sqrt(2.0);
    case Nonlinearity::leaky_relu:
      return std::sqrt(2.0 / (1.0 + negative_slope * negative_slope));
    case Nonlinearity::selu:
      return 0.75;
  }
  return 1.0;
}

std::pair<std::size_t, std::size_t> fans(const Shape& shape) {
  if (shape.rank() < 2) {
    throw ShapeError("init: fan_in and fan_out need a weight of rank >= 2 (out, in, ...), got shape " +
                     shape.str());
  }
  std::size_t receptive = 1;
  for (int i = 2; i < shape.rank(); ++i) receptive *= shape[i];
  return {shape[1] * receptive, shape[0] * receptive};
}

namespace {

std::size_t fan_of(const Shape& shape, FanMode mode, const char* what) {
  const auto [in, out] = fans(shape);
  const std::size_t fan = mode == FanMode::fan_in ? in : out;
  if (fan == 0) throw ShapeError(std::string(what) + ": the fan of shape " + shape.str() + " is zero");
  return fan;
}

}  // namespace

Tensor xavier_uniform(const Shape& shape, Generator& gen, double gain, DType dtype) {
  const auto [in, out] = fans(shape);
  const double a = gain * std::sqrt(6.0 / static_cast<double>(in + out));
  return uniform(shape, -a, a, gen, dtype);
}

Tensor xavier_normal(const Shape& shape, Generator& gen, double gain, DType dtype) {
  const auto [in, out] = fans(shape);
  return normal(shape, 0.0, gain * std::sqrt(2.0 / static_cast<double>(in + out)), gen, dtype);
}

Tensor kaiming_uniform(const Shape& shape, Generator& gen, double gain, FanMode mode, DType dtype) {
  const double a = gain * std::sqrt(3.0 / static_cast<double>(fan_of(shape, mode, "kaiming_uniform")));
  return uniform(shape, -a, a, gen, dtype);
}

Tensor kaiming_normal(const Shape& shape, Generator& gen, double gain, FanMode mode, DType dtype) {
  const double sigma = gain / std::sqrt(static_cast<double>(fan_of(shape, mode, "kaiming_normal")));
  return normal(shape, 0.0, sigma, gen, dtype);
}

Tensor orthogonal(const Shape& shape, Generator& gen, double gain, DType dtype) {
  if (shape.rank() < 2) throw ShapeError("orthogonal: expected a shape of rank >= 2, got " + shape.str());
  const std::size_t rows = shape[0];
  const std::size_t cols = rows == 0 ? 0 : shape.numel() / rows;
  if (rows == 0 || cols == 0) return Tensor::zeros(shape, dtype);
  // Work on the tall orientation n × k (n >= k) and orthonormalize its k columns.
  const bool flip = rows < cols;
  const std::size_t n = flip ? cols : rows, k = flip ? rows : cols;
  std::vector<double> a(n * k);        // column-major: column j at a[j*n .. j*n + n)
  for (std::size_t i = 0; i < n; ++i)  // draw in the row-major order of the n × k matrix
    for (std::size_t j = 0; j < k; ++j) a[j * n + i] = gen.normal();
  for (std::size_t j = 0; j < k; ++j) {
    double* qj = &a[j * n];
    for (int pass = 0; pass < 2; ++pass) {  // "twice is enough" (Kahan–Parlett)
      for (std::size_t p = 0; p < j; ++p) {
        const double* qp = &a[p * n];
        double dot = 0.0;
        for (std::size_t i = 0; i < n; ++i) dot += qp[i] * qj[i];
        for (std::size_t i = 0; i < n; ++i) qj[i] -= dot * qp[i];
      }
    }
    double norm = 0.0;
    for (std::size_t i = 0; i < n; ++i) norm += qj[i] * qj[i];
    norm = std::sqrt(norm);
    if (!(norm > 0.0))
      throw Error("orthogonal: a Gaussian draw was rank-deficient (norm " + std::to_string(norm) + ")");
    for (std::size_t i = 0; i < n; ++i) qj[i] /= norm;  // R_jj = norm > 0: the sign convention of Haar Q
  }
  Tensor out(DType::f64, shape);
  double* o = out.data<double>();
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) o[r * cols + c] = gain * (flip ? a[r * n + c] : a[c * n + r]);
  return out.to(dtype);
}

Tensor zero_init(const Shape& shape, DType dtype, ZerOScale scale) {
  if (shape.rank() < 2)
    throw ShapeError("zero_init: expected a weight of shape (out, in, ...), got " + shape.str());
  const std::size_t P = shape[0], Q = shape[1];
  std::size_t taps = 1, centre = 0;  // convolution kernels: the centre tap of the spatial block
  for (int i = 2; i < shape.rank(); ++i) {
    if (shape[i] % 2 == 0) {
      throw ShapeError("zero_init: convolution kernels need odd spatial extents (Algorithm 2), got shape " +
                       shape.str());
    }
    centre = centre * shape[i] + shape[i] / 2;
    taps *= shape[i];
  }
  Tensor w(DType::f64, shape);
  double* d = w.data<double>();
  auto at = [&](std::size_t i, std::size_t j) -> double& { return d[(i * Q + j) * taps + centre]; };
  if (P <= Q) {
    for (std::size_t i = 0; i < P; ++i) at(i, i) = 1.0;  // identity, or partial identity I*
  } else {
    const int m = static_cast<int>(std::bit_width(P - 1));  // ⌈log2 P⌉ for P >= 2
    const double c = scale == ZerOScale::paper ? std::pow(2.0, -(m - 1) / 2.0) : std::pow(2.0, -m / 2.0);
    for (std::size_t i = 0; i < P; ++i)
      for (std::size_t j = 0; j < Q; ++j) at(i, j) = (std::popcount(i & j) % 2 == 0) ? c : -c;
  }
  return w.to(dtype);
}

}  // namespace jetgrad::nn
