#include "optim/curvature.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>

namespace jetgrad::optim {

namespace {

ParamVector random_like(const ParamVector& like, Generator& gen, bool rademacher_entries) {
  ParamVector out;
  out.reserve(like.size());
  for (const Tensor& t : like)
    out.push_back(rademacher_entries ? rademacher(t.shape(), gen) : normal(t.shape(), 0.0, 1.0, gen));
  return out;
}

ParamVector unit(const ParamVector& v) {
  const double n = norm(v);
  return n > 0.0 ? scaled(v, 1.0 / n) : v;
}

// v − Σ_b (b·v) b for an orthonormal basis, done twice (classical Gram–Schmidt, reorthogonalized).
ParamVector orthogonalize_against(ParamVector v, const std::vector<ParamVector>& basis) {
  for (int pass = 0; pass < 2; ++pass)
    for (const ParamVector& b : basis) v = axpy(-dot(b, v), b, v);
  return v;
}

ParamVector as_f64(const ParamVector& v) {
  ParamVector out;
  for (const Tensor& t : v) out.push_back(t.to(DType::f64));
  return out;
}

struct LanczosRun {
  std::vector<double> alpha, beta;
  std::vector<ParamVector> basis;
};

// The normalized start of a Lanczos run: the caller's vector, or a Rademacher draw.
ParamVector lanczos_start(const ParamVector& given, const ParamVector& like, Generator& gen,
                          const char* what) {
  if (given.empty()) return unit(random_like(like, gen, true));
  if (given.size() != like.size())
    throw ShapeError(std::string(what) + ": the start vector has the wrong number of tensors");
  for (std::size_t i = 0; i < given.size(); ++i)
    if (!(given[i].shape() == like[i].shape()))
      throw ShapeError(std::string(what) + ": the start vector has the wrong shapes");
  ParamVector v = as_f64(given);
  const double n = norm(v);
  if (!(n > 0.0) || !std::isfinite(n))
    throw ValueError(std::string(what) + ": the start vector must be nonzero and finite");
  return scaled(v, 1.0 / n);
}

// m steps of Lanczos with full reorthogonalization from the unit vector v0. A breakdown (the
// residual vanishes relative to the largest ‖H v_j‖ seen: the Krylov space is invariant) ends the
// run when `restart` is null — the tridiagonal is then exact for v0, all SLQ needs — or else
// continues from a random unit vector orthogonal to the basis with β = 0 (T block-diagonal), so
// that eigenvalues outside v0's Krylov space (repeated ones) are found too.
LanczosRun lanczos(const HvpFn& hvp, ParamVector v0, std::size_t m, Generator* restart,
                   const ParamVector& like) {
  LanczosRun run;
  run.basis.push_back(std::move(v0));
  double scale = 0.0;  // the largest ‖H v_j‖: what "small" means for this operator
  for (std::size_t j = 0; j < m; ++j) {
    ParamVector w = as_f64(hvp(run.basis[j]));
    const double a = dot(w, run.basis[j]);
    run.alpha.push_back(a);
    scale = std::max(scale, norm(w));
    if (j + 1 == m) break;
    w = orthogonalize_against(std::move(w), run.basis);  // removes a v_j and b v_{j−1} too, stably
    const double b = norm(w);
    if (b > 1e-10 * scale) {
      run.beta.push_back(b);
      run.basis.push_back(scaled(w, 1.0 / b));
      continue;
    }
    if (restart == nullptr) break;  // an invariant subspace: T is exact
    ParamVector r = orthogonalize_against(random_like(like, *restart, false), run.basis);
    const double rn = norm(r);
    if (!(rn > 1e-8)) break;  // the basis spans the space (cannot happen for m <= dimension)
    run.beta.push_back(0.0);
    run.basis.push_back(orthogonalize_against(scaled(r, 1.0 / rn), run.basis));
  }
  return run;
}

// Eigen-decomposition of the run's tridiagonal T.
void tridiagonal_eigen(const LanczosRun& run, std::vector<double>& values, std::vector<double>& vectors) {
  const std::size_t n = run.alpha.size();
  std::vector<double> t(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    t[i * n + i] = run.alpha[i];
    if (i + 1 < n) t[i * n + i + 1] = t[(i + 1) * n + i] = run.beta[i];
  }
  symmetric_eigen(std::move(t), n, values, vectors);
}

}  // namespace

void symmetric_eigen(std::vector<double> a, std::size_t n, std::vector<double>& values,
                     std::vector<double>& vectors) {
  if (a.size() != n * n) {
    throw ShapeError("symmetric_eigen: expected " + std::to_string(n * n) +
                     " elements for n = " + std::to_string(n) + ", got " + std::to_string(a.size()));
  }
  for (double x : a)
    if (!std::isfinite(x)) throw ValueError("symmetric_eigen: the matrix has a non-finite element");
  vectors.assign(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i) vectors[i * n + i] = 1.0;
  // Converged when the off-diagonal part is negligible relative to the whole matrix (a relative
  // test: an absolute one stops at once on a matrix of tiny scale, and never on a large one).
  double frobenius = 0.0;
  for (double x : a) frobenius += x * x;
  const double tiny = 1e-32 * frobenius;  // (1e-16 ‖A‖_F)²
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0.0;
    for (std::size_t p = 0; p < n; ++p)
      for (std::size_t q = p + 1; q < n; ++q) off += a[p * n + q] * a[p * n + q];
    if (off <= tiny) break;
    for (std::size_t p = 0; p < n; ++p) {
      for (std::size_t q = p + 1; q < n; ++q) {
        const double apq = a[p * n + q];
        if (apq == 0.0) continue;
        // The rotation that zeroes a_pq: tan(2φ) = 2 a_pq / (a_qq − a_pp), smaller root for stability.
        const double theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
        // For huge |θ| (θ² would overflow) t ≈ 1/(2θ).
        const double t = std::abs(theta) > 1e150
                             ? 0.5 / theta
                             : (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1.0));
        const double c = 1.0 / std::sqrt(t * t + 1.0), s = t * c;
        for (std::size_t k = 0; k < n; ++k) {  // A ← Jᵀ A J
          const double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (std::size_t k = 0; k < n; ++k) {
          const double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        a[p * n + q] = a[q * n + p] = 0.0;     // zero by construction: keep rounding out of `off`
        for (std::size_t k = 0; k < n; ++k) {  // V ← V J
          const double vkp = vectors[k * n + p], vkq = vectors[k * n + q];
          vectors[k * n + p] = c * vkp - s * vkq;
          vectors[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  // Sort ascending, permuting the eigenvector columns along.
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t i, std::size_t j) { return a[i * n + i] < a[j * n + j]; });
  values.resize(n);
  std::vector<double> sorted(n * n);
  for (std::size_t c = 0; c < n; ++c) {
    values[c] = a[order[c] * n + order[c]];
    for (std::size_t r = 0; r < n; ++r) sorted[r * n + c] = vectors[r * n + order[c]];
  }
  vectors = std::move(sorted);
}

HvpFn hvp_of(Objective& objective) {
  return [&objective](const ParamVector& v) { return objective.hvp(v); };
}

HvpFn hvp_of(std::vector<Objective>& batches, const std::vector<double>& batch_sizes) {
  if (batches.empty() || batches.size() != batch_sizes.size()) {
    throw ValueError("hvp_of: expected one batch size per batch, got " + std::to_string(batches.size()) +
                     " batches and " + std::to_string(batch_sizes.size()) + " sizes");
  }
  double total = 0.0;
  for (double s : batch_sizes) {
    if (!(s > 0.0)) throw ValueError("hvp_of: batch sizes must be positive, got " + std::to_string(s));
    total += s;
  }
  std::vector<double> weights;
  for (double s : batch_sizes) weights.push_back(s / total);
  return [&batches, weights](const ParamVector& v) {
    ParamVector acc = scaled(as_f64(batches[0].hvp(v)), weights[0]);
    for (std::size_t b = 1; b < batches.size(); ++b) acc = axpy(weights[b], as_f64(batches[b].hvp(v)), acc);
    return acc;
  };
}

GradientNorms gradient_norms(std::vector<Objective>& batches, const std::vector<double>& batch_sizes) {
  if (batches.empty() || batches.size() != batch_sizes.size()) {
    throw ValueError("gradient_norms: expected one batch size per batch");
  }
  double total = 0.0;
  for (double s : batch_sizes) {
    if (!(s > 0.0))
      throw ValueError("gradient_norms: batch sizes must be positive, got " + std::to_string(s));
    total += s;
  }
  GradientNorms out;
  ParamVector full;
  for (std::size_t b = 0; b < batches.size(); ++b) {
    const ParamVector g = as_f64(batches[b].gradient());
    const double w = batch_sizes[b] / total;
    out.mean_minibatch += w * norm(g);
    full = full.empty() ? scaled(g, w) : axpy(w, g, full);
  }
  out.full_data = norm(full);
  return out;
}

std::vector<EigenPair> power_iteration(const HvpFn& hvp, const ParamVector& like, Generator& gen,
                                       const PowerOptions& options) {
  const std::size_t dim = numel(like);
  if (options.k == 0 || options.k > dim) {
    throw ValueError("power_iteration: k must be in [1, dimension] = [1, " + std::to_string(dim) + "], got " +
                     std::to_string(options.k));
  }
  if (options.max_iterations == 0) throw ValueError("power_iteration: max_iterations must be >= 1");
  std::vector<EigenPair> found;
  std::vector<ParamVector> basis;
  for (std::size_t k = 0; k < options.k; ++k) {
    ParamVector v = unit(random_like(like, gen, false));
    double lambda = 0.0;
    bool have_previous = false;
    for (std::size_t it = 0; it < options.max_iterations; ++it) {
      v = unit(orthogonalize_against(std::move(v), basis));  // deflation
      const ParamVector w = as_f64(hvp(v));
      const double next = dot(v, w);
      v = scaled(w, 1.0 / (norm(w) + 1e-6));
      const bool converged =
          have_previous && std::abs(next - lambda) / (std::abs(lambda) + 1e-6) < options.tolerance;
      lambda = next;
      have_previous = true;
      if (converged) break;
    }
    v = unit(orthogonalize_against(std::move(v), basis));
    basis.push_back(v);
    found.push_back({lambda, std::move(v)});
  }
  return found;
}

std::vector<EigenPair> top_eigenvalues(const HvpFn& hvp, const ParamVector& like, Generator& gen,
                                       const LanczosOptions& options) {
  const std::size_t m = std::min(options.steps, numel(like));
  if (options.k == 0 || options.k > m) {
    throw ValueError("top_eigenvalues: k must be in [1, steps] = [1, " + std::to_string(m) + "], got " +
                     std::to_string(options.k));
  }
  const LanczosRun run =
      lanczos(hvp, lanczos_start(options.start, like, gen, "top_eigenvalues"), m, &gen, like);
  std::vector<double> values, vectors;
  tridiagonal_eigen(run, values, vectors);
  const std::size_t n = values.size();
  std::vector<EigenPair> out;
  for (std::size_t r = 0; r < std::min(options.k, n); ++r) {
    const std::size_t c = n - 1 - r;  // largest first
    ParamVector ritz = scaled(run.basis[0], vectors[0 * n + c]);
    for (std::size_t i = 1; i < n; ++i) ritz = axpy(vectors[i * n + c], run.basis[i], ritz);
    out.push_back({values[c], unit(ritz)});
  }
  return out;
}

Estimate hutchinson_trace(const HvpFn& hvp, const ParamVector& like, Generator& gen,
                          const TraceOptions& options) {
  if (options.samples < 2)
    throw ValueError("hutchinson_trace: needs at least 2 samples, got " + std::to_string(options.samples));
  // Welford's running mean and sum of squared deviations: Σs² − n·mean² cancels catastrophically
  // when the spread is small against the mean (a diagonal H has zero spread).
  double mean = 0.0, m2 = 0.0;
  for (std::size_t i = 0; i < options.samples; ++i) {
    const ParamVector v = random_like(like, gen, true);
    const double s = dot(v, as_f64(hvp(v)));
    const double delta = s - mean;
    mean += delta / static_cast<double>(i + 1);
    m2 += delta * (s - mean);
  }
  const double n = static_cast<double>(options.samples);
  Estimate e;
  e.samples = options.samples;
  e.mean = mean;
  e.standard_error = std::sqrt(std::max(0.0, m2 / (n - 1.0)) / n);
  return e;
}

double hutchpp_trace(const HvpFn& hvp, const ParamVector& like, Generator& gen, const TraceOptions& options) {
  if (options.samples < 3)
    throw ValueError("hutchpp_trace: needs at least 3 samples, got " + std::to_string(options.samples));
  const std::size_t third = options.samples / 3;
  // Sketch: Q = orthonormal basis of H S for Rademacher S. A column whose residual is negligible
  // relative to ‖H s‖ adds nothing (H S has lower rank): dropped, saving its HVP below.
  std::vector<ParamVector> q;
  for (std::size_t i = 0; i < third; ++i) {
    const ParamVector hs = as_f64(hvp(random_like(like, gen, true)));
    const double hn = norm(hs);
    ParamVector y = orthogonalize_against(hs, q);
    const double n = norm(y);
    if (n > 1e-10 * hn) q.push_back(scaled(y, 1.0 / n));
  }
  double top = 0.0;
  for (const ParamVector& b : q) top += dot(b, as_f64(hvp(b)));
  // Hutchinson on the complement (I − QQᵀ) H (I − QQᵀ).
  double rest = 0.0;
  for (std::size_t i = 0; i < third; ++i) {
    const ParamVector g = orthogonalize_against(random_like(like, gen, true), q);
    rest += dot(g, as_f64(hvp(g)));
  }
  return top + rest / static_cast<double>(third);
}

SpectralDensity spectral_density(const HvpFn& hvp, const ParamVector& like, Generator& gen,
                                 const DensityOptions& options) {
  if (options.runs == 0 || options.steps == 0 || options.grid_points < 20 ||
      !(options.sigma_squared_scale > 0.0)) {
    throw ValueError(
        "spectral_density: runs and steps must be >= 1, grid_points >= 20 and sigma_squared_scale > 0");
  }
  SpectralDensity out;
  const std::size_t m = std::min(options.steps, numel(like));
  double low = std::numeric_limits<double>::infinity(), high = -low;
  for (std::size_t r = 0; r < options.runs; ++r) {
    const ParamVector v0 = r == 0 && !options.start.empty()
                               ? lanczos_start(options.start, like, gen, "spectral_density")
                               : unit(random_like(like, gen, true));
    const LanczosRun run = lanczos(hvp, v0, m, nullptr, like);
    std::vector<double> values, vectors;
    tridiagonal_eigen(run, values, vectors);
    const std::size_t n = values.size();
    std::vector<double> w(n);
    for (std::size_t c = 0; c < n; ++c) w[c] = vectors[c] * vectors[c];  // (first component)²
    low = std::min(low, values.front());
    high = std::max(high, values.back());
    out.nodes.push_back(std::move(values));
    out.weights.push_back(std::move(w));
  }
  // PyHessian's kernel σ² = scale · max(1, range) on [mean min − 0.01, mean max + 0.01] breaks on
  // wide spectra: σ grows like √range while the grid step grows like range, so the Gaussians fall
  // between grid points, and a 0.01 margin (or a run whose extreme Ritz value lies beyond the
  // mean) cuts off edge kernels. Here σ is at least one grid step, and the grid reaches 6σ beyond
  // the extreme Ritz values of all runs; the density is normalized by the trapezoid rule.
  const double range = high - low;
  const double points = static_cast<double>(options.grid_points);
  double sigma = std::sqrt(options.sigma_squared_scale * std::max(1.0, range));
  sigma = std::max(sigma, range / (points - 13.0));  // σ >= (range + 12σ) / (points − 1)
  const double sigma2 = sigma * sigma;
  const double lo = low - 6.0 * sigma, hi = high + 6.0 * sigma;
  const double dx = (hi - lo) / (points - 1.0);
  double integral = 0.0;
  for (std::size_t i = 0; i < options.grid_points; ++i) {
    const double t = lo + dx * static_cast<double>(i);
    double phi = 0.0;
    for (std::size_t r = 0; r < out.nodes.size(); ++r)
      for (std::size_t j = 0; j < out.nodes[r].size(); ++j) {
        const double z = t - out.nodes[r][j];
        phi += out.weights[r][j] * std::exp(-z * z / (2.0 * sigma2)) /
               std::sqrt(2.0 * std::numbers::pi * sigma2);
      }
    phi /= static_cast<double>(out.nodes.size());
    out.grid.push_back(t);
    out.density.push_back(phi);
    integral += (i == 0 || i + 1 == options.grid_points ? 0.5 : 1.0) * phi * dx;
  }
  if (integral > 0.0)
    for (double& d : out.density) d /= integral;
  return out;
}

namespace {

// Projects δ onto the ball ‖δ‖ ≤ ρ.
ParamVector project(const ParamVector& delta, double rho) {
  const double n = norm(delta);
  return n > rho ? scaled(delta, rho / n) : delta;
}

ParamVector initial_delta(Objective& objective, Generator& gen, const FlatnessOptions& options) {
  const ParamVector theta = as_f64(objective.values());
  if (!options.start_along_top_eigenvector) return zeros_like(theta);
  const auto top = top_eigenvalues(hvp_of(objective), theta, gen, {.k = 1, .steps = 20, .start = {}});
  return scaled(top[0].vector, options.rho);
}

// Restores θ when the metric is done (or throws).
struct Restore {
  Objective& objective;
  ParamVector theta;
  ~Restore() { objective.set_values(theta); }
};

}  // namespace

Flatness zeroth_order_sharpness(Objective& objective, Generator& gen, const FlatnessOptions& options) {
  Restore restore{objective, objective.values()};
  const ParamVector theta = as_f64(restore.theta);
  const double base = objective.value();
  ParamVector delta = initial_delta(objective, gen, options);
  const double step = 2.0 * options.rho / static_cast<double>(std::max<std::size_t>(options.steps, 1));
  Flatness best{-std::numeric_limits<double>::infinity(), delta};
  for (std::size_t it = 0; it <= options.steps; ++it) {
    objective.set_values(axpy(1.0, delta, theta));
    auto [loss, g] = objective.value_and_gradient();
    if (loss - base > best.value) best = {loss - base, delta};
    if (it == options.steps) break;
    const ParamVector g64 = as_f64(g);
    delta = project(axpy(step / (norm(g64) + 1e-12), g64, delta), options.rho);
  }
  return best;
}

Flatness first_order_flatness(Objective& objective, Generator& gen, const FlatnessOptions& options) {
  Restore restore{objective, objective.values()};
  const ParamVector theta = as_f64(restore.theta);
  ParamVector delta = initial_delta(objective, gen, options);
  const double step = 2.0 * options.rho / static_cast<double>(std::max<std::size_t>(options.steps, 1));
  Flatness best{0.0, delta};
  for (std::size_t it = 0; it <= options.steps; ++it) {
    objective.set_values(axpy(1.0, delta, theta));
    // ∇L(θ+δ) and H(θ+δ) ∇L(θ+δ) = ∇(½‖∇L‖²) in one recording.
    auto r = objective.value_gradient_hvp([](const ParamVector& g) { return g; });
    const double value = options.rho * norm(as_f64(r.gradient));
    if (value > best.value || it == 0) best = {std::max(value, best.value), delta};
    if (it == options.steps) break;
    const ParamVector ascent = as_f64(r.hvp);
    delta = project(axpy(step / (norm(ascent) + 1e-12), ascent, delta), options.rho);
  }
  return best;
}

ParamVector filter_normalized_direction(const ParamVector& theta, Generator& gen) {
  ParamVector out;
  for (const Tensor& t : theta) {
    if (t.rank() < 2) {
      out.push_back(Tensor::zeros(t.shape(), DType::f64));
      continue;
    }
    Tensor d = normal(t.shape(), 0.0, 1.0, gen);
    const Tensor t64 = t.to(DType::f64);
    const std::size_t rows = t.shape()[0], per_row = t.numel() / rows;
    for (std::size_t r = 0; r < rows; ++r) {
      double nt = 0.0, nd = 0.0;
      for (std::size_t k = 0; k < per_row; ++k) {
        nt += t64.at(r * per_row + k) * t64.at(r * per_row + k);
        nd += d.at(r * per_row + k) * d.at(r * per_row + k);
      }
      const double s = nd > 0.0 ? std::sqrt(nt) / std::sqrt(nd) : 0.0;
      for (std::size_t k = 0; k < per_row; ++k) d.set(r * per_row + k, d.at(r * per_row + k) * s);
    }
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<double> landscape_1d(Objective& objective, const ParamVector& d,
                                 const std::vector<double>& alphas) {
  Restore restore{objective, objective.values()};
  const ParamVector theta = as_f64(restore.theta);
  const ParamVector d64 = as_f64(d);  // a float32 direction would not mix with the float64 θ
  std::vector<double> out;
  for (double a : alphas) {
    objective.set_values(axpy(a, d64, theta));
    out.push_back(objective.value());
  }
  return out;
}

std::vector<double> landscape_2d(Objective& objective, const ParamVector& d1, const ParamVector& d2,
                                 const std::vector<double>& alphas, const std::vector<double>& betas) {
  Restore restore{objective, objective.values()};
  const ParamVector theta = as_f64(restore.theta);
  const ParamVector d1_64 = as_f64(d1), d2_64 = as_f64(d2);
  std::vector<double> out;
  for (double a : alphas)
    for (double b : betas) {
      objective.set_values(axpy(b, d2_64, axpy(a, d1_64, theta)));
      out.push_back(objective.value());
    }
  return out;
}

}  // namespace jetgrad::optim
