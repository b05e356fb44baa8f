#include "program_generator.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace difftest {

using namespace jetgrad;

namespace {

struct KindInfo {
  const char* name;
  int arity;   // program values it reads at most (Var-Var forms)
  int weight;  // relative frequency in generation
};

const KindInfo& info(Kind k) {
  static const KindInfo table[kind_count] = {
      {"neg", 1, 2},        {"exp", 1, 3},       {"log", 1, 3},          {"sin", 1, 3},
      {"cos", 1, 3},        {"tan", 1, 2},       {"tanh", 1, 3},         {"sinh", 1, 2},
      {"cosh", 1, 2},       {"sqrt", 1, 3},      {"pow", 1, 3},          {"square", 1, 2},
      {"reciprocal", 1, 2}, {"sigmoid", 1, 2},   {"softplus", 1, 2},     {"erf", 1, 2},
      {"abs", 1, 2},        {"relu", 1, 2},      {"clamp", 1, 2},        {"add", 2, 4},
      {"sub", 2, 3},        {"mul", 2, 5},       {"div", 2, 4},          {"pow", 2, 3},
      {"maximum", 2, 2},    {"minimum", 2, 2},   {"where", 2, 3},        {"sum", 1, 4},
      {"mean", 1, 2},       {"max", 1, 3},       {"min", 1, 2},          {"prod", 1, 2},
      {"logsumexp", 1, 3},  {"softmax", 1, 2},   {"log_softmax", 1, 2},  {"matmul", 2, 5},
      {"reshape", 1, 3},    {"transpose", 1, 3}, {"broadcast_to", 1, 2}, {"sum_to", 1, 2},
      {"slice", 1, 3},      {"unslice", 1, 2},   {"concat", 2, 3},       {"gather", 1, 3},
      {"scatter_add", 1, 2}};
  return table[static_cast<int>(k)];
}

bool is_binary_elementwise(Kind k) { return k >= Kind::Add && k <= Kind::Where; }

// x rounded to a multiple of unit (0.1, 0.01, 0.001): rounded as x·(1/unit) so the result is the
// double nearest the short decimal (0.6, not 0.6000000000000001).
double round_to(double x, double unit) {
  const double scale = std::round(1.0 / unit);
  return std::round(x * scale) / scale;
}

Tensor random_values(const Shape& s, double lo, double hi, Generator& gen, double unit = 1e-3) {
  Tensor t(DType::f64, s);
  for (std::size_t i = 0; i < t.numel(); ++i) t.set(i, round_to(gen.uniform(lo, hi), unit));
  return t;
}
// Values with |x| in [lo, hi] and a random sign.
Tensor random_signed(const Shape& s, double lo, double hi, Generator& gen) {
  Tensor t = random_values(s, lo, hi, gen);
  for (std::size_t i = 0; i < t.numel(); ++i)
    if (gen.below(2) == 0) t.set(i, -t.at(i));
  return t;
}

double min_abs(const Tensor& t) {
  double m = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < t.numel(); ++i) m = std::min(m, std::abs(t.at(i)));
  return m;
}

// The smallest gap between the largest and second largest element of each reduced group.
double top_gap(const Tensor& x, bool all, int axis) {
  const Shape& s = x.shape();
  std::size_t outer = 1, n = x.numel(), inner = 1;
  if (!all && s.rank() > 0) {
    const int a = normalize_axis(axis, s.rank());
    outer = 1;
    for (int i = 0; i < a; ++i) outer *= s[i];
    n = s[a];
    inner = 1;
    for (int i = a + 1; i < s.rank(); ++i) inner *= s[i];
  }
  double gap = std::numeric_limits<double>::infinity();
  for (std::size_t o = 0; o < outer; ++o) {
    for (std::size_t in = 0; in < inner; ++in) {
      double first = -std::numeric_limits<double>::infinity(), second = first;
      for (std::size_t j = 0; j < n; ++j) {
        const double v = x.at((o * n + j) * inner + in);
        if (v > first) {
          second = first;
          first = v;
        } else if (v > second) {
          second = v;
        }
      }
      if (n > 1) gap = std::min(gap, first - second);
    }
  }
  return gap;
}

Var guarded(const Var& x, Guard g) {
  switch (g) {
    case Guard::none:
      return x;
    case Guard::square_plus_half:
      return x * x + 0.5;
    case Guard::exp:
      return exp(x);
    case Guard::sigmoid_plus_quarter:
      return sigmoid(x) + 0.25;
    case Guard::tanh:
      return tanh(x);
  }
  return x;
}
std::string guarded(const std::string& x, Guard g) {
  switch (g) {
    case Guard::none:
      return x;
    case Guard::square_plus_half:
      return "(" + x + " * " + x + " + 0.5)";
    case Guard::exp:
      return "exp(" + x + ")";
    case Guard::sigmoid_plus_quarter:
      return "(sigmoid(" + x + ") + 0.25)";
    case Guard::tanh:
      return "tanh(" + x + ")";
  }
  return x;
}
Guard random_positive_guard(Generator& gen) {
  const Guard g[] = {Guard::square_plus_half, Guard::exp, Guard::sigmoid_plus_quarter};
  return g[gen.below(3)];
}

