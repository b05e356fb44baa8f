// The test problems shared by bench/autodiff_bench.cpp (jetgrad) and bench/adolc_cases.cpp (ADOL-C):
// their fixed random data and the scalar-loop forms of the functions, written once as templates so
// that plain double, jetgrad's 0-d Var/Tensor and ADOL-C's adouble all run the very same loop.
//
// This header includes neither jetgrad nor ADOL-C (the two must not meet in one translation unit:
// both overload tanh/exp/... for their own types); data crosses between the files as std::vector<double>.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace adbench {

// ---- sizes -------------------------------------------------------------------------------------
inline constexpr std::size_t rosen_n = 1000;    // Rosenbrock: n inputs
inline constexpr std::size_t mlp_batch = 1000;  // MLP 8-16-16-1: batch of inputs
inline constexpr std::size_t mlp_in = 8, mlp_h1 = 16, mlp_h2 = 16, mlp_out = 1;
// Parameters, flattened in this order (row-major, weights as [fan_in, fan_out] so y = x W + b):
//   W1 [8,16], b1 [16], W2 [16,16], b2 [16], W3 [16,1], b3 [1]       -> 433 numbers
inline constexpr std::size_t mlp_param_sizes[6] = {mlp_in * mlp_h1, mlp_h1,          mlp_h1* mlp_h2,
                                                   mlp_h2,          mlp_h2* mlp_out, mlp_out};
inline constexpr std::size_t mlp_num_params = 433;

// ---- fixed random data ---------------------------------------------------------------------------
inline std::vector<double> uniform(std::size_t n, double lo, double hi, std::uint32_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(n);
  for (double& x : v) x = dist(gen);
  return v;
}

inline std::vector<double> normal(std::size_t n, std::uint32_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> dist(0.0, 1.0);
  std::vector<double> v(n);
  for (double& x : v) x = dist(gen);
  return v;
}

// Rosenbrock point in [-1.2, 1.2]^n and one direction (standard normal).
inline std::vector<double> rosen_point() { return uniform(rosen_n, -1.2, 1.2, 11); }
inline std::vector<double> rosen_direction() { return normal(rosen_n, 12); }

// MLP inputs [batch, 8] in [-1, 1]; parameters U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights,
// U(-0.1, 0.1) for biases; one direction in parameter space (standard normal).
inline std::vector<double> mlp_inputs() { return uniform(mlp_batch * mlp_in, -1.0, 1.0, 21); }
inline std::vector<double> mlp_params() {
  const double fan_in[6] = {double(mlp_in), 1.0, double(mlp_h1), 1.0, double(mlp_h2), 1.0};
  std::vector<double> p;
  for (std::size_t j = 0; j < 6; ++j) {
    const bool bias = (j % 2) == 1;
    const double a = bias ? 0.1 : 1.0 / std::sqrt(fan_in[j]);
    const std::vector<double> part = uniform(mlp_param_sizes[j], -a, a, static_cast<std::uint32_t>(22 + j));
    p.insert(p.end(), part.begin(), part.end());
  }
  return p;
}
inline std::vector<double> mlp_direction() { return normal(mlp_num_params, 29); }

// ---- the scalar-loop forms -----------------------------------------------------------------------
// f(x) = sum_i 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2, i = 0..n-2, as a textbook loop.
// T is double, adouble, or jetgrad's 0-d Var / Tensor (x as n separate scalars).
template <class T>
T rosenbrock_loop(const std::vector<T>& x) {
  const std::size_t n = x.size();
  T t0 = x[1] - x[0] * x[0];
  T u0 = 1.0 - x[0];
  T s = 100.0 * t0 * t0 + u0 * u0;
  for (std::size_t i = 1; i + 1 < n; ++i) {
    T t = x[i + 1] - x[i] * x[i];
    T u = 1.0 - x[i];
    s += 100.0 * t * t + u * u;
  }
  return s;
}

// The MLP as loops (double or adouble parameters, passive double inputs X [batch, 8]):
// loss = mean over the batch of out^2, out = W3' tanh(W2' tanh(W1' x + b1) + b2) + b3.
template <class T>
T mlp_loop(const std::vector<T>& p, const std::vector<double>& X) {
  using std::tanh;
  const T* W1 = p.data();
  const T* b1 = W1 + mlp_in * mlp_h1;
  const T* W2 = b1 + mlp_h1;
  const T* b2 = W2 + mlp_h1 * mlp_h2;
  const T* W3 = b2 + mlp_h2;
  const T* b3 = W3 + mlp_h2;
  const std::size_t batch = X.size() / mlp_in;
  T loss = 0.0;
  for (std::size_t s = 0; s < batch; ++s) {
    const double* x = X.data() + s * mlp_in;
    T h1[mlp_h1];
    T h2[mlp_h2];
    for (std::size_t j = 0; j < mlp_h1; ++j) {
      T a = b1[j];
      for (std::size_t k = 0; k < mlp_in; ++k) a += x[k] * W1[k * mlp_h1 + j];
      h1[j] = tanh(a);
    }
    for (std::size_t j = 0; j < mlp_h2; ++j) {
      T a = b2[j];
      for (std::size_t k = 0; k < mlp_h1; ++k) a += h1[k] * W2[k * mlp_h2 + j];
      h2[j] = tanh(a);
    }
    T o = b3[0];
    for (std::size_t k = 0; k < mlp_h2; ++k) o += h2[k] * W3[k];
    loss += o * o;
  }
  return loss / static_cast<double>(batch);
}

enum class Problem { rosenbrock, mlp_tanh };

// Empty if jetgrad's results for case `fn` ("rosenbrock_tensor", "rosenbrock_scalar", "mlp_tanh")
// were cross-checked (against ADOL-C when it is linked, and between its own sweeps always) before any
// timing; otherwise what disagreed. Defined in autodiff_bench.cpp; runs all checks once, on first call.
std::string validation_error(const std::string& fn);

#ifdef JETGRAD_HAVE_ADOLC
// ADOL-C's answers at a point (defined in adolc_cases.cpp): value, gradient, hess_vec along v, and
// for each K in `degrees` the normalized Taylor coefficients y_0..y_K of t -> f(x + t v).
struct AdolcReference {
  double value = 0.0;
  std::vector<double> gradient;
  std::vector<double> hess_vec;
  std::vector<std::vector<double>> taylor;  // one entry per requested degree
  std::size_t tape_operations = 0;
};
AdolcReference adolc_reference(Problem problem, const std::vector<double>& x, const std::vector<double>& v,
                               const std::vector<int>& degrees);
#endif

}  // namespace adbench
