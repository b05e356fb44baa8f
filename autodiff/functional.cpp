#include "autodiff/functional.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <optional>
#include <random>
#include <sstream>

namespace jetgrad {

namespace {

void check_scalar_output(const Var& y, const char* what) {
  if (y.numel() != 1) {
    throw ShapeError(std::string(what) + ": f must return one element, got shape " + y.shape().str());
  }
}

void check_like(const Tensor& x, const Tensor& v, const char* what, const char* name) {
  if (!(x.shape() == v.shape())) {
    throw ShapeError(std::string(what) + ": " + name + " has shape " + v.shape().str() +
                     ", expected x's shape " + x.shape().str());
  }
  check_same_dtype(x, v, what);
}

Shape concat_shapes(const Shape& a, const Shape& b) {
  if (a.rank() + b.rank() > Shape::max_rank) {
    throw ShapeError("the result would have rank " + std::to_string(a.rank() + b.rank()) + " (shapes " +
                     a.str() + " and " + b.str() + "), above the maximum " + std::to_string(Shape::max_rank));
  }
  Shape s = a;
  for (std::size_t d : b) s.push_back(d);
  return s;
}

// The unit tensor e_i of the given shape.
Tensor unit(const Shape& shape, DType dtype, std::size_t i) {
  Tensor e(dtype, shape);
  e.set(i, 1.0);
  return e;
}

// Writes `row` (numel elements) into rows [i*numel, (i+1)*numel) of `out`.
void put_row(Tensor& out, std::size_t i, const Tensor& row) {
  const std::size_t n = row.numel();
  for (std::size_t k = 0; k < n; ++k) out.set(i * n + k, row.at(k));
}

// v as a batch of one direction: shape [1] + shape(v).
Tensor single_direction(const Tensor& v) { return reshape(v, concat_shapes(Shape{1}, v.shape())); }

// The n unit directions of x's shape, as a batch: shape [n] + shape(x).
Tensor identity_directions(const Tensor& x) {
  const std::size_t n = x.numel();
  Tensor basis(x.dtype(), concat_shapes(Shape{n}, x.shape()));
  for (std::size_t i = 0; i < n; ++i) basis.set(i * n + i, 1.0);
  return basis;
}

}  // namespace

Tensor grad(const UnaryFn& f, const Tensor& x) { return value_and_grad(f, x).second; }

std::pair<Tensor, Tensor> value_and_grad(const UnaryFn& f, const Tensor& x) {
  Tape tape;
  const Var xv = tape.variable(x);
  const Var y = f(xv);
  check_scalar_output(y, "grad");
  return {y.value(), tape.gradient(y, {xv})[0]};
}

std::vector<Tensor> grad(const MultiFn& f, const std::vector<Tensor>& xs) {
  Tape tape;
  std::vector<Var> vars;
  vars.reserve(xs.size());
  for (const Tensor& x : xs) vars.push_back(tape.variable(x));
  const Var y = f(vars);
  check_scalar_output(y, "grad");
  return tape.gradient(y, vars);
}

std::pair<Tensor, Tensor> vjp(const UnaryFn& f, const Tensor& x, const Tensor& cotangent) {
  Tape tape;
  const Var xv = tape.variable(x);
  const Var y = f(xv);
  const Var wrt[] = {xv};
  return {y.value(), tape.vjp(y, cotangent, wrt)[0]};
}

// ---- forward mode --------------------------------------------------------------------------------

std::pair<Tensor, Tensor> jvp(const UnaryFn& f, const Tensor& x, const Tensor& tangent) {
  std::vector<Tensor> c = taylor(f, x, tangent, 1);
  return {std::move(c[0]), std::move(c[1])};
}

// f recorded on a fresh tape of its own, with x as its one input.
struct Recording {
  Tape tape;
  Var x, y;
  Recording(const UnaryFn& f, const Tensor& x0, const char* what, bool scalar_output)
      : x(tape.variable(x0)), y(f(x)) {
    if (scalar_output) check_scalar_output(y, what);
  }
  // ∇f as a recorded variable (so that it can be swept again).
  Var gradient() {
    const Var wrt[] = {x};
    return tape.gradient_vars(y, wrt)[0];
  }
  // Normalized Taylor coefficients of `out` along a batch of directions [D] + shape(x).
  std::vector<Tensor> taylor(const Var& out, const Tensor& directions, int K) const {
    const Var wrt[] = {x};
    const Var outs[] = {out};
    return tape.taylor(outs, wrt, std::span<const Tensor>(&directions, 1), K)[0];
  }
  // The same without the value y_0 (which, for a recorded gradient, may then never be computed).
  std::vector<Tensor> taylor_terms(const Var& out, const Tensor& directions, int K) const {
    const Var wrt[] = {x};
    const Var outs[] = {out};
    return tape.taylor_terms(outs, wrt, std::span<const Tensor>(&directions, 1), K)[0];
  }
};

std::vector<Tensor> taylor(const UnaryFn& f, const Tensor& x, const Tensor& v, int K) {
  check_like(x, v, "taylor", "v");
  Recording r(f, x, "taylor", false);
  std::vector<Tensor> c = r.taylor(r.y, single_direction(v), K);
  for (std::size_t k = 1; k < c.size(); ++k) c[k] = reshape(c[k], r.y.shape());
  return c;
}

// ---- second and higher order -------------------------------------------------------------------

Tensor hvp(const UnaryFn& f, const Tensor& x, const Tensor& v, HvpMethod method) {
  check_like(x, v, "hvp", "v");
  Recording r(f, x, "hvp", true);
  const Var g = r.gradient();
  if (method == HvpMethod::reverse_over_reverse) return r.tape.gradient(sum(g * v), {r.x})[0];  // ∇⟨∇f, v⟩
  return reshape(r.taylor_terms(g, single_direction(v), 1)[0], x.shape());
}

std::vector<Tensor> grad_taylor(const UnaryFn& f, const Tensor& x, const Tensor& v, int K) {
  check_like(x, v, "grad_taylor", "v");
  Recording r(f, x, "grad_taylor", true);
  std::vector<Tensor> c = r.taylor(r.gradient(), single_direction(v), K);
  for (std::size_t k = 1; k < c.size(); ++k) c[k] = reshape(c[k], x.shape());
  return c;
}

Tensor hessian(const UnaryFn& f, const Tensor& x) {
  Recording r(f, x, "hessian", true);
  // Row i of H is the JVP of ∇f along e_i: all rows in one sweep with D = n directions.
  const Tensor rows = r.taylor(r.gradient(), identity_directions(x), 1)[1];
  return reshape(rows, concat_shapes(x.shape(), x.shape()));
}

Tensor jacobian(const UnaryFn& f, const Tensor& x) {
  Recording r(f, x, "jacobian", false);
  const std::size_t m = r.y.numel(), n = x.numel();
  const Shape result_shape = concat_shapes(r.y.shape(), x.shape());
  if (n < m) {
    // Forward: column j is J e_j; the sweep gives them as rows [n] + shape(y).
    const Tensor columns = r.taylor(r.y, identity_directions(x), 1)[1];
    return reshape(transpose(reshape(columns, Shape{n, m})), result_shape);
  }
  const Var wrt[] = {r.x};
  Tensor J(x.dtype(), result_shape);
  for (std::size_t i = 0; i < m; ++i)
    put_row(J, i, r.tape.vjp(r.y, unit(r.y.shape(), r.y.dtype(), i), wrt)[0]);
  return J;
}

// ---- differential operators --------------------------------------------------------------------

Tensor laplacian(const UnaryFn& f, const Tensor& x) {
  Recording r(f, x, "laplacian", true);
  // f(x + t e_i) = f + t ∂_i f + t² ∂_ii f / 2 + ...:  Δf = 2 Σ_i c_2(e_i)
  return 2.0 * sum(r.taylor(r.y, identity_directions(x), 2)[2]);
}

Estimate laplacian_estimate(const UnaryFn& f, const Tensor& x, std::size_t samples, unsigned seed) {
  if (samples < 2)
    throw ValueError("laplacian_estimate: needs at least 2 samples, got " + std::to_string(samples));
  Recording r(f, x, "laplacian_estimate", true);
  Tensor directions(x.dtype(), concat_shapes(Shape{samples}, x.shape()));
  std::mt19937_64 rng(seed);
  std::bernoulli_distribution coin(0.5);
  for (std::size_t i = 0; i < directions.numel(); ++i) directions.set(i, coin(rng) ? 1.0 : -1.0);
  const Tensor c2 = r.taylor(r.y, directions, 2)[2];
  Estimate e;
  e.samples = samples;
  double sum_v = 0.0, sum_sq = 0.0;
  for (std::size_t s = 0; s < samples; ++s) {
    const double v = 2.0 * c2.at(s);  // vᵀ H v
    sum_v += v;
    sum_sq += v * v;
  }
  const double ns = static_cast<double>(samples);
  e.mean = sum_v / ns;
  const double variance = std::max(0.0, (sum_sq - ns * e.mean * e.mean) / (ns - 1.0));
  e.standard_error = std::sqrt(variance / ns);
  return e;
}

Tensor biharmonic(const UnaryFn& f, const Tensor& x) {
  Recording r(f, x, "biharmonic", true);
  const std::size_t n = x.numel();
  // Directions e_i (n of them), then e_i + e_j and e_i - e_j for i < j. With D4(v) = 24 c_4(v):
  //   ∂⁴_iijj f = (D4(e_i + e_j) + D4(e_i - e_j) - 2 D4(e_i) - 2 D4(e_j)) / 12,
  //   Δ²f = Σ_i ∂⁴_iiii f + 2 Σ_{i<j} ∂⁴_iijj f.
  const std::size_t pairs = n * (n - 1) / 2;
  Tensor directions(x.dtype(), concat_shapes(Shape{n + 2 * pairs}, x.shape()));
  std::size_t row = n;
  for (std::size_t i = 0; i < n; ++i) directions.set(i * n + i, 1.0);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j, row += 2) {
      directions.set(row * n + i, 1.0);
      directions.set(row * n + j, 1.0);
      directions.set((row + 1) * n + i, 1.0);
      directions.set((row + 1) * n + j, -1.0);
    }
  }
  const Tensor c4 = r.taylor(r.y, directions, 4)[4];
  auto d4 = [&](std::size_t k) { return 24.0 * c4.at(k); };
  double total = 0.0;
  for (std::size_t i = 0; i < n; ++i) total += d4(i);
  row = n;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j, row += 2) {
      total += 2.0 * (d4(row) + d4(row + 1) - 2.0 * d4(i) - 2.0 * d4(j)) / 12.0;
    }
  }
  return Tensor(total, x.dtype());
}