std::string shape_cpp(const Shape& s) {
  std::string out = "Shape{";
  for (int i = 0; i < s.rank(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "}";
}
std::string tensor_cpp(const Tensor& t) {
  if (t.rank() == 0) return "Tensor(" + shortest(t.item()) + ")";
  std::string out = "Tensor::from({";
  for (int i = 0; i < t.rank(); ++i) out += (i ? ", " : "") + std::to_string(t.shape()[i]);
  out += "}, {";
  for (std::size_t i = 0; i < t.numel(); ++i) out += (i ? ", " : "") + shortest(t.at(i));
  return out + "})";
}
std::string indices_cpp(const std::vector<std::size_t>& v) {
  std::string out = "std::vector<std::size_t>{";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
  return out + "}";
}
std::string compare_fn(CompareKind c) { return compare_name(c); }
Var compare_var(const Var& a, const Var& b, CompareKind c) {
  switch (c) {
    case CompareKind::less:
      return less(a, b);
    case CompareKind::less_equal:
      return less_equal(a, b);
    case CompareKind::greater:
      return greater(a, b);
    case CompareKind::greater_equal:
      return greater_equal(a, b);
    case CompareKind::equal:
      return equal(a, b);
    case CompareKind::not_equal:
      return not_equal(a, b);
  }
  return less(a, b);
}

// Applies a binary elementwise kind to two Vars (constants already lifted).
Var binary(Kind k, const Var& a, const Var& b, const Step& s) {
  switch (k) {
    case Kind::Add:
      return a + b;
    case Kind::Sub:
      return a - b;
    case Kind::Mul:
      return a * b;
    case Kind::Div:
      return a / b;
    case Kind::Pow:
      return pow(a, b);
    case Kind::Maximum:
      return maximum(a, b);
    case Kind::Minimum:
      return minimum(a, b);
    case Kind::Where: {
      const Var c = compare_var(a, b, s.compare);
      return s.swap ? where(c, b, a) : where(c, a, b);
    }
    default:
      throw ValueError("binary: not a binary kind");
  }
}
// The same in C++ text.
std::string binary(Kind k, const std::string& a, const std::string& b, const Step& s) {
  switch (k) {
    case Kind::Add:
      return a + " + " + b;
    case Kind::Sub:
      return a + " - " + b;
    case Kind::Mul:
      return a + " * " + b;
    case Kind::Div:
      return a + " / " + b;
    case Kind::Pow:
      return "pow(" + a + ", " + b + ")";
    case Kind::Maximum:
      return "maximum(" + a + ", " + b + ")";
    case Kind::Minimum:
      return "minimum(" + a + ", " + b + ")";
    case Kind::Where: {
      const std::string c = compare_fn(s.compare) + "(" + a + ", " + b + ")";
      return s.swap ? "where(" + c + ", " + b + ", " + a + ")" : "where(" + c + ", " + a + ", " + b + ")";
    }
    default:
      return "?";
  }
}

std::string value_name(const Program& p, int j) {
  return j < static_cast<int>(p.inputs.size()) ? "x" + std::to_string(j) : "v" + std::to_string(j);
}

}  // namespace

const char* kind_name(Kind k) { return info(k).name; }

std::string shortest(double x) {
  char buf[64];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, x);
    if (std::strtod(buf, nullptr) == x) break;
  }
  std::string s = buf;
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // a double literal
  return s;
}

void EvalStats::see(const Tensor& value) {
  for (std::size_t i = 0; i < value.numel(); ++i) {
    const double v = value.at(i);
    if (!std::isfinite(v))
      finite = false;
    else
      max_abs = std::max(max_abs, std::abs(v));
  }
}

std::vector<int> Program::sinks() const {
  std::vector<bool> used(static_cast<std::size_t>(num_values()), false);
  for (const Step& s : steps) {
    if (s.a >= 0) used[static_cast<std::size_t>(s.a)] = true;
    if (s.b >= 0) used[static_cast<std::size_t>(s.b)] = true;
  }
  std::vector<int> out;
  for (int j = 0; j < num_values(); ++j)
    if (!used[static_cast<std::size_t>(j)]) out.push_back(j);
  return out;
}

Tensor Program::weight(int j, const Shape& shape) {
  Tensor w(DType::f64, shape);
  for (std::size_t i = 0; i < w.numel(); ++i) {
    const auto k = static_cast<int>(i);
    w.set(i, (k % 2 == 0 ? 1.0 : -1.0) * (0.5 + 0.125 * ((3 * k + 5 * j) % 7)));
  }
  return w;
}

