// jetgrad check: every layer and the chosen model, differentiated at orders 1..K in every mode
// jetgrad has, against each other and against central differences (float64).
//
// For a case (a layer or the model) the checked function is f(z) = head(layer(x)), where z stacks
// the layer's input x and all its parameters into one vector (so derivatives with respect to the
// input and the weights are checked together) and head is sum(w * sin(y)) with a fixed random w
// (sin keeps derivatives of every order alive), or the cross-entropy for the model. Along a random
// unit direction v, the k-th directional derivative D^k f(z)[v, ..., v] is computed by
//   Taylor       k! c_k of t -> f(z + t v)                         (the reference)
//   reverse      <grad f(z), v>                                       (k = 1)
//   forward      the JVP J v                                          (k = 1)
//   Taylor/rev   (k-1)! <c_{k-1}, v>, c the Taylor coefficients of t -> grad f(z + t v)  (k >= 2;
//                for k = 2 the exact HVP, Taylor over reverse)
//   rev/rev      <H v, v>, H v by double backward                     (k = 2)
//   finite diff  central difference of D^{k-1} f along v (D^0 = f), at the first of three
//                decreasing steps that agrees with the next (a kink inside the larger step is skipped)
// and for k = 1 also the library's element-by-element gradcheck over the parameters (nn::gradcheck).
#include <cmath>
#include <cstdio>

#include "apps/commands.hpp"
#include "apps/common.hpp"

namespace jetgrad::app {

namespace {

struct Case {
  std::string name;
  std::shared_ptr<nn::Module> module;
  Tensor input;
  std::vector<std::size_t> labels;  // non-empty: cross-entropy head
};

struct CheckOptions {
  int order = 4;
  double exact_tol = 1e-8;
  double fd_tol = 1e-4;
  bool layers = true;
  bool model = true;
  bool elementwise = true;
};

double dot_all(const Tensor& a, const Tensor& b) { return sum(a * b).item(); }

class Checked {
 public:
  Checked(Case& c, std::uint64_t seed) : case_(c) {
    Generator gen(seed);
    params_ = c.module->parameters();
    std::vector<Tensor> parts = {c.input.reshape(Shape{c.input.numel()})};
    for (nn::Parameter* p : params_) parts.push_back(p->value.reshape(Shape{p->value.numel()}));
    z_ = concat(parts, 0);
    v_ = normal(z_.shape(), 0.0, 1.0, gen);
    v_ = v_ / std::sqrt(sum(v_ * v_).item());
    if (c.labels.empty()) {
      // The output's shape, for the fixed weights w of the head.
      Tape tape;
      NoGrad ng;
      const Shape out = (*c.module)(tape.constant(c.input)).shape();
      w_ = normal(out, 0.0, 1.0, gen);
    }
  }

  Var f(const Var& z) const {
    std::size_t offset = case_.input.numel();
    const Var x = reshape(slice(z, 0, 0, static_cast<std::ptrdiff_t>(offset)), case_.input.shape());
    for (nn::Parameter* p : params_) {
      const std::size_t n = p->value.numel();
      p->bind(
          reshape(slice(z, 0, static_cast<std::ptrdiff_t>(offset), static_cast<std::ptrdiff_t>(offset + n)),
                  p->value.shape()));
      offset += n;
    }
    const Var y = (*case_.module)(x);
    if (!case_.labels.empty()) return nn::cross_entropy(y, case_.labels);
    return sum(w_ * sin(y));
  }
  UnaryFn fn() const {
    return [this](const Var& z) { return f(z); };
  }

  // D^k f(point)[v^k] by Taylor mode (k = 0: the value).
  double taylor_derivative(const Tensor& point, int k) const {
    if (k == 0) {
      Tape tape;
      return f(tape.variable(point)).item();
    }
    const auto c = taylor(fn(), point, v_, k);
    return c[static_cast<std::size_t>(k)].item() * factorial(k);
  }
  static double factorial(int k) {
    double r = 1.0;
    for (int i = 2; i <= k; ++i) r *= i;
    return r;
  }