std::vector<Tensor> taylor_to_derivatives(std::vector<Tensor> coefficients) {
  double factorial = 1.0;
  for (std::size_t k = 0; k < coefficients.size(); ++k) {
    if (k > 0) factorial *= static_cast<double>(k);
    coefficients[k] = coefficients[k] * factorial;
  }
  return coefficients;
}

// ---- gradcheck -----------------------------------------------------------------------------------

GradcheckReport gradcheck(const UnaryFn& f, const Tensor& input, const GradcheckOptions& options) {
  return gradcheck([&](const std::vector<Var>& xs) { return f(xs[0]); }, std::vector<Tensor>{input}, options);
}

GradcheckReport gradcheck(const MultiFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  if (!(options.step > 0.0))
    throw ValueError("gradcheck: step must be positive, got " + std::to_string(options.step));
  if (options.max_order < 1)
    throw ValueError("gradcheck: max_order must be >= 1, got " + std::to_string(options.max_order));
  std::vector<Tensor> xs;
  xs.reserve(inputs.size());
  for (const Tensor& x : inputs) xs.push_back(x.to(DType::f64));

  // The scalar s(x) = ⟨w, f(x)⟩ for a fixed random cotangent w.
  std::optional<Tensor> cotangent;  // drawn on the first evaluation, from f(x)'s shape
  auto project = [&](const std::vector<Tensor>& at, Tape& tape, std::vector<Var>& vars) {
    vars.clear();
    for (const Tensor& x : at) vars.push_back(tape.variable(x));
    const Var y = f(vars);
    if (y.dtype() != DType::f64) throw DTypeError("gradcheck: f returned float32 for float64 inputs");
    if (!cotangent) {
      Tensor w(DType::f64, y.shape());
      std::mt19937_64 rng(options.seed);
      std::normal_distribution<double> normal;
      for (std::size_t i = 0; i < w.numel(); ++i) w.set(i, y.numel() == 1 ? 1.0 : normal(rng));
      cotangent = std::move(w);
    } else if (!(cotangent->shape() == y.shape())) {
      throw ShapeError("gradcheck: f returned shape " + y.shape().str() + " at a perturbed point but " +
                       cotangent->shape().str() + " at the first");
    }
    return sum(y * *cotangent);
  };
  auto value_at = [&](const std::vector<Tensor>& at) {
    Tape tape;
    std::vector<Var> vars;
    return project(at, tape, vars).item();
  };
  // Taylor coefficients of s along per-input directions (each [D] + shape), at `at`.
  auto taylor_at = [&](const std::vector<Tensor>& at, const std::vector<Tensor>& directions, int K) {
    Tape tape;
    std::vector<Var> vars;
    const Var s = project(at, tape, vars);
    const Var outs[] = {s};
    return tape.taylor(outs, vars, directions, K)[0];
  };

  Tape tape;
  std::vector<Var> vars;
  const Var s = project(xs, tape, vars);
  const std::vector<Tensor> reverse = tape.gradient(s, vars);
  GradcheckReport report;
  std::string report_note;

  // Forward mode: every unit direction of every input in one batched sweep.
  std::size_t total = 0;
  for (const Tensor& x : xs) total += x.numel();
  std::vector<Tensor> basis;
  std::size_t offset = 0;
  for (const Tensor& x : xs) {
    Tensor d(DType::f64, concat_shapes(Shape{total}, x.shape()));
    for (std::size_t i = 0; i < x.numel(); ++i) d.set((offset + i) * x.numel() + i, 1.0);
    offset += x.numel();
    basis.push_back(std::move(d));
  }
  const Var outs[] = {s};
  Tensor forward;
  bool forward_checked = total > 0;
  if (forward_checked) {
    try {
      forward = tape.taylor(outs, vars, basis, 1)[0][1];
    } catch (const Error& e) {  // e.g. a custom op without a Taylor rule: check the other modes
      forward_checked = false;
      report_note = std::string("forward mode not checked: ") + e.what();
    }
  }

  report.note = report_note;
  std::vector<GradcheckEntry> entries;
  offset = 0;
  for (std::size_t k = 0; k < xs.size(); ++k) {
    for (std::size_t i = 0; i < xs[k].numel(); ++i) {
      std::vector<Tensor> plus = xs, minus = xs;
      const double x0 = xs[k].at(i);
      plus[k].set(i, x0 + options.step);
      minus[k].set(i, x0 - options.step);
      const double numeric = (value_at(plus) - value_at(minus)) / (2.0 * options.step);
      GradcheckEntry e;
      e.input = k;
      e.index = i;
      e.reverse = reverse[k].at(i);
      e.forward = forward_checked ? forward.at(offset + i) : e.reverse;
      e.numeric = numeric;
      e.abs_error = std::max(std::abs(e.reverse - numeric), std::abs(e.forward - numeric));
      if (std::isnan(e.reverse) || std::isnan(e.forward) || std::isnan(numeric)) {
        e.abs_error = std::numeric_limits<double>::infinity();  // a NaN anywhere is a failure
      }
      e.rel_error = e.abs_error / std::max(std::abs(numeric), 1e-300);
      if (!(e.abs_error <= options.atol + options.rtol * std::abs(numeric))) report.passed = false;
      report.max_abs_error = std::max(report.max_abs_error, e.abs_error);
      report.max_mode_gap = std::max(report.max_mode_gap, std::abs(e.reverse - e.forward));
      if (std::abs(numeric) > options.atol)
        report.max_rel_error = std::max(report.max_rel_error, e.rel_error);
      entries.push_back(e);
      ++report.checked;
    }
    offset += xs[k].numel();
  }
  std::sort(entries.begin(), entries.end(),
            [](const GradcheckEntry& a, const GradcheckEntry& b) { return a.abs_error > b.abs_error; });
  entries.resize(std::min(entries.size(), options.report_worst));
  report.worst = std::move(entries);

  // Higher orders along one random direction v: k! c_k against d/dt of (k-1)! c_{k-1}.
  if (options.max_order > 1 && total > 0) {
    std::mt19937_64 rng(options.seed + 1);
    std::normal_distribution<double> normal;
    std::vector<Tensor> v;
    for (const Tensor& x : xs) {
      Tensor d(DType::f64, concat_shapes(Shape{1}, x.shape()));
      for (std::size_t i = 0; i < d.numel(); ++i) d.set(i, normal(rng));
      v.push_back(std::move(d));
    }
    const int K = options.max_order;
    const std::vector<Tensor> c = taylor_at(xs, v, K);
    auto shifted = [&](double h) {
      std::vector<Tensor> at;
      for (std::size_t k = 0; k < xs.size(); ++k) at.push_back(xs[k] + reshape(v[k], xs[k].shape()) * h);
      return at;
    };
    const double h = std::cbrt(options.step);  // the FD of a derivative wants a larger step
    const std::vector<Tensor> c_plus = taylor_at(shifted(h), v, K - 1),
                              c_minus = taylor_at(shifted(-h), v, K - 1);
    double factorial = 1.0;
    for (int order = 2; order <= K; ++order) {
      const double previous_factorial = factorial;  // (order-1)!
      factorial *= order;
      GradcheckOrder o;
      o.order = order;
      o.taylor = factorial * c[static_cast<std::size_t>(order)].item();
      o.numeric = previous_factorial *
                  (c_plus[static_cast<std::size_t>(order - 1)].item() -
                   c_minus[static_cast<std::size_t>(order - 1)].item()) /
                  (2.0 * h);
      o.abs_error = std::abs(o.taylor - o.numeric);
      const double tolerance = 1e-4 * (1.0 + std::abs(o.numeric));  // O(h²) ≈ 1e-4 for h = 1e-2
      o.passed = o.abs_error <= tolerance;
      report.passed &= o.passed;
      report.orders.push_back(o);
    }
  }
  return report;
}