Var Program::eval(const std::vector<Var>& xs, EvalStats* stats, std::vector<Var>* values) const {
  if (xs.size() != inputs.size())
    throw ValueError("eval: program has " + std::to_string(inputs.size()) + " inputs");
  std::vector<Var> v(xs);
  // Guard outputs are values too (exp(x) can be large): seen by the stats, kept for scales.
  auto guard = [stats](const Var& x, Guard g) {
    const Var r = guarded(x, g);
    if (stats && g != Guard::none) {
      stats->see(r.value());
      stats->guards.push_back(r);
    }
    return r;
  };
  for (const Var& x : xs)
    if (stats) stats->see(x.value());
  for (const Step& s : steps) {
    const Var& a = v.at(static_cast<std::size_t>(s.a));
    Var r;
    if (is_binary_elementwise(s.kind)) {
      // Lift the non-Var operand the way user code would (the Var/Tensor/double overloads).
      const bool guard_b = s.kind == Kind::Div, guard_a = s.kind == Kind::Pow;
      auto lhs = [&](const Var& x) { return guard_a ? guard(x, s.guard) : x; };
      auto rhs = [&](const Var& x) { return guard_b ? guard(x, s.guard) : x; };
      switch (s.form) {
        case Form::var_var:
          r = binary(s.kind, lhs(a), rhs(v.at(static_cast<std::size_t>(s.b))), s);
          break;
        case Form::var_tensor: {
          const Var A = lhs(a);
          switch (s.kind) {  // through the Var-Tensor overloads
            case Kind::Add:
              r = A + s.constant;
              break;
            case Kind::Sub:
              r = A - s.constant;
              break;
            case Kind::Mul:
              r = A * s.constant;
              break;
            case Kind::Div:
              r = A / s.constant;
              break;
            case Kind::Pow:
              r = pow(A, s.constant);
              break;
            case Kind::Maximum:
              r = maximum(A, s.constant);
              break;
            case Kind::Minimum:
              r = minimum(A, s.constant);
              break;
            default:
              r = binary(s.kind, A, A.tape()->constant(s.constant), s);
              break;
          }
          break;
        }
        case Form::tensor_var: {
          const Var B = rhs(a);
          switch (s.kind) {
            case Kind::Add:
              r = s.constant + B;
              break;
            case Kind::Sub:
              r = s.constant - B;
              break;
            case Kind::Mul:
              r = s.constant * B;
              break;
            case Kind::Div:
              r = s.constant / B;
              break;
            case Kind::Pow:
              r = pow(s.constant, B);
              break;
            case Kind::Maximum:
              r = maximum(s.constant, B);
              break;
            case Kind::Minimum:
              r = minimum(s.constant, B);
              break;
            default:
              r = binary(s.kind, B.tape()->constant(s.constant), B, s);
              break;
          }
          break;
        }
        case Form::var_scalar: {
          const Var A = lhs(a);
          switch (s.kind) {
            case Kind::Add:
              r = A + s.scalar;
              break;
            case Kind::Sub:
              r = A - s.scalar;
              break;
            case Kind::Mul:
              r = A * s.scalar;
              break;
            case Kind::Div:
              r = A / s.scalar;
              break;
            case Kind::Maximum:
              r = maximum(A, s.scalar);
              break;
            case Kind::Minimum:
              r = minimum(A, s.scalar);
              break;
            case Kind::Where:
              r = where(compare_var(A, A.tape()->constant(Tensor(s.scalar)), s.compare), A, s.scalar);
              break;
            default:
              throw ValueError("var_scalar form not generated for " + std::string(kind_name(s.kind)));
          }
          break;
        }
        case Form::scalar_var: {
          const Var B = rhs(a);
          switch (s.kind) {
            case Kind::Add:
              r = s.scalar + B;
              break;
            case Kind::Sub:
              r = s.scalar - B;
              break;
            case Kind::Mul:
              r = s.scalar * B;
              break;
            case Kind::Div:
              r = s.scalar / B;
              break;
            case Kind::Pow:
              r = pow(s.scalar, B);
              break;
            case Kind::Maximum:
              r = maximum(s.scalar, B);
              break;
            case Kind::Minimum:
              r = minimum(s.scalar, B);
              break;
            default:
              throw ValueError("scalar_var form not generated for " + std::string(kind_name(s.kind)));
          }
          break;
        }
      }
      if (stats && (s.kind == Kind::Maximum || s.kind == Kind::Minimum || s.kind == Kind::Where)) {
        Tensor lhs_value = a.value(), rhs_value;
        switch (s.form) {
          case Form::var_var:
            rhs_value = v.at(static_cast<std::size_t>(s.b)).value();
            break;
          case Form::var_tensor:
          case Form::tensor_var:
            rhs_value = s.constant;
            break;
          default:
            rhs_value = Tensor(s.scalar);
            break;
        }
        stats->kink(min_abs(lhs_value - rhs_value));
      }
    } else {
      switch (s.kind) {
        case Kind::Neg:
          r = -a;
          break;
        case Kind::Exp:
          r = exp(a);
          break;
        case Kind::Log:
          r = log(guard(a, s.guard));
          break;
        case Kind::Sin:
          r = sin(a);
          break;
        case Kind::Cos:
          r = cos(a);
          break;
        case Kind::Tan:
          r = tan(guard(a, s.guard));
          break;
        case Kind::Tanh:
          r = tanh(a);
          break;
        case Kind::Sinh:
          r = sinh(a);
          break;
        case Kind::Cosh:
          r = cosh(a);
          break;
        case Kind::Sqrt:
          r = sqrt(guard(a, s.guard));
          break;
        case Kind::PowScalar:
          r = pow(guard(a, s.guard), s.scalar);
          break;
        case Kind::Square:
          r = square(a);
          break;
        case Kind::Reciprocal:
          r = reciprocal(guard(a, s.guard));
          break;
        case Kind::Sigmoid:
          r = sigmoid(a);
          break;
        case Kind::Softplus:
          r = softplus(a);
          break;
        case Kind::Erf:
          r = erf(a);
          break;
        case Kind::Abs:
          r = abs(a);
          if (stats) stats->kink(min_abs(a.value()));
          break;
        case Kind::Relu:
          r = relu(a);
          if (stats) stats->kink(min_abs(a.value()));
          break;
        case Kind::Clamp:
          r = clamp(a, s.scalar, s.scalar2);
          if (stats) stats->kink(std::min(min_abs(a.value() - s.scalar), min_abs(a.value() - s.scalar2)));
          break;
        case Kind::Sum:
          r = s.all ? sum(a) : sum(a, s.axis, s.keepdims);
          break;
        case Kind::Mean:
          r = s.all ? mean(a) : mean(a, s.axis, s.keepdims);
          break;
        case Kind::Max:
          r = s.all ? max(a) : max(a, s.axis, s.keepdims);
          if (stats) stats->kink(top_gap(a.value(), s.all, s.axis));
          break;
        case Kind::Min:
          r = s.all ? min(a) : min(a, s.axis, s.keepdims);
          if (stats) stats->kink(top_gap(-a.value(), s.all, s.axis));
          break;
        case Kind::Prod:
          r = s.all ? prod(a) : prod(a, s.axis, s.keepdims);
          break;
        case Kind::LogSumExp:
          r = s.all ? logsumexp(a) : logsumexp(a, s.axis, s.keepdims);
          break;
        case Kind::Softmax:
          r = softmax(a, s.axis);
          break;
        case Kind::LogSoftmax:
          r = log_softmax(a, s.axis);
          break;
        case Kind::MatMul:
          if (s.form == Form::var_var)
            r = matmul(a, v.at(static_cast<std::size_t>(s.b)));
          else if (s.form == Form::var_tensor)
            r = matmul(a, s.constant);
          else
            r = matmul(s.constant, a);
          break;
        case Kind::Reshape:
          r = reshape(a, s.shape);
          break;
        case Kind::Transpose:
          r = s.perm.empty() ? transpose(a) : transpose(a, std::span<const int>(s.perm));
          break;
        case Kind::BroadcastTo:
          r = broadcast_to(a, s.shape);
          break;
        case Kind::SumTo:
          r = sum_to(a, s.shape);
          break;
        case Kind::Slice:
          r = slice(a, s.axis, s.start, s.stop, s.stride);
          break;
        case Kind::Unslice:
          r = unslice(a, s.shape, s.axis, s.start, s.stop, s.stride);
          break;
        case Kind::Concat:
          r = concat({a, v.at(static_cast<std::size_t>(s.b))}, s.axis);
          break;
        case Kind::Gather:
          r = gather(a, s.indices, s.axis);
          break;
        case Kind::ScatterAdd:
          r = scatter_add(a, s.indices, s.axis, s.shape);
          break;
        default:
          throw ValueError("eval: unknown kind");
      }
    }
    if (stats) stats->see(r.value());
    v.push_back(r);
  }
  Var out;
  for (int j : sinks()) {
    const Var& x = v[static_cast<std::size_t>(j)];
    const Var term = sum(x * weight(j, x.shape()));
    out = out.attached() ? out + term : term;
  }
  if (values) *values = std::move(v);
  return out;
}

