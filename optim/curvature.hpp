// Curvature and flatness metrics of a loss, all from exact Hessian-vector products (Taylor over
// reverse) on a fixed batch or averaged over a data set.
//
//   optim::Objective obj(params, loss_on_fixed_batch);
//   Generator gen(0);
//   auto top = optim::top_eigenvalues(optim::hvp_of(obj), obj.values(), gen, {.k = 1});
//   auto tr  = optim::hutchinson_trace(optim::hvp_of(obj), obj.values(), gen, {.samples = 100});
//   double r1 = optim::first_order_flatness(obj, gen, {.rho = 0.05}).value;
//
// docs/optimizers.md gives the algorithms (PyHessian's conventions where they are sound, and where
// they are not, what we do instead).
#pragma once

#include <functional>
#include <vector>

#include "autodiff/random.hpp"
#include "optim/objective.hpp"

namespace jetgrad::optim {

// v ↦ H v for a fixed loss.
using HvpFn = std::function<ParamVector(const ParamVector&)>;
HvpFn hvp_of(Objective& objective);
// The data-set Hessian: Σ_b w_b H_b v with w_b = batch size / total (a weighted mean of batches).
HvpFn hvp_of(std::vector<Objective>& batches, const std::vector<double>& batch_sizes);

// ---- gradient norms ----------------------------------------------------------------------------
struct GradientNorms {
  double full_data = 0.0;       // ‖Σ_b w_b ∇L_b‖: the norm of the data-set gradient
  double mean_minibatch = 0.0;  // Σ_b w_b ‖∇L_b‖: inflated by gradient noise
};
GradientNorms gradient_norms(std::vector<Objective>& batches, const std::vector<double>& batch_sizes);

// ---- eigenvalues -------------------------------------------------------------------------------
struct EigenPair {
  double value = 0.0;
  ParamVector vector;
};

struct PowerOptions {
  std::size_t k = 1;                 // how many, by deflation; in [1, dimension]
  std::size_t max_iterations = 100;  // HVPs per eigenvalue, >= 1
  double tolerance = 1e-3;           // relative change of the Rayleigh quotient
};
// Power iteration with deflation (PyHessian's algorithm), from a Gaussian start. It finds the
// eigenvalues of largest *magnitude*, which may be negative. Cost: <= k · max_iterations HVPs.
std::vector<EigenPair> power_iteration(const HvpFn& hvp, const ParamVector& like, Generator& gen,
                                       const PowerOptions& options = {});

struct LanczosOptions {
  std::size_t k = 1;       // how many of the largest (algebraic) eigenvalues, in [1, steps]
  std::size_t steps = 30;  // Lanczos steps (HVPs), capped at the dimension
  ParamVector start{};     // the start vector (normalized here); empty: a Rademacher draw
};
// Lanczos with full reorthogonalization: the k largest Ritz pairs (largest algebraic first).
// Cost: min(steps, dimension) HVPs. On a breakdown (an invariant subspace, e.g. a repeated
// eigenvalue) it restarts from a random vector orthogonal to the basis, so it always returns k.
std::vector<EigenPair> top_eigenvalues(const HvpFn& hvp, const ParamVector& like, Generator& gen,
                                       const LanczosOptions& options = {});

// ---- trace -------------------------------------------------------------------------------------
struct TraceOptions {
  std::size_t samples = 100;  // HVPs
};
// Hutchinson: mean of vᵀHv over `samples` Rademacher v (>= 2), with its standard error; a fixed
// count, not PyHessian's relative-change stopping. Cost: `samples` HVPs.
Estimate hutchinson_trace(const HvpFn& hvp, const ParamVector& like, Generator& gen,
                          const TraceOptions& options = {});
// Hutch++ (Meyer et al.): a third of the HVPs sketch the top of the spectrum, whose trace is
// taken exactly; Hutchinson handles the rest. Far lower variance on fast-decaying spectra; exact
// when rank H <= samples / 3. Cost: at most `samples` HVPs (>= 3).
double hutchpp_trace(const HvpFn& hvp, const ParamVector& like, Generator& gen,
                     const TraceOptions& options = {});

// ---- spectral density --------------------------------------------------------------------------
struct DensityOptions {
  std::size_t runs = 1;            // independent Lanczos runs (random starts)
  std::size_t steps = 30;          // Lanczos steps per run
  std::size_t grid_points = 1000;  // >= 20
  // Kernel variance σ² = scale · max(1, λmax − λmin) (PyHessian), widened if needed so that σ is
  // at least one grid step; the grid spans [λmin − 6σ, λmax + 6σ].
  double sigma_squared_scale = 1e-5;
  ParamVector start{};  // the first run's start vector (normalized); empty: Rademacher
};
struct SpectralDensity {
  std::vector<std::vector<double>> nodes, weights;  // per run: Ritz values and their weights
  std::vector<double> grid, density;                // smoothed density, integrating to 1
};
// Stochastic Lanczos quadrature. Cost: runs · min(steps, dimension) HVPs (fewer if a run's
// Krylov space is invariant: its quadrature is then exact).
SpectralDensity spectral_density(const HvpFn& hvp, const ParamVector& like, Generator& gen,
                                 const DensityOptions& options = {});

// ---- flatness ----------------------------------------------------------------------------------
struct FlatnessOptions {
  double rho = 0.05;                        // radius of the ball around θ
  std::size_t steps = 10;                   // projected-ascent steps
  bool start_along_top_eigenvector = true;  // needed near minima, where ∇L ≈ 0
};
struct Flatness {
  double value = 0.0;
  ParamVector delta;  // the perturbation that attained it
};
// Every flatness metric and landscape leaves the parameters bitwise as they were (even if it throws).
// Zeroth-order sharpness: max_{‖δ‖≤ρ} L(θ + δ) − L(θ) by projected gradient ascent.
// Cost: steps + 1 gradients, plus 20 HVPs for the start along the top eigenvector.
Flatness zeroth_order_sharpness(Objective& objective, Generator& gen, const FlatnessOptions& options = {});
// First-order flatness (GAM's R1): ρ · max_{‖δ‖≤ρ} ‖∇L(θ + δ)‖, by projected ascent on
// ½‖∇L(θ+δ)‖² whose gradient H(θ+δ) ∇L(θ+δ) is an exact HVP. Cost: steps + 1 gradients with
// HVPs (one recording each), plus 20 HVPs for the start along the top eigenvector.
Flatness first_order_flatness(Objective& objective, Generator& gen, const FlatnessOptions& options = {});

// ---- loss landscape ----------------------------------------------------------------------------
// A random direction normalized filter by filter (Li et al., 2018): each row (output unit or
// filter) of a matrix or convolution weight gets the norm of the same row of θ; vectors (biases,
// normalization parameters) get zero, as in the paper's default.
ParamVector filter_normalized_direction(const ParamVector& theta, Generator& gen);
// L(θ + a d) for each a in `alphas`.
std::vector<double> landscape_1d(Objective& objective, const ParamVector& d,
                                 const std::vector<double>& alphas);
// L(θ + a d1 + b d2) on the grid alphas × betas (row-major: index [i * betas.size() + j]).
std::vector<double> landscape_2d(Objective& objective, const ParamVector& d1, const ParamVector& d2,
                                 const std::vector<double>& alphas, const std::vector<double>& betas);

// Eigenvalues (ascending) and eigenvectors (columns, row-major n×n) of a symmetric matrix, by
// cyclic Jacobi rotations (for the small Lanczos tridiagonals). `a` is row-major n×n.
void symmetric_eigen(std::vector<double> a, std::size_t n, std::vector<double>& values,
                     std::vector<double>& vectors);

}  // namespace jetgrad::optim