std::string GradcheckReport::str() const {
  std::ostringstream os;
  os << "gradcheck " << (passed ? "passed" : "FAILED") << ": " << checked
     << " derivatives, reverse and forward mode vs central differences; max abs error " << std::scientific
     << std::setprecision(3) << max_abs_error << ", max rel error " << max_rel_error
     << ", max |reverse - forward| " << max_mode_gap << "\n";
  if (!worst.empty()) {
    os << "  worst entries:\n  input  index        reverse        forward        numeric      abs error\n";
    for (const GradcheckEntry& e : worst) {
      os << "  " << std::setw(5) << e.input << "  " << std::setw(5) << e.index << "  " << std::setw(13)
         << std::setprecision(6) << e.reverse << "  " << std::setw(13) << e.forward << "  " << std::setw(13)
         << e.numeric << "  " << std::setw(13) << std::setprecision(3) << e.abs_error << "\n";
    }
  }
  if (!note.empty()) os << "  " << note << "\n";
  if (!orders.empty()) {
    os << "  higher orders along a random direction (Taylor k! c_k vs central difference of order k-1):\n"
       << "  order         taylor        numeric      abs error\n";
    for (const GradcheckOrder& o : orders) {
      os << "  " << std::setw(5) << o.order << "  " << std::setw(13) << std::setprecision(6) << o.taylor
         << "  " << std::setw(13) << o.numeric << "  " << std::setw(13) << std::setprecision(3) << o.abs_error
         << (o.passed ? "" : "  FAILED") << "\n";
    }
  }
  return os.str();
}

}  // namespace jetgrad