double Program::value_at(const std::vector<Tensor>& values) const {
  Tape tape;
  std::vector<Var> xs;
  for (const Tensor& t : values) xs.push_back(tape.variable(t));
  return eval(xs).item();
}

std::string Program::to_cpp() const {
  std::ostringstream os;
  os << "// jetgrad differential tester: program of seed " << seed << " (" << inputs.size() << " inputs, "
     << steps.size() << " steps)\n";
  os << "Tape tape;\n";
  for (std::size_t i = 0; i < inputs.size(); ++i)
    os << "const Var x" << i << " = tape.variable(" << tensor_cpp(inputs[i]) << ");\n";
  for (std::size_t k = 0; k < steps.size(); ++k) {
    const Step& s = steps[k];
    const int j = static_cast<int>(inputs.size() + k);
    const std::string a = value_name(*this, s.a);
    std::string e;
    if (is_binary_elementwise(s.kind)) {
      const bool guard_b = s.kind == Kind::Div, guard_a = s.kind == Kind::Pow;
      auto lhs = [&](const std::string& x) { return guard_a ? guarded(x, s.guard) : x; };
      auto rhs = [&](const std::string& x) { return guard_b ? guarded(x, s.guard) : x; };
      switch (s.form) {
        case Form::var_var:
          e = binary(s.kind, lhs(a), rhs(value_name(*this, s.b)), s);
          break;
        case Form::var_tensor:
          e = s.kind == Kind::Where
                  ? binary(s.kind, lhs(a), "tape.constant(" + tensor_cpp(s.constant) + ")", s)
                  : binary(s.kind, lhs(a), tensor_cpp(s.constant), s);
          break;
        case Form::tensor_var:
          e = s.kind == Kind::Where
                  ? binary(s.kind, "tape.constant(" + tensor_cpp(s.constant) + ")", rhs(a), s)
                  : binary(s.kind, tensor_cpp(s.constant), rhs(a), s);
          break;
        case Form::var_scalar:
          e = s.kind == Kind::Where
                  ? "where(" + compare_fn(s.compare) + "(" + lhs(a) + ", tape.constant(Tensor(" +
                        shortest(s.scalar) + "))), " + lhs(a) + ", " + shortest(s.scalar) + ")"
                  : binary(s.kind, lhs(a), shortest(s.scalar), s);
          break;
        case Form::scalar_var:
          e = binary(s.kind, shortest(s.scalar), rhs(a), s);
          break;
      }
    } else {
      const std::string ax = std::to_string(s.axis), kd = s.keepdims ? "true" : "false";
      auto reduction = [&](const char* fn) {
        return s.all ? std::string(fn) + "(" + a + ")"
                     : std::string(fn) + "(" + a + ", " + ax + ", " + kd + ")";
      };
      switch (s.kind) {
        case Kind::Neg:
          e = "-" + a;
          break;
        case Kind::Log:
        case Kind::Tan:
        case Kind::Sqrt:
        case Kind::Reciprocal:
          e = std::string(kind_name(s.kind)) + "(" + guarded(a, s.guard) + ")";
          break;
        case Kind::PowScalar:
          e = "pow(" + guarded(a, s.guard) + ", " + shortest(s.scalar) + ")";
          break;
        case Kind::Clamp:
          e = "clamp(" + a + ", " + shortest(s.scalar) + ", " + shortest(s.scalar2) + ")";
          break;
        case Kind::Sum:
        case Kind::Mean:
        case Kind::Max:
        case Kind::Min:
        case Kind::Prod:
        case Kind::LogSumExp:
          e = reduction(kind_name(s.kind));
          break;
        case Kind::Softmax:
        case Kind::LogSoftmax:
          e = std::string(kind_name(s.kind)) + "(" + a + ", " + ax + ")";
          break;
        case Kind::MatMul:
          if (s.form == Form::var_var)
            e = "matmul(" + a + ", " + value_name(*this, s.b) + ")";
          else if (s.form == Form::var_tensor)
            e = "matmul(" + a + ", " + tensor_cpp(s.constant) + ")";
          else
            e = "matmul(" + tensor_cpp(s.constant) + ", " + a + ")";
          break;
        case Kind::Reshape:
          e = "reshape(" + a + ", " + shape_cpp(s.shape) + ")";
          break;
        case Kind::Transpose:
          if (s.perm.empty()) {
            e = "transpose(" + a + ")";
          } else {
            e = "transpose(" + a + ", {";
            for (std::size_t i = 0; i < s.perm.size(); ++i) e += (i ? ", " : "") + std::to_string(s.perm[i]);
            e += "})";
          }
          break;
        case Kind::BroadcastTo:
          e = "broadcast_to(" + a + ", " + shape_cpp(s.shape) + ")";
          break;
        case Kind::SumTo:
          e = "sum_to(" + a + ", " + shape_cpp(s.shape) + ")";
          break;
        case Kind::Slice:
          e = "slice(" + a + ", " + ax + ", " + std::to_string(s.start) + ", " + std::to_string(s.stop) +
              ", " + std::to_string(s.stride) + ")";
          break;
        case Kind::Unslice:
          e = "unslice(" + a + ", " + shape_cpp(s.shape) + ", " + ax + ", " + std::to_string(s.start) + ", " +
              std::to_string(s.stop) + ", " + std::to_string(s.stride) + ")";
          break;
        case Kind::Concat:
          e = "concat({" + a + ", " + value_name(*this, s.b) + "}, " + ax + ")";
          break;
        case Kind::Gather:
          e = "gather(" + a + ", " + indices_cpp(s.indices) + ", " + ax + ")";
          break;
        case Kind::ScatterAdd:
          e = "scatter_add(" + a + ", " + indices_cpp(s.indices) + ", " + ax + ", " + shape_cpp(s.shape) +
              ")";
          break;
        default:
          e = std::string(kind_name(s.kind)) + "(" + a + ")";
          break;
      }
    }
    os << "const Var v" << j << " = " << e << ";\n";
  }
  // The output needs the sinks' shapes: evaluate once to know them.
  std::vector<Var> values;
  Tape tape;
  std::vector<Var> xs;
  for (const Tensor& t : inputs) xs.push_back(tape.variable(t));
  try {
    (void)eval(xs, nullptr, &values);
  } catch (const Error& e) {
    os << "// (the program does not evaluate: " << e.what() << ")\n";
    return os.str();
  }
  os << "const Var out =";
  const std::vector<int> out_terms = sinks();
  for (std::size_t i = 0; i < out_terms.size(); ++i) {
    const int j = out_terms[i];
    os << (i ? "\n    + " : " ") << "sum(" << value_name(*this, j) << " * "
       << tensor_cpp(weight(j, values[static_cast<std::size_t>(j)].shape())) << ")";
  }
  os << ";\n";
  return os.str();
}

