#include "nn/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

namespace jetgrad::nn {

namespace {

// Puts every parameter's value back when it goes out of scope.
class Restore {
 public:
  explicit Restore(std::vector<Parameter*> params) : params_(std::move(params)) {
    for (Parameter* p : params_) saved_.push_back(p->value);
  }
  ~Restore() {
    for (std::size_t i = 0; i < params_.size(); ++i) params_[i]->value.copy_from(saved_[i]);
  }
  Restore(const Restore&) = delete;
  Restore& operator=(const Restore&) = delete;

 private:
  std::vector<Parameter*> params_;
  std::vector<Tensor> saved_;
};

}  // namespace

ModuleGradcheckReport gradcheck(Module& module, const std::function<Var(Module&, Tape&)>& loss_fn,
                                const GradcheckOptions& options) {
  if (!(options.step > 0.0))
    throw ValueError("nn::gradcheck: step must be positive, got " + std::to_string(options.step));
  std::vector<Parameter*> params;
  ModuleGradcheckReport report;
  for (auto& [name, p] : module.named_parameters()) {
    if (!p->requires_grad) continue;
    if (p->value.dtype() != DType::f64) {
      throw DTypeError("nn::gradcheck: parameter '" + name + "' is " + dtype_name(p->value.dtype()) +
                       "; build the module in float64 (central differences need double precision)");
    }
    params.push_back(p);
    report.names.push_back(name);
  }
  Restore restore(params);

  auto evaluate = [&](Tape& tape, std::vector<Var>* vars) {
    for (Parameter* p : params) {
      const Var v = tape.variable(p->value);
      p->bind(v);
      if (vars) vars->push_back(v);
    }
    const Var loss = loss_fn(module, tape);
    if (loss.numel() != 1) {
      throw ShapeError("nn::gradcheck: loss_fn must return one element, got shape " + loss.shape().str());
    }
    if (loss.dtype() != DType::f64) throw DTypeError("nn::gradcheck: loss_fn returned float32");
    return loss;
  };

  std::vector<Tensor> reverse;
  {
    Tape tape;
    std::vector<Var> vars;
    const Var loss = evaluate(tape, &vars);
    reverse = tape.gradient(loss, vars);
  }
  auto value_at = [&] {
    Tape tape;
    return evaluate(tape, nullptr).item();
  };

  std::vector<GradcheckEntry> entries;
  for (std::size_t k = 0; k < params.size(); ++k) {
    Tensor& value = params[k]->value;
    for (std::size_t i = 0; i < value.numel(); ++i) {
      const double x0 = value.at(i);
      value.set(i, x0 + options.step);
      const double plus = value_at();
      value.set(i, x0 - options.step);
      const double minus = value_at();
      value.set(i, x0);
      GradcheckEntry e;
      e.input = k;
      e.index = i;
      e.reverse = reverse[k].at(i);
      e.numeric = (plus - minus) / (2.0 * options.step);
      e.abs_error = std::abs(e.reverse - e.numeric);
      e.rel_error = e.abs_error / std::max(std::abs(e.numeric), 1e-300);
      const bool ok = e.abs_error <= options.atol + options.rtol * std::abs(e.numeric);
      if (!ok || std::isnan(e.reverse) || std::isnan(e.numeric)) report.passed = false;
      report.max_abs_error = std::max(report.max_abs_error, e.abs_error);
      if (std::abs(e.numeric) > options.atol)
        report.max_rel_error = std::max(report.max_rel_error, e.rel_error);
      entries.push_back(e);
      ++report.checked;
    }
  }
  std::sort(entries.begin(), entries.end(),
            [](const GradcheckEntry& a, const GradcheckEntry& b) { return a.abs_error > b.abs_error; });
  entries.resize(std::min(entries.size(), options.report_worst));
  report.worst = std::move(entries);
  return report;
}

std::string ModuleGradcheckReport::str() const {
  std::ostringstream os;
  os << "nn::gradcheck " << (passed ? "passed" : "FAILED") << ": " << checked
     << " parameter derivatives, reverse mode vs central differences; max abs error " << std::scientific
     << std::setprecision(3) << max_abs_error << ", max rel error " << max_rel_error << "\n";
  if (!worst.empty()) {
    os << "  worst entries:\n  parameter             index        reverse        numeric      abs error\n";
    for (const GradcheckEntry& e : worst) {
      os << "  " << std::left << std::setw(20) << (e.input < names.size() ? names[e.input] : "?")
         << std::right << "  " << std::setw(5) << e.index << "  " << std::setw(13) << std::setprecision(6)
         << e.reverse << "  " << std::setw(13) << e.numeric << "  " << std::setw(13) << std::setprecision(3)
         << e.abs_error << "\n";
    }
  }
  return os.str();
}

}  // namespace jetgrad::nn