  const Tensor& z() const { return z_; }
  const Tensor& v() const { return v_; }
  std::vector<nn::Parameter*>& params() { return params_; }

 private:
  Case& case_;
  std::vector<nn::Parameter*> params_;
  Tensor z_, v_, w_;
};

struct Row {
  std::string layer;
  int order = 0;
  double value = 0.0;
  // relative differences from the Taylor value; NaN: not applicable
  double reverse = NAN, forward = NAN, taylor_rev = NAN, rev_rev = NAN, fd = NAN, elementwise = NAN;
  bool kink = false;  // no two central differences agreed: a kink within every step (not a failure)
  bool ok = true;
};

std::string cell(double v) {
  if (std::isnan(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1e", v);
  return buf;
}

std::vector<Row> check_case(Case& c, const CheckOptions& o, std::uint64_t seed) {
  Checked ch(c, seed);
  const Tensor& z = ch.z();
  const Tensor& v = ch.v();
  const UnaryFn f = ch.fn();
  std::vector<Row> rows;
  const std::vector<Tensor> coefficients = taylor(f, z, v, o.order);
  for (int k = 1; k <= o.order; ++k) {
    Row r;
    r.layer = c.name;
    r.order = k;
    r.value = coefficients[static_cast<std::size_t>(k)].item() * Checked::factorial(k);
    const double scale = std::max(std::abs(r.value), 1e-3);
    const auto rel = [&](double a) { return std::abs(a - r.value) / scale; };
    if (k == 1) {
      r.reverse = rel(dot_all(grad(f, z), v));
      r.forward = rel(jvp(f, z, v).second.item());
    } else {
      const std::vector<Tensor> gc = grad_taylor(f, z, v, k - 1);
      r.taylor_rev = rel(dot_all(gc[static_cast<std::size_t>(k - 1)], v) * Checked::factorial(k - 1));
      if (k == 2) r.rev_rev = rel(dot_all(hvp(f, z, v, HvpMethod::reverse_over_reverse), v));
    }
    // Central differences at decreasing steps; the first two consecutive ones that agree are used.
    // A ReLU or max-pool kink inside [z - hv, z + hv] makes the lower derivative jump, and then the
    // difference at that step is meaningless: shrinking the step moves the kink out of reach.
    const auto difference = [&](double h) {
      return (ch.taylor_derivative(z + v * h, k - 1) - ch.taylor_derivative(z - v * h, k - 1)) / (2 * h);
    };
    const std::vector<double> steps =
        k == 1 ? std::vector<double>{1e-5, 1e-6, 1e-7} : std::vector<double>{1e-4, 1e-5, 1e-6};
    double previous = difference(steps[0]), current = previous;
    r.kink = true;
    for (std::size_t i = 1; i < steps.size(); ++i) {
      current = difference(steps[i]);
      if (std::abs(current - previous) <= o.fd_tol * scale) {
        r.kink = false;
        current = previous;  // the larger step of the agreeing pair: less round-off
        break;
      }
      previous = current;
    }
    r.fd = rel(current);
    if (k == 1 && o.elementwise && !ch.params().empty() && c.module->num_parameters() <= 2000) {
      GradcheckOptions go;
      go.atol = 1e-6;
      go.rtol = 1e-5;
      const Tensor x = c.input;
      const auto labels = c.labels;
      Generator wgen(seed + 1);
      Tensor w;
      {
        Tape tape;
        NoGrad ng;
        w = normal((*c.module)(tape.constant(x)).shape(), 0.0, 1.0, wgen);
      }
      const auto report = nn::gradcheck(
          *c.module,
          [&](nn::Module& m, Tape& tape) {
            const Var y = m(tape.constant(x));
            return labels.empty() ? sum(w * sin(y)) : nn::cross_entropy(y, labels);
          },
          go);
      r.elementwise = report.max_rel_error;
      if (!report.passed) r.ok = false;
    }
    for (double e : {r.reverse, r.forward, r.taylor_rev, r.rev_rev}) {
      if (!std::isnan(e) && !(e <= o.exact_tol)) r.ok = false;
    }
    if (!r.kink && !(r.fd <= o.fd_tol)) r.ok = false;
    rows.push_back(r);
  }
  return rows;
}

std::vector<Case> layer_cases(Generator& gen) {
  const DType f64 = DType::f64;
  std::vector<Case> cases;
  const auto add = [&](std::shared_ptr<nn::Module> m, const Shape& in) {
    cases.push_back({m->describe(), m, normal(in, 0.0, 1.0, gen), {}});
  };
  add(std::make_shared<nn::Linear>(5, 3, gen, true, f64), Shape{4, 5});
  add(std::make_shared<nn::ReLU>(), Shape{4, 5});
  add(std::make_shared<nn::LeakyReLU>(0.1), Shape{4, 5});
  add(std::make_shared<nn::Tanh>(), Shape{4, 5});
  add(std::make_shared<nn::Sigmoid>(), Shape{4, 5});
  add(std::make_shared<nn::GELU>(), Shape{4, 5});
  add(std::make_shared<nn::SiLU>(), Shape{4, 5});
  add(std::make_shared<nn::Softmax>(), Shape{4, 5});
  add(std::make_shared<nn::StableMax>(), Shape{4, 5});
  nn::Conv2dOptions conv;
  conv.padding = nn::Size2(1);
  conv.dtype = f64;
  add(std::make_shared<nn::Conv2d>(2, 3, nn::Size2(3), gen, conv), Shape{2, 2, 5, 5});
  nn::Conv2dOptions strided;
  strided.stride = nn::Size2(2);
  strided.dtype = f64;
  add(std::make_shared<nn::Conv2d>(2, 2, nn::Size2(2, 3), gen, strided), Shape{2, 2, 5, 6});
  add(std::make_shared<nn::MaxPool2d>(nn::Size2(2)), Shape{2, 2, 4, 4});
  add(std::make_shared<nn::AvgPool2d>(nn::Size2(2)), Shape{2, 2, 4, 4});
  add(std::make_shared<nn::Flatten>(), Shape{2, 3, 4});
  nn::LayerNormOptions ln;
  ln.dtype = f64;
  add(std::make_shared<nn::LayerNorm>(Shape{5}, ln), Shape{4, 5});
  nn::BatchNormOptions bn;
  bn.dtype = f64;
  add(std::make_shared<nn::BatchNorm1d>(5, bn), Shape{6, 5});
  add(std::make_shared<nn::BatchNorm2d>(2, bn), Shape{3, 2, 3, 3});
  // Parameters away from their initial constants (ones/zeros), so every term is exercised.
  for (auto& c : cases) {
    for (nn::Parameter* p : c.module->parameters())
      p->value = p->value + normal(p->value.shape(), 0.0, 0.3, gen);
  }
  return cases;
}

int run_check(const RunConfig& given, const CheckOptions& o) {
  if (o.order < 1 || o.order > 8)
    throw UsageError("--order: must be between 1 and 8, got " + std::to_string(o.order));
  RunConfig c = given;
  c.dtype = "float64";
  c.resolve_and_check();
  Generator gen(derive_seed(c.seed, Stream::init, 77));
  std::vector<Case> cases;
  if (o.layers) cases = layer_cases(gen);
  if (o.model) {
    const Shape sample{28, 28};
    Case m;
    m.module = build_model(c, sample, 10, gen);
    m.name = "model " + c.model + " " + std::to_string(m.module->num_parameters()) + " params";
    m.input = uniform(Shape{3, 28, 28}, 0.0, 1.0, gen);
    m.labels = {1, 7, 3};
    cases.push_back(m);
  }
  std::printf(
      "jetgrad check: derivatives of order 1..%d in float64, along a random unit direction v of (input, "
      "parameters)\n",
      o.order);
  std::printf(
      "columns: the Taylor-mode value k! c_k, then each other mode's relative difference from it;\n"
      "exact modes must agree to %.0e, central differences to %.0e.\n\n",
      o.exact_tol, o.fd_tol);
  char buf[400];
  std::snprintf(buf, sizeof buf, "%-40s %2s %15s %9s %9s %10s %9s %11s %11s  %s\n", "layer", "k",
                "Taylor k!c_k", "reverse", "forward", "Taylor/rev", "rev/rev", "finite diff", "elementwise",
                "result");
  std::fputs(buf, stdout);
  std::fputs((std::string(132, '-') + "\n").c_str(), stdout);
  std::size_t checked = 0, failed = 0, kinks = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    std::vector<Row> rows;
    try {
      rows = check_case(cases[i], o, derive_seed(c.seed, Stream::curvature, i));
    } catch (const Error& e) {
      throw Error(cases[i].name + ": " + e.what());
    }
    for (const Row& r : rows) {
      ++checked;
      failed += !r.ok;
      kinks += r.kink;
      std::string name = r.order == 1 ? r.layer : "";
      if (name.size() > 40) name = name.substr(0, 37) + "...";
      std::snprintf(buf, sizeof buf, "%-40s %2d %15.8e %9s %9s %10s %9s %11s %11s  %s\n", name.c_str(),
                    r.order, r.value, cell(r.reverse).c_str(), cell(r.forward).c_str(),
                    cell(r.taylor_rev).c_str(), cell(r.rev_rev).c_str(), r.kink ? "kink" : cell(r.fd).c_str(),
                    cell(r.elementwise).c_str(), r.ok ? "ok" : "FAIL");
      std::fputs(buf, stdout);
    }
    std::fflush(stdout);
  }
  std::printf("\n%zu cases, %zu checks: %s\n", cases.size(), checked,
              failed == 0 ? "all passed" : (std::to_string(failed) + " FAILED").c_str());
  if (kinks > 0) {
    std::printf(
        "(%zu finite-difference check(s) marked kink: a ReLU or max-pool kink lay within every step, so\n"
        " central differences say nothing there; the exact modes were still compared)\n",
        kinks);
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace

CLI::App* add_check_command(CLI::App& root, std::function<int()>& run) {
  auto* sub = root.add_subcommand(
      "check",
      "gradcheck every layer and the chosen model at orders 1..K in every mode (a proof that the "
      "derivatives are right on this machine)");
  auto c = std::make_shared<RunConfig>();
  c->hidden = {16};
  auto o = std::make_shared<CheckOptions>();
  sub->add_option("--order", o->order, "highest derivative order K")->capture_default_str();
  sub->add_option("--model", c->model, "the model checked besides the layers")
      ->check(CLI::IsMember({"mlp", "cnn"}))
      ->capture_default_str();
  sub->add_option("--hidden", c->hidden, "its layer sizes (as for train)")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--activation", c->activation, "its activation")
      ->check(CLI::IsMember({"relu", "tanh", "gelu", "silu"}))
      ->capture_default_str();
  sub->add_option("--seed", c->seed, "seed of the random inputs, parameters and directions")
      ->capture_default_str();
  sub->add_option("--exact-tol", o->exact_tol, "tolerance between exact modes")->capture_default_str();
  sub->add_option("--fd-tol", o->fd_tol, "tolerance of the central differences")->capture_default_str();
  sub->add_flag("!--no-layers", o->layers, "check only the model");
  sub->add_flag("!--no-model", o->model, "check only the layers");
  sub->add_flag("!--no-elementwise", o->elementwise, "skip the element-by-element parameter gradcheck");
  sub->footer("Exit status 0 when every check passes, 1 otherwise.");
  run = [c, o]() { return run_check(*c, *o); };
  return sub;
}

}  // namespace jetgrad::app