std::string Program::summary() const {
  std::string out;
  for (std::size_t k = 0; k < steps.size(); ++k) {
    out += (k ? " -> " : "") + std::string(kind_name(steps[k].kind));
  }
  return out.empty() ? "(no steps)" : out;
}

// ---- generation ------------------------------------------------------------------------------------

namespace {

Kind random_kind(Generator& gen) {
  int total = 0;
  for (int k = 0; k < kind_count; ++k) total += info(static_cast<Kind>(k)).weight;
  int r = static_cast<int>(gen.below(static_cast<std::uint64_t>(total)));
  for (int k = 0; k < kind_count; ++k) {
    r -= info(static_cast<Kind>(k)).weight;
    if (r < 0) return static_cast<Kind>(k);
  }
  return Kind::Add;
}

bool broadcastable(const Shape& a, const Shape& b) {
  for (int i = 1; i <= std::min(a.rank(), b.rank()); ++i) {
    const std::size_t x = a[a.rank() - i], y = b[b.rank() - i];
    if (x != y && x != 1 && y != 1) return false;
  }
  return true;
}

// A shape a broadcasts with: some dims set to 1, maybe leading dims dropped.
Shape thinned(const Shape& s, Generator& gen) {
  Shape out;
  const int drop = s.rank() > 0 && gen.below(4) == 0
                       ? static_cast<int>(gen.below(static_cast<std::uint64_t>(s.rank()) + 1))
                       : 0;
  for (int i = drop; i < s.rank(); ++i) out.push_back(gen.below(3) == 0 ? 1 : s[i]);
  return out;
}

// A random shape with numel n and rank 0..3 (rank 0 only for n == 1).
Shape factor_shape(std::size_t n, Generator& gen) {
  std::vector<std::size_t> primes;
  for (std::size_t m = n, p = 2; m > 1;) {
    if (m % p == 0) {
      primes.push_back(p);
      m /= p;
    } else {
      ++p;
    }
  }
  const int rank = static_cast<int>(gen.below(3)) + (n == 1 ? 0 : 1);
  if (rank == 0) return Shape{};
  std::vector<std::size_t> dims(static_cast<std::size_t>(rank), 1);
  for (std::size_t p : primes) dims[gen.below(dims.size())] *= p;
  return Shape(dims);
}

int random_axis(int rank, Generator& gen) {
  const int a = static_cast<int>(gen.below(static_cast<std::uint64_t>(rank)));
  return gen.below(3) == 0 ? a - rank : a;  // negative axes too
}

// Fills a step of kind k reading value a (shapes: every value's shape). False if k does not fit.
bool fill_step(Step& s, const std::vector<Shape>& shapes, Generator& gen, const GenOptions& o) {
  const Shape& sa = shapes[static_cast<std::size_t>(s.a)];
  const int r = sa.rank();
  const std::size_t n = sa.numel();
  std::vector<int> candidates;  // values b for a Var-Var form
  switch (s.kind) {
    case Kind::Log:
    case Kind::Sqrt:
    case Kind::Reciprocal:
      s.guard = random_positive_guard(gen);
      return true;
    case Kind::Tan:
      s.guard = Guard::tanh;
      return true;
    case Kind::PowScalar: {
      const double ps[] = {2.0, 3.0, 0.5, 1.5, -0.5, 2.5, -1.0};
      s.scalar = ps[gen.below(7)];
      s.guard = s.scalar == 2.0 || s.scalar == 3.0 ? Guard::none : random_positive_guard(gen);
      return true;
    }
    case Kind::Clamp:
      s.scalar = round_to(gen.uniform(-1.0, 0.2), 0.01);
      s.scalar2 = round_to(s.scalar + gen.uniform(0.3, 1.5), 0.01);
      return true;
    case Kind::Add:
    case Kind::Sub:
    case Kind::Mul:
    case Kind::Div:
    case Kind::Pow:
    case Kind::Maximum:
    case Kind::Minimum:
    case Kind::Where: {
      for (int j = 0; j < static_cast<int>(shapes.size()); ++j) {
        if (broadcastable(sa, shapes[static_cast<std::size_t>(j)]) &&
            broadcast_shapes(sa, shapes[static_cast<std::size_t>(j)]).numel() <= o.max_value_numel)
          candidates.push_back(j);
      }
      const std::uint64_t f = gen.below(10);
      s.form = f < 5   ? Form::var_var
               : f < 7 ? Form::var_tensor
               : f < 8 ? Form::tensor_var
               : f < 9 ? Form::var_scalar
                       : Form::scalar_var;
      if (s.kind == Kind::Where) {
        const CompareKind c[] = {CompareKind::less, CompareKind::less_equal, CompareKind::greater,
                                 CompareKind::greater_equal};
        s.compare = c[gen.below(4)];
        s.swap = gen.below(2) == 0;
        if (s.form == Form::tensor_var || s.form == Form::scalar_var) s.form = Form::var_tensor;
      }
      if (s.kind == Kind::Pow && s.form == Form::var_scalar) s.form = Form::var_var;
      if (s.form == Form::var_var) {
        s.b = candidates[gen.below(candidates.size())];  // a itself always fits
      } else if (s.form == Form::var_tensor || s.form == Form::tensor_var) {
        s.constant = random_values(thinned(sa, gen), -1.5, 1.5, gen);
        if ((s.kind == Kind::Div && s.form == Form::var_tensor))
          s.constant = random_signed(s.constant.shape(), 0.5, 1.5, gen);
        if (s.kind == Kind::Pow && s.form == Form::tensor_var)
          s.constant = random_values(s.constant.shape(), 0.3, 2.0, gen);
      } else {
        s.scalar = round_to(gen.uniform(-1.5, 1.5), 0.01);
        if (s.kind == Kind::Div && s.form == Form::var_scalar)
          s.scalar = std::abs(s.scalar) < 0.5 ? 1.25 : s.scalar;
        if (s.kind == Kind::Pow) s.scalar = round_to(gen.uniform(0.3, 2.0), 0.01);
      }
      if (s.kind == Kind::Div && s.form != Form::var_tensor && s.form != Form::var_scalar)
        s.guard = random_positive_guard(gen);
      if (s.kind == Kind::Pow && s.form != Form::tensor_var && s.form != Form::scalar_var)
        s.guard = random_positive_guard(gen);
      return true;
    }
    case Kind::Sum:
    case Kind::Mean:
    case Kind::Max:
    case Kind::Min:
    case Kind::Prod:
    case Kind::LogSumExp:
      s.all = r == 0 || gen.below(3) == 0;
      if (!s.all) {
        s.axis = random_axis(r, gen);
        s.keepdims = gen.below(2) == 0;
      }
      return true;
    case Kind::Softmax:
    case Kind::LogSoftmax:
      if (r == 0) return false;
      s.axis = random_axis(r, gen);
      return true;
    case Kind::MatMul: {
      if (r == 0 || r > 3) return false;
      const std::size_t k = sa[r - 1];
      for (int j = 0; j < static_cast<int>(shapes.size()); ++j) {
        const Shape& sb = shapes[static_cast<std::size_t>(j)];
        if ((sb.rank() == 2 || sb.rank() == 1) && sb[0] == k) candidates.push_back(j);
      }
      const std::uint64_t f = gen.below(3);
      if (f == 0 && !candidates.empty()) {
        s.form = Form::var_var;
        s.b = candidates[gen.below(candidates.size())];
      } else if (f <= 1 || r == 1) {
        s.form = Form::var_tensor;
        const std::size_t m = 1 + gen.below(3);
        s.constant = random_values(gen.below(4) == 0 ? Shape{k} : Shape{k, m}, -1.0, 1.0, gen);
      } else {
        s.form = Form::tensor_var;  // C @ a: a's second-to-last axis is contracted
        const std::size_t m = 1 + gen.below(3);
        s.constant =
            random_values(gen.below(4) == 0 ? Shape{sa[r - 2]} : Shape{m, sa[r - 2]}, -1.0, 1.0, gen);
      }
      return true;
    }
    case Kind::Reshape: {
      s.shape = factor_shape(n, gen);
      return !(s.shape == sa);
    }
    case Kind::Transpose: {
      if (r < 2) return false;
      if (gen.below(3) == 0) return true;  // reverse the axes
      s.perm.resize(static_cast<std::size_t>(r));
      for (int i = 0; i < r; ++i) s.perm[static_cast<std::size_t>(i)] = i;
      for (int i = r - 1; i > 0; --i)
        std::swap(s.perm[static_cast<std::size_t>(i)], s.perm[gen.below(static_cast<std::uint64_t>(i) + 1)]);
      return true;
    }
    case Kind::BroadcastTo: {
      Shape t;
      if (r < 3 && gen.below(2) == 0) t.push_back(2);
      for (int i = 0; i < r; ++i) t.push_back(sa[i] == 1 && gen.below(2) == 0 ? 2 + gen.below(2) : sa[i]);
      s.shape = t;
      return !(t == sa) && t.numel() <= o.max_value_numel;
    }
    case Kind::SumTo: {
      if (r == 0) return false;
      s.shape = thinned(sa, gen);
      return !(s.shape == sa);
    }
    case Kind::Slice: {
      if (r == 0) return false;
      s.axis = random_axis(r, gen);
      const auto d = static_cast<std::ptrdiff_t>(sa[normalize_axis(s.axis, r)]);
      s.start = static_cast<std::ptrdiff_t>(gen.below(static_cast<std::uint64_t>(d)));
      s.stride = 1 + static_cast<std::ptrdiff_t>(gen.below(2));
      s.stop = s.start + 1 + static_cast<std::ptrdiff_t>(gen.below(static_cast<std::uint64_t>(d - s.start)));
      return true;
    }
    case Kind::Unslice: {
      if (r == 0) return false;
      s.axis = random_axis(r, gen);
      const int ax = normalize_axis(s.axis, r);
      const auto d = static_cast<std::ptrdiff_t>(sa[ax]);
      s.start = static_cast<std::ptrdiff_t>(gen.below(2));
      s.stride = 1 + static_cast<std::ptrdiff_t>(gen.below(2));
      s.stop = s.start + (d - 1) * s.stride + 1;
      s.shape = sa;
      s.shape[ax] = static_cast<std::size_t>(s.stop) + gen.below(2);
      return s.shape.numel() <= o.max_value_numel;
    }
    case Kind::Concat: {
      if (r == 0) return false;
      s.axis = random_axis(r, gen);
      const int ax = normalize_axis(s.axis, r);
      for (int j = 0; j < static_cast<int>(shapes.size()); ++j) {
        const Shape& sb = shapes[static_cast<std::size_t>(j)];
        bool fits = sb.rank() == r && sb.numel() + n <= o.max_value_numel;
        for (int i = 0; fits && i < r; ++i) fits = i == ax || sb[i] == sa[i];
        if (fits) candidates.push_back(j);
      }
      if (candidates.empty()) return false;
      s.b = candidates[gen.below(candidates.size())];
      return true;
    }
    case Kind::Gather: {
      if (r == 0) return false;
      s.axis = random_axis(r, gen);
      const std::size_t d = sa[normalize_axis(s.axis, r)];
      const std::size_t count = 1 + gen.below(4);
      for (std::size_t i = 0; i < count; ++i) s.indices.push_back(gen.below(d));
      return n / d * count <= o.max_value_numel;
    }
    case Kind::ScatterAdd: {
      if (r == 0) return false;
      s.axis = random_axis(r, gen);
      const int ax = normalize_axis(s.axis, r);
      const std::size_t d = sa[ax], m = d + gen.below(2);
      for (std::size_t i = 0; i < d; ++i) s.indices.push_back(gen.below(m));
      s.shape = sa;
      s.shape[ax] = m;
      return true;
    }
    default:
      return true;
  }
}

}  // namespace

