// The functional API: derivatives of C++ functions of Var, returned as Tensors.
//
//   auto f = [](const Var& x) { return sum(sin(x) * exp(x)); };
//   Tensor g  = grad(f, x);                   // reverse mode
//   auto [y, t] = jvp(f, x, v);               // f(x), J v
//   Tensor hv = hvp(f, x, v);                 // exact Hessian-vector product
//   Tensor H  = hessian(f, x);                // dense Hessian, shape x.shape + x.shape
//   std::vector<Tensor> c = taylor(f, x, v, K); // c[k] = (1/k!) d^k/dt^k f(x + t v) at t = 0
//   GradcheckReport r = gradcheck(f, {x});    // reverse mode against central differences
//
// Each call records f on a fresh tape of its own; for record-once / replay-many use, keep a Tape.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "autodiff/var.hpp"

namespace jetgrad {

using UnaryFn = std::function<Var(const Var&)>;
using MultiFn = std::function<Var(const std::vector<Var>&)>;

// ---- gradients (f has one output element) ------------------------------------------------------
Tensor grad(const UnaryFn& f, const Tensor& x);
std::vector<Tensor> grad(const MultiFn& f, const std::vector<Tensor>& xs);
std::pair<Tensor, Tensor> value_and_grad(const UnaryFn& f, const Tensor& x);

// ---- vector products ---------------------------------------------------------------------------
// (f(x), wᵀ J) for a cotangent w of f(x)'s shape.
std::pair<Tensor, Tensor> vjp(const UnaryFn& f, const Tensor& x, const Tensor& cotangent);
// (f(x), J v) for a tangent v of x's shape (forward mode).
std::pair<Tensor, Tensor> jvp(const UnaryFn& f, const Tensor& x, const Tensor& tangent);

// ---- second and higher order ---------------------------------------------------------------------
enum class HvpMethod {
  taylor_over_reverse,   // the JVP of the recorded gradient (forward over reverse): the default
  reverse_over_reverse,  // the gradient of ⟨∇f, v⟩ (double backward)
};
// H v, exact (f has one output element).
Tensor hvp(const UnaryFn& f, const Tensor& x, const Tensor& v,
           HvpMethod method = HvpMethod::taylor_over_reverse);
// The dense Hessian, shape x.shape + x.shape: all n HVPs in one batched Taylor sweep.
Tensor hessian(const UnaryFn& f, const Tensor& x);
// The Jacobian, shape f(x).shape + x.shape: forward mode (one batched sweep) when x has fewer
// elements than f(x), reverse mode (one sweep per output element) otherwise.
Tensor jacobian(const UnaryFn& f, const Tensor& x);
// Normalized Taylor coefficients of t -> ∇f(x + t v): c[k] = (1/k!) D^k(∇f)(x)[v,...,v], k = 0..K.
// c[1] is H v; k! c[k] the k-th directional derivative of the gradient.
std::vector<Tensor> grad_taylor(const UnaryFn& f, const Tensor& x, const Tensor& v, int K);

// ---- differential operators through jets -------------------------------------------------------
// Δf = tr ∇²f exactly: second-order jets along every unit direction, in one sweep.
Tensor laplacian(const UnaryFn& f, const Tensor& x);
struct Estimate {
  double mean = 0.0;
  double standard_error = 0.0;  // of the mean, from the sample variance
  std::size_t samples = 0;
};
// The Stochastic Taylor Derivative Estimator of Δf: 2 c_2 along random Rademacher directions
// (E[vᵀHv] = tr H), all samples in one batched sweep. f must return one element.
Estimate laplacian_estimate(const UnaryFn& f, const Tensor& x, std::size_t samples, unsigned seed);
// Δ²f = Σ_ij ∂⁴f/∂x_i²∂x_j² exactly, from fourth-order jets along e_i and e_i ± e_j.
Tensor biharmonic(const UnaryFn& f, const Tensor& x);

// ---- Taylor mode -------------------------------------------------------------------------------
// Normalized Taylor coefficients of t -> f(x + t v) at t = 0: c[k] = f^(k)/k!, k = 0..K.
std::vector<Tensor> taylor(const UnaryFn& f, const Tensor& x, const Tensor& v, int K);
// c[k] * k!: the plain k-th derivatives along v.
std::vector<Tensor> taylor_to_derivatives(std::vector<Tensor> coefficients);

// ---- gradcheck ---------------------------------------------------------------------------------
struct GradcheckOptions {
  double step = 1e-6;  // central-difference step (inputs are checked in float64)
  double atol = 1e-6;  // |reverse - numeric| <= atol + rtol |numeric| passes
  double rtol = 1e-5;
  std::size_t report_worst = 5;
  unsigned seed = 0;  // for the random cotangent (and the direction of higher orders)
  int max_order = 1;  // also check Taylor coefficients of orders 2..max_order
};

struct GradcheckEntry {
  std::size_t input = 0;   // which input
  std::size_t index = 0;   // flat element index within it
  double reverse = 0.0;    // reverse-mode value
  double forward = 0.0;    // forward-mode (Taylor, K = 1) value
  double numeric = 0.0;    // central difference
  double abs_error = 0.0;  // the larger of |reverse - numeric| and |forward - numeric|
  double rel_error = 0.0;
};

// Order k >= 2: the k-th derivative along a random direction v from a Taylor sweep (k! c_k)
// against the central difference of the (k-1)-th one (also from Taylor sweeps).
struct GradcheckOrder {
  int order = 2;
  double taylor = 0.0;
  double numeric = 0.0;
  double abs_error = 0.0;
  bool passed = true;
};

struct GradcheckReport {
  bool passed = true;
  double max_abs_error = 0.0;
  double max_rel_error = 0.0;
  std::size_t checked = 0;
  double max_mode_gap = 0.0;           // largest |reverse - forward|: should be rounding only
  std::vector<GradcheckEntry> worst;   // largest errors first
  std::vector<GradcheckOrder> orders;  // orders 2..max_order
  std::string note;                    // what could not be checked, and why
  std::string str() const;             // a readable table
};

// Compares reverse mode, forward mode (a Taylor sweep of degree 1 along every unit direction at
// once) and central finite differences for every element of every input, in float64, on the
// scalar ⟨w, f(x)⟩ for a random cotangent w (so tensor outputs are checked too); with
// max_order > 1, also Taylor coefficients of higher order along a random direction.
GradcheckReport gradcheck(const MultiFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});
GradcheckReport gradcheck(const UnaryFn& f, const Tensor& input, const GradcheckOptions& options = {});

}  // namespace jetgrad