Program generate(std::uint64_t seed, const GenOptions& o) {
  Generator gen(seed);
  Program p;
  p.seed = seed;
  // A base shape of rank 0..3 with at most max_input_numel elements; inputs are thinned copies, so
  // any two broadcast together.
  Shape base;
  const int rank = static_cast<int>(gen.below(4));
  for (int i = 0; i < rank; ++i) base.push_back(1 + gen.below(4));
  while (base.numel() > o.max_input_numel) {
    const int i = static_cast<int>(gen.below(static_cast<std::uint64_t>(rank)));
    if (base[i] > 1) --base[i];
  }
  const int num_inputs = 1 + static_cast<int>(gen.below(static_cast<std::uint64_t>(o.max_inputs)));
  for (int i = 0; i < num_inputs; ++i)
    p.inputs.push_back(random_values(i == 0 ? base : thinned(base, gen), -1.5, 1.5, gen));

  // Steps one at a time, each evaluated at once: a step that does not fit, leaves the domain or
  // comes near a kink is redrawn.
  Tape tape;
  std::vector<Var> values;
  std::vector<Shape> shapes;
  for (const Tensor& t : p.inputs) {
    values.push_back(tape.variable(t));
    shapes.push_back(t.shape());
  }
  const int num_steps = 1 + static_cast<int>(gen.below(static_cast<std::uint64_t>(o.max_steps)));
  for (int k = 0; k < num_steps; ++k) {
    for (int attempt = 0; attempt < 30; ++attempt) {
      Step s;
      s.kind = random_kind(gen);
      // Mostly the newest value, for deep compositions.
      const int nv = static_cast<int>(values.size());
      s.a = gen.below(2) == 0 ? nv - 1 : static_cast<int>(gen.below(static_cast<std::uint64_t>(nv)));
      if (!fill_step(s, shapes, gen, o)) continue;
      // Evaluate the one step on the current values: rebase its operands onto a two-value program.
      EvalStats stats;
      Var result;
      try {
        std::vector<Var> operands{values[static_cast<std::size_t>(s.a)]};
        Step local = s;
        local.a = 0;
        if (s.b >= 0) {
          operands.push_back(values[static_cast<std::size_t>(s.b)]);
          local.b = 1;
        }
        Program one;
        one.inputs.assign(operands.size(), Tensor());
        one.steps = {local};
        std::vector<Var> out_values;
        (void)one.eval(operands, &stats, &out_values);
        result = out_values.back();
      } catch (const Error&) {
        continue;
      }
      if (!stats.finite || stats.max_abs > o.max_abs || stats.margin < o.min_margin ||
          result.numel() > o.max_value_numel)
        continue;
      p.steps.push_back(s);
      values.push_back(result);
      shapes.push_back(result.shape());
      break;
    }
  }
  return p;
}

// ---- shrinking -------------------------------------------------------------------------------------

std::vector<Program> shrink_candidates(const Program& p) {
  std::vector<Program> out;
  const int ni = static_cast<int>(p.inputs.size());
  // Drop a step; its uses read its first operand instead.
  for (int k = static_cast<int>(p.steps.size()) - 1; k >= 0; --k) {
    Program q = p;
    const int removed = ni + k, replacement = p.steps[static_cast<std::size_t>(k)].a;
    q.steps.erase(q.steps.begin() + k);
    for (Step& s : q.steps) {
      for (int* ref : {&s.a, &s.b}) {
        if (*ref == removed)
          *ref = replacement;
        else if (*ref > removed)
          --*ref;
      }
    }
    out.push_back(std::move(q));
  }
  // Drop an unused input (there must stay one).
  if (ni > 1) {
    const std::vector<int> sinks = p.sinks();
    for (int i = ni - 1; i >= 0; --i) {
      if (std::find(sinks.begin(), sinks.end(), i) == sinks.end()) continue;
      Program q = p;
      q.inputs.erase(q.inputs.begin() + i);
      for (Step& s : q.steps) {
        if (s.a > i) --s.a;
        if (s.b > i) --s.b;
      }
      out.push_back(std::move(q));
    }
  }
  // Smaller inputs: the first slice along an axis, or a leading axis of extent 1 dropped.
  for (int i = 0; i < ni; ++i) {
    const Tensor& x = p.inputs[static_cast<std::size_t>(i)];
    for (int ax = 0; ax < x.rank(); ++ax) {
      if (x.shape()[ax] == 1) continue;
      Program q = p;
      q.inputs[static_cast<std::size_t>(i)] = slice(x, ax, 0, 1);
      out.push_back(std::move(q));
    }
    if (x.rank() > 0 && x.shape()[0] == 1) {
      Shape s;
      for (int ax = 1; ax < x.rank(); ++ax) s.push_back(x.shape()[ax]);
      Program q = p;
      q.inputs[static_cast<std::size_t>(i)] = reshape(x, s);
      out.push_back(std::move(q));
    }
  }
  // Rounder input values.
  for (int i = 0; i < ni; ++i) {
    Program q = p;
    Tensor& x = q.inputs[static_cast<std::size_t>(i)];
    bool changed = false;
    for (std::size_t e = 0; e < x.numel(); ++e) {
      const double r = round_to(x.at(e), 0.1);
      changed |= r != x.at(e);
      x.set(e, r);
    }
    if (changed) out.push_back(std::move(q));
  }
  return out;
}

}  // namespace difftest
