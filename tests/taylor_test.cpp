// Taylor mode: closed-form series up to K = 10, every primitive's rule at K = 1 against the
// reverse rule (⟨Jv, w⟩ = ⟨v, Jᵀw⟩) and a central difference, mixed expressions to K = 4 against
// nested reverse mode, batched directions, float32, custom ops and the errors.
//
// References never come from jetgrad's Taylor rules: closed-form derivatives composed in long
// double (support/jets.hpp), known series tables, nested reverse sweeps, central differences.
#include <cmath>
#include <functional>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "autodiff/autodiff.hpp"
#include "support/cube_ops.hpp"
#include "support/jets.hpp"

using namespace jetgrad;
using namespace taylor_support;
using Catch::Contains;

namespace {

Var constant_on(const Var& like, const Tensor& t) { return like.tape()->constant(t); }

// ---- closed forms ------------------------------------------------------------------------------

struct ClosedForm {
  std::string name;
  std::function<Var(const Var&)> f;
  std::function<jet::Jet(const jet::Jet&)> ref;
  std::vector<double> xs, vs;
};

std::vector<ClosedForm> closed_forms() {
  using jet::Jet;
  const std::vector<double> wide = {-1.3, -0.4, 0.0, 0.7, 2.1};
  const std::vector<double> dirs = {1.0, 0.5, -1.0, 1.5, -0.8};
  const std::vector<double> unit = {-0.45, -0.2, 0.0, 0.3, 0.45};  // |x| < 1/2, poles at |x| = 1
  const std::vector<double> positive = {0.3, 0.8, 1.0, 1.7, 3.2};
  return {
      {"exp(sin x)", [](const Var& x) { return exp(sin(x)); },
       [](const Jet& x) { return jet::exp(jet::sin(x)); }, wide, dirs},
      {"1/(1-x)", [](const Var& x) { return 1.0 / (1.0 - x); },
       [](const Jet& x) { return jet::recip(1.0L + -x); }, unit, dirs},
      {"tanh", [](const Var& x) { return tanh(x); }, [](const Jet& x) { return jet::tanh(x); }, wide, dirs},
      {"log(1+x)", [](const Var& x) { return log(1.0 + x); }, [](const Jet& x) { return jet::log(1.0L + x); },
       unit, dirs},
      {"sqrt(1+x)", [](const Var& x) { return sqrt(1.0 + x); },
       [](const Jet& x) { return jet::sqrt(1.0L + x); }, unit, dirs},
      {"x^3", [](const Var& x) { return pow(x, 3.0); }, [](const Jet& x) { return x * x * x; }, wide, dirs},
      {"x^5", [](const Var& x) { return pow(x, 5.0); }, [](const Jet& x) { return x * x * x * x * x; }, wide,
       dirs},
      {"x^2.5", [](const Var& x) { return pow(x, 2.5); }, [](const Jet& x) { return jet::pow(x, 2.5L); },
       positive, dirs},
      {"x^-1.5", [](const Var& x) { return pow(x, -1.5); }, [](const Jet& x) { return jet::pow(x, -1.5L); },
       positive, dirs},
      {"x^(1/3)", [](const Var& x) { return pow(x, 1.0 / 3.0); },
       [](const Jet& x) { return jet::pow(x, 1.0L / 3.0L); }, positive, dirs},
      {"x^-2", [](const Var& x) { return pow(x, -2.0); }, [](const Jet& x) { return jet::recip(x * x); },
       positive, dirs},
      {"sin", [](const Var& x) { return sin(x); }, [](const Jet& x) { return jet::sin(x); }, wide, dirs},
      {"cos", [](const Var& x) { return cos(x); }, [](const Jet& x) { return jet::cos(x); }, wide, dirs},
      {"sinh", [](const Var& x) { return sinh(x); }, [](const Jet& x) { return jet::sinh(x); }, wide, dirs},
      {"cosh", [](const Var& x) { return cosh(x); }, [](const Jet& x) { return jet::cosh(x); }, wide, dirs},
      {"tan",
       [](const Var& x) { return tan(x); },
       [](const Jet& x) { return jet::tan(x); },
       {-0.9, -0.3, 0.0, 0.5, 1.0},
       {0.5, 0.5, -0.5, 0.4, -0.3}},
      {"sigmoid", [](const Var& x) { return sigmoid(x); }, [](const Jet& x) { return jet::sigmoid(x); }, wide,
       dirs},
      {"softplus", [](const Var& x) { return softplus(x); }, [](const Jet& x) { return jet::softplus(x); },
       wide, dirs},
      {"erf", [](const Var& x) { return erf(x); }, [](const Jet& x) { return jet::erf(x); }, wide, dirs},
      {"exp", [](const Var& x) { return exp(x); }, [](const Jet& x) { return jet::exp(x); }, wide, dirs},
      {"log", [](const Var& x) { return log(x); }, [](const Jet& x) { return jet::log(x); }, positive, dirs},
      {"sqrt", [](const Var& x) { return sqrt(x); }, [](const Jet& x) { return jet::sqrt(x); }, positive,
       dirs},
      {"x/(1+x^2)", [](const Var& x) { return x / (1.0 + x * x); },
       [](const Jet& x) { return x / (1.0L + x * x); }, wide, dirs},
  };
}

// |got - ref| <= rtol (|ref| + s_k): s_k = max_i |ref_k(i)| over the test points is the size of
// the terms the recurrences add at degree k, so cancellation in a coefficient that happens to be
// near zero at one point is measured against the terms it came from, not against its own size.
void check_coefficients(const std::vector<Tensor>& c, const std::vector<std::vector<long double>>& ref,
                        double rtol) {
  for (std::size_t k = 0; k < c.size(); ++k) {
    double s = 0;
    for (const auto& r : ref) s = std::max(s, static_cast<double>(std::fabs(r[k])));
    for (std::size_t i = 0; i < ref.size(); ++i) {
      const double want = static_cast<double>(ref[i][k]), got = c[k].at(i);
      INFO("k = " << k << ", point " << i << ": got " << got << ", expected " << want);
      CHECK(std::fabs(got - want) <= rtol * (std::fabs(want) + s));
    }
  }
}

void check_closed_form(const ClosedForm& cf, int K, DType dt, double rtol) {
  INFO(cf.name << " in " << dtype_name(dt) << ", K = " << K);
  const std::size_t n = cf.xs.size();
  Tensor x(dt, Shape{n}), v(dt, Shape{n});
  std::vector<std::vector<long double>> ref;
  for (std::size_t i = 0; i < n; ++i) {
    x.set(i, cf.xs[i]);
    v.set(i, cf.vs[i]);
    // the reference at the rounded inputs, so float32 compares like with like
    ref.push_back(cf.ref(jet::variable(x.at(i), v.at(i), K)).c);
  }
  const std::vector<Tensor> c = taylor(cf.f, x, v, K);
  REQUIRE(c.size() == static_cast<std::size_t>(K) + 1);
  for (const Tensor& ck : c) {
    REQUIRE(ck.shape() == Shape{n});
    REQUIRE(ck.dtype() == dt);
  }
  check_coefficients(c, ref, rtol);
}

// The series of f at 0 along v = 1, from published tables (independent of support/jets.hpp too).
void check_series_at_zero(const std::function<Var(const Var&)>& f, const std::vector<double>& series) {
  const int K = static_cast<int>(series.size()) - 1;
  const std::vector<Tensor> c = taylor(f, Tensor(0.0), Tensor(1.0), K);
  for (int k = 0; k <= K; ++k) {
    INFO("k = " << k);
    CHECK(c[static_cast<std::size_t>(k)].item() ==
          Approx(series[static_cast<std::size_t>(k)]).margin(1e-15).epsilon(1e-13));
  }
}

// ---- primitives --------------------------------------------------------------------------------

struct PrimitiveCase {
  std::string name;
  VarFn f;
  std::vector<Tensor> xs;
  bool smooth = true;  // a central difference along v is valid
};

Tensor signed_away_from_zero(const Shape& s, unsigned seed) {
  Tensor t = random(s, 0.2, 1.0, seed);
  for (std::size_t i = 0; i < t.numel(); ++i)
    if (i % 2 == 1) t.set(i, -t.at(i));
  return t;
}

std::vector<PrimitiveCase> primitive_cases() {
  const Shape m23{2, 3}, m34{3, 4}, c31{3, 1}, r14{1, 4}, t234{2, 3, 4};
  const Tensor a23 = random(m23, -1.0, 1.0, 1);
  const Tensor p23 = random(m23, 0.5, 2.0, 2);
  const Tensor a234 = random(t234, -1.0, 1.0, 3);
  const Tensor a31 = random(c31, -1.0, 1.0, 4), a14 = random(r14, -1.0, 1.0, 5);
  const Tensor p31 = random(c31, 0.5, 2.0, 6), p14 = random(r14, 0.5, 2.0, 7);
  const Tensor a34 = random(m34, -1.0, 1.0, 8);
  const Tensor mask34 = Tensor::from(m34, {1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 0, 0});
  const Tensor mask31 = Tensor::from(c31, {1, 0, 1});
  const Tensor mask14 = Tensor::from(r14, {0, 1, 1, 0});
  const Tensor ties = Tensor::from(m34, {1, 3, 3, 0, 2, 2, 2, -1, 5, 4, 5, 5});

  std::vector<PrimitiveCase> cs = {
      // smooth unary
      {"neg", [](auto& v) { return -v[0]; }, {a23}},
      {"x + c", [](auto& v) { return v[0] + 0.75; }, {a23}},
      {"c - x", [](auto& v) { return 1.5 - v[0]; }, {a23}},
      {"c * x", [](auto& v) { return -2.5 * v[0]; }, {a23}},
      {"exp", [](auto& v) { return exp(v[0]); }, {a23}},
      {"log", [](auto& v) { return log(v[0]); }, {p23}},
      {"sin", [](auto& v) { return sin(v[0]); }, {a23}},
      {"cos", [](auto& v) { return cos(v[0]); }, {a23}},
      {"tan", [](auto& v) { return tan(v[0]); }, {a23}},
      {"tanh", [](auto& v) { return tanh(v[0]); }, {a23}},
      {"sinh", [](auto& v) { return sinh(v[0]); }, {a23}},
      {"cosh", [](auto& v) { return cosh(v[0]); }, {a23}},
      {"sqrt", [](auto& v) { return sqrt(v[0]); }, {p23}},
      {"pow 0", [](auto& v) { return pow(v[0], 0.0); }, {a23}},
      {"pow 1", [](auto& v) { return pow(v[0], 1.0); }, {a23}},
      {"pow 2", [](auto& v) { return pow(v[0], 2.0); }, {a23}},
      {"pow 3 (negative base)", [](auto& v) { return pow(v[0], 3.0); }, {a23}},
      {"pow 2.5", [](auto& v) { return pow(v[0], 2.5); }, {p23}},
      {"pow -1.5", [](auto& v) { return pow(v[0], -1.5); }, {p23}},
      {"pow -3", [](auto& v) { return pow(v[0], -3.0); }, {p23}},
      {"sigmoid", [](auto& v) { return sigmoid(v[0]); }, {a23}},
      {"softplus", [](auto& v) { return softplus(v[0]); }, {a23}},
      {"erf", [](auto& v) { return erf(v[0]); }, {a23}},
      {"square", [](auto& v) { return square(v[0]); }, {a23}},
      {"reciprocal", [](auto& v) { return reciprocal(v[0]); }, {p23}},
      {"abs (away from 0)", [](auto& v) { return abs(v[0]); }, {signed_away_from_zero(m23, 9)}},
      {"relu (away from 0)", [](auto& v) { return relu(v[0]); }, {signed_away_from_zero(m23, 10)}},
      // binary, broadcasting
      {"add (3,1)+(1,4)", [](auto& v) { return v[0] + v[1]; }, {a31, a14}},
      {"sub (3,1)-(1,4)", [](auto& v) { return v[0] - v[1]; }, {a31, a14}},
      {"mul (3,1)*(1,4)", [](auto& v) { return v[0] * v[1]; }, {a31, a14}},
      {"div (3,1)/(1,4)", [](auto& v) { return v[0] / v[1]; }, {a31, p14}},
      {"div (1,4)/(3,1)", [](auto& v) { return v[0] / v[1]; }, {a14, p31}},
      {"div (4,)/(3,4)", [](auto& v) { return v[0] / v[1]; }, {random(Shape{4}, -1, 1, 11), random(m34, 0.5, 2, 12)}},
      {"div (3,4)/(4,)", [](auto& v) { return v[0] / v[1]; }, {a34, random(Shape{4}, 0.5, 2, 13)}},
      {"bias add (5,3)+(3,)", [](auto& v) { return v[0] + v[1]; }, {random(Shape{5, 3}, -1, 1, 14), random(Shape{3}, -1, 1, 15)}},
      {"bias sub (3,)-(5,3)", [](auto& v) { return v[0] - v[1]; }, {random(Shape{3}, -1, 1, 16), random(Shape{5, 3}, -1, 1, 17)}},
      {"scalar * matrix", [](auto& v) { return v[0] * v[1]; }, {Tensor(0.7), a23}},
      {"var + tensor (1,4)", [a31](auto& v) { return v[0] + constant_on(v[0], a31); }, {a14}},
      {"tensor (3,1) - var (1,4)", [a31](auto& v) { return constant_on(v[0], a31) - v[0]; }, {a14}},
      {"var (1,4) * tensor (3,1)", [p31](auto& v) { return v[0] * constant_on(v[0], p31); }, {a14}},
      {"var (1,4) / tensor (3,1)", [p31](auto& v) { return v[0] / constant_on(v[0], p31); }, {a14}},
      {"tensor (3,1) / var (1,4)", [a31](auto& v) { return constant_on(v[0], a31) / v[0]; }, {p14}},
      {"number / var", [](auto& v) { return 2.0 / v[0]; }, {p23}},
      {"pow(var, var)", [](auto& v) { return pow(v[0], v[1]); }, {p31, a14}},
      // piecewise constant and selections
      {"where (3,4) all vars", [mask34](auto& v) { return where(constant_on(v[0], mask34), v[0], v[1]); }, {a34, random(m34, -1, 1, 18)}},
      {"where cond (3,1), var (1,4), const (3,1)",
       [mask31, a31](auto& v) { return where(constant_on(v[0], mask31), v[0], constant_on(v[0], a31)); }, {a14}},
      {"where cond (1,4), const (3,1), var (1,4)",
       [mask14, a31](auto& v) { return where(constant_on(v[0], mask14), constant_on(v[0], a31), v[0]); }, {a14}},
      {"where var (3,1), var (1,4)", [mask31](auto& v) { return where(constant_on(v[0], mask31), v[0], v[1]); }, {a31, a14}},
      {"where number", [mask34](auto& v) { return where(constant_on(v[0], mask34), v[0], 0.25); }, {a34}},
      {"maximum (3,1),(1,4)", [](auto& v) { return maximum(v[0], v[1]); }, {a31, a14}},
      {"maximum var (1,4), tensor (3,1)", [a31](auto& v) { return maximum(v[0], a31); }, {a14}},
      {"minimum var, number", [](auto& v) { return minimum(v[0], 0.1); }, {a34}},
      {"clamp", [](auto& v) { return clamp(v[0], -0.3, 0.4); }, {a34}},
      {"mask * x", [](auto& v) { return greater(v[0], 0.05) * v[0] + less_equal(v[1], v[0]) * v[1]; }, {a34, random(m34, -1, 1, 19)}},
      {"stop_gradient", [](auto& v) { return stop_gradient(v[0]) * v[0]; }, {a23}, false},  // differences see through it
      // reductions
      {"sum all", [](auto& v) { return sum(v[0]); }, {a234}},
      {"mean all", [](auto& v) { return mean(v[0]); }, {a234}},
      {"max all (no ties)", [](auto& v) { return max(v[0]); }, {a234}},
      {"min all", [](auto& v) { return min(v[0]); }, {a234}},
      {"max all with ties", [](auto& v) { return max(v[0]); }, {ties}, false},
      {"max axis 1 with ties", [](auto& v) { return max(v[0], 1); }, {ties}, false},
      {"max axis 0 with ties keepdims", [](auto& v) { return max(v[0], 0, true); }, {ties}, false},
      {"prod all", [](auto& v) { return prod(v[0]); }, {a234}},
      {"prod axis 1 with a zero", [](auto& v) { return prod(v[0], 1); }, {Tensor::from(m34, {0.5, 0, 2, 1.5, -1, 0.3, 0.7, 1.1, 2, -0.5, 0.8, 1.2})}},
      {"logsumexp all", [](auto& v) { return logsumexp(v[0]); }, {a234}},
      {"softmax axis -1", [](auto& v) { return softmax(v[0], -1); }, {a234}},
      {"softmax axis 0", [](auto& v) { return softmax(v[0], 0); }, {a234}},
      {"log_softmax axis 1", [](auto& v) { return log_softmax(v[0], 1); }, {a234}},
      // linear algebra
      {"matmul (2,3)@(3,4)", [](auto& v) { return matmul(v[0], v[1]); }, {a23, a34}},
      {"matmul const W @ var", [a23](auto& v) { return matmul(a23, v[0]); }, {a34}},
      {"matmul var @ const W", [a34](auto& v) { return matmul(v[0], a34); }, {a23}},
      {"matmul batch broadcast (2,1,3,4)@(5,4,2)", [](auto& v) { return matmul(v[0], v[1]); },
       {random(Shape{2, 1, 3, 4}, -1, 1, 20), random(Shape{5, 4, 2}, -1, 1, 21)}},
      {"matmul (3,4) var @ (2,4,5) var", [](auto& v) { return matmul(v[0], v[1]); }, {a34, random(Shape{2, 4, 5}, -1, 1, 22)}},
      {"matmul (2,3,4) var @ const (4,5)", [](auto& v) { return matmul(v[0], random(Shape{4, 5}, -1, 1, 23)); }, {a234}},
      {"matmul vector @ matrix", [](auto& v) { return matmul(v[0], v[1]); }, {random(Shape{3}, -1, 1, 24), a34}},
      {"matmul matrix @ vector", [](auto& v) { return matmul(v[0], v[1]); }, {a34, random(Shape{4}, -1, 1, 25)}},
      {"matmul vector @ vector", [](auto& v) { return matmul(v[0], v[1]); }, {random(Shape{4}, -1, 1, 26), random(Shape{4}, -1, 1, 27)}},
      {"matmul aᵀ @ bᵀ", [](auto& v) { return matmul(v[0], v[1], {.a = true, .b = true}); }, {a34, random(Shape{2, 4, 3}, -1, 1, 28)}},
      {"matmul a @ const Wᵀ", [a34](auto& v) { return matmul(v[0], a34, {.b = true}); }, {random(Shape{2, 5, 4}, -1, 1, 29)}},
      {"matmul const Wᵀ @ b", [a34](auto& v) { return matmul(a34, v[0], {.a = true}); }, {random(Shape{3, 2}, -1, 1, 30)}},
      // layout
      {"reshape", [](auto& v) { return reshape(v[0], Shape{6, 4}); }, {a234}},
      {"transpose (2,0,1)", [](auto& v) { return transpose(v[0], {2, 0, 1}); }, {a234}},
      {"transpose reversed", [](auto& v) { return transpose(v[0]); }, {a234}},
      {"broadcast_to (3,1)->(2,3,4)", [](auto& v) { return broadcast_to(v[0], Shape{2, 3, 4}); }, {a31}},
      {"sum_to (2,3,4)->(3,1)", [](auto& v) { return sum_to(v[0], Shape{3, 1}); }, {a234}},
      {"sum_to (2,3,4)->(4,)", [](auto& v) { return sum_to(v[0], Shape{4}); }, {a234}},
      {"sum_to (2,3,4)->(2,1,4)", [](auto& v) { return sum_to(v[0], Shape{2, 1, 4}); }, {a234}},
      {"slice axis 1 step 2", [](auto& v) { return slice(v[0], 1, 0, 3, 2); }, {a234}},
      {"slice axis 0", [](auto& v) { return slice(v[0], 0, 1, 2); }, {a234}},
      {"slice axis -1 step 3", [](auto& v) { return slice(v[0], -1, 1, 4, 3); }, {a234}},
      {"unslice", [](auto& v) { return unslice(v[0], Shape{2, 5, 4}, 1, 1, 5, 2); }, {random(Shape{2, 2, 4}, -1, 1, 28)}},
      {"concat axis 0", [](auto& v) { return concat({v[0], v[1]}, 0); }, {a23, random(Shape{1, 3}, -1, 1, 29)}},
      {"concat axis 1 with a constant", [](auto& v) { return concat({v[0], constant_on(v[0], Tensor::ones(Shape{2, 2})), v[0]}, 1); }, {a23}},
      {"gather axis 0 repeated", [](auto& v) { const std::size_t idx[] = {2, 0, 2, 1}; return gather(v[0], idx, 0); }, {a34}},
      {"gather axis 1", [](auto& v) { const std::size_t idx[] = {3, 3, 1}; return gather(v[0], idx, 1); }, {a34}},
      {"scatter_add repeated", [](auto& v) { const std::size_t idx[] = {1, 1, 4}; return scatter_add(v[0], idx, 0, Shape{5, 4}); }, {random(Shape{3, 4}, -1, 1, 30)}},
      {"scatter_add axis -1", [](auto& v) { const std::size_t idx[] = {0, 2}; return scatter_add(v[0], idx, -1, Shape{3, 3}); }, {random(Shape{3, 2}, -1, 1, 31)}},
  };
  for (int axis : {0, 1, 2, -1}) {
    for (bool keep : {false, true}) {
      const std::string tag = " axis " + std::to_string(axis) + (keep ? " keepdims" : "");
      cs.push_back({"sum" + tag, [=](auto& v) { return sum(v[0], axis, keep); }, {a234}});
      cs.push_back({"mean" + tag, [=](auto& v) { return mean(v[0], axis, keep); }, {a234}});
      cs.push_back({"max" + tag, [=](auto& v) { return max(v[0], axis, keep); }, {a234}});
      cs.push_back({"min" + tag, [=](auto& v) { return min(v[0], axis, keep); }, {a234}});
      cs.push_back({"logsumexp" + tag, [=](auto& v) { return logsumexp(v[0], axis, keep); }, {a234}});
      cs.push_back({"prod" + tag, [=](auto& v) { return prod(v[0], axis, keep); }, {a234}});
    }
  }
  return cs;
}

}  // namespace

// ================================================================================================

TEST_CASE("Taylor coefficients of closed forms up to K = 10", "[taylor]") {
  // Reference: closed-form derivatives composed in long double. The recurrences do O(K²) double
  // operations per coefficient on terms of size ~s_k, so 1e-12 leaves ~10x margin at K = 10.
  for (const ClosedForm& cf : closed_forms()) check_closed_form(cf, 10, DType::f64, 1e-12);
}

TEST_CASE("Taylor coefficients of closed forms in float32", "[taylor]") {
  // float32 has ε ≈ 6e-8; at K = 6 the recurrences accumulate a few hundred ε.
  for (const ClosedForm& cf : closed_forms()) check_closed_form(cf, 6, DType::f32, 3e-5);
}

TEST_CASE("Taylor series at 0 match published tables", "[taylor]") {
  SECTION("exp(sin x)") {
    check_series_at_zero([](const Var& x) { return exp(sin(x)); },
                         {1, 1, 1.0 / 2, 0, -1.0 / 8, -1.0 / 15, -1.0 / 240, 1.0 / 90, 31.0 / 5760,
                          1.0 / 5670, -2951.0 / 3628800});
  }
  SECTION("1/(1-x)") {
    check_series_at_zero([](const Var& x) { return 1.0 / (1.0 - x); }, std::vector<double>(11, 1.0));
  }
  SECTION("tanh and tan") {
    check_series_at_zero([](const Var& x) { return tanh(x); },
                         {0, 1, 0, -1.0 / 3, 0, 2.0 / 15, 0, -17.0 / 315, 0, 62.0 / 2835, 0});
    check_series_at_zero([](const Var& x) { return tan(x); },
                         {0, 1, 0, 1.0 / 3, 0, 2.0 / 15, 0, 17.0 / 315, 0, 62.0 / 2835, 0});
  }
  SECTION("log(1+x), sqrt(1+x)") {
    std::vector<double> lg{0};
    for (int k = 1; k <= 10; ++k) lg.push_back((k % 2 == 1 ? 1.0 : -1.0) / k);
    check_series_at_zero([](const Var& x) { return log(1.0 + x); }, lg);
    check_series_at_zero([](const Var& x) { return sqrt(1.0 + x); },
                         {1, 1.0 / 2, -1.0 / 8, 1.0 / 16, -5.0 / 128, 7.0 / 256, -21.0 / 1024, 33.0 / 2048,
                          -429.0 / 32768, 715.0 / 65536, -2431.0 / 262144});
  }
  SECTION("sigmoid, softplus, erf") {
    check_series_at_zero([](const Var& x) { return sigmoid(x); },
                         {0.5, 1.0 / 4, 0, -1.0 / 48, 0, 1.0 / 480, 0, -17.0 / 80640, 0, 31.0 / 1451520, 0});
    check_series_at_zero([](const Var& x) { return softplus(x); },
                         {std::numbers::ln2, 0.5, 1.0 / 8, 0, -1.0 / 192, 0, 1.0 / 2880, 0, -17.0 / 645120, 0,
                          31.0 / 14515200});
    const double c = 2.0 / std::sqrt(std::numbers::pi);
    check_series_at_zero([](const Var& x) { return erf(x); },
                         {0, c, 0, -c / 3, 0, c / 10, 0, -c / 42, 0, c / 216, 0});
  }
  SECTION("sin, cos, sinh, cosh") {
    std::vector<double> s, co, sh, ch;
    double f = 1;
    for (int k = 0; k <= 10; ++k) {
      if (k > 0) f *= k;
      const double cycle_s[4] = {0, 1, 0, -1}, cycle_c[4] = {1, 0, -1, 0};
      s.push_back(cycle_s[k % 4] / f);
      co.push_back(cycle_c[k % 4] / f);
      sh.push_back(k % 2 == 1 ? 1 / f : 0);
      ch.push_back(k % 2 == 0 ? 1 / f : 0);
    }
    check_series_at_zero([](const Var& x) { return sin(x); }, s);
    check_series_at_zero([](const Var& x) { return cos(x); }, co);
    check_series_at_zero([](const Var& x) { return sinh(x); }, sh);
    check_series_at_zero([](const Var& x) { return cosh(x); }, ch);
  }
}

TEST_CASE("integer powers are exact at x = 0; fractional powers follow the binomial series", "[taylor]") {
  // (0 + t v)^p = v^p t^p: one non-zero coefficient, no division by x_0 = 0.
  for (int p : {1, 2, 3, 5}) {
    INFO("p = " << p);
    const std::vector<Tensor> c =
        taylor([p](const Var& x) { return pow(x, static_cast<double>(p)); }, Tensor(0.0), Tensor(-1.5), 7);
    for (int k = 0; k <= 7; ++k) {
      INFO("k = " << k);
      CHECK(std::isfinite(c[static_cast<std::size_t>(k)].item()));
      CHECK(c[static_cast<std::size_t>(k)].item() == Approx(k == p ? std::pow(-1.5, p) : 0.0).margin(1e-14));
    }
  }
  // (x0 + t)^p = Σ C(p, k) x0^(p-k) t^k, with the generalized binomial coefficient.
  for (double p : {2.5, -0.5, 1.0 / 3.0, -2.0, 7.0, 20.0}) {
    INFO("p = " << p);
    const double x0 = 1.3;
    const std::vector<Tensor> c =
        taylor([p](const Var& x) { return pow(x, p); }, Tensor(x0), Tensor(1.0), 10);
    double binom = 1;
    for (int k = 0; k <= 10; ++k) {
      if (k > 0) binom *= (p - (k - 1)) / k;
      INFO("k = " << k);
      CHECK(c[static_cast<std::size_t>(k)].item() ==
            Approx(binom * std::pow(x0, p - k)).epsilon(1e-12).margin(1e-12));
    }
  }
}

TEST_CASE("every primitive's Taylor rule at K = 1 is the transpose of its reverse rule", "[taylor]") {
  unsigned seed = 100;
  for (const PrimitiveCase& pc : primitive_cases()) {
    INFO("primitive case: " << pc.name);
    try {
      check_jvp_vjp(pc.f, pc.xs, seed++, pc.smooth);
    } catch (const std::exception& e) {
      FAIL_CHECK(pc.name << " threw: " << e.what());
    }
  }
}

TEST_CASE("every primitive's Taylor rule to K = 4 agrees with nested reverse mode", "[taylor]") {
  unsigned seed = 500;
  for (const PrimitiveCase& pc : primitive_cases()) {
    INFO("primitive case: " << pc.name);
    try {
      check_against_nested_reverse(pc.f, pc.xs, 4, seed++);
    } catch (const std::exception& e) {
      FAIL_CHECK(pc.name << " threw: " << e.what());
    }
  }
}

TEST_CASE("max with ties: the tangent is the mean of the tied elements' tangents", "[taylor]") {
  // max of [1, 3, 3, 0]: the maximum is shared by elements 1 and 2 (the documented convention,
  // the same as the reverse rule's equal split).
  const Tensor x = Tensor::from(Shape{4}, {1, 3, 3, 0});
  const Tensor v = Tensor::from(Shape{4}, {10, 2, -6, 7});
  const std::vector<Tensor> c = taylor([](const Var& y) { return max(y); }, x, v, 2);
  CHECK(c[0].item() == 3.0);
  CHECK(c[1].item() == Approx(-2.0).margin(1e-15));
  CHECK(c[2].item() == 0.0);
  // without a tie, it is the selected element's tangent
  const std::vector<Tensor> d =
      taylor([](const Var& y) { return max(y, 0); }, Tensor::from(Shape{3}, {1, 4, 2}),
             Tensor::from(Shape{3}, {5, -3, 8}), 1);
  CHECK(d[1].item() == -3.0);
}

TEST_CASE("mixed expressions to K = 4 agree with nested reverse mode", "[taylor]") {
  const Tensor x5 = random(Shape{5}, -1.0, 1.0, 40);
  const Tensor W = random(Shape{4, 5}, -0.8, 0.8, 41);
  const Tensor b = random(Shape{4}, -0.5, 0.5, 42);
  SECTION("exp(sin x) log(1 + x²) / sqrt(1 + x²)") {
    check_against_nested_reverse(
        [](auto& v) { return exp(sin(v[0])) * log(1.0 + v[0] * v[0]) / sqrt(1.0 + square(v[0])); }, {x5}, 4,
        1);
  }
  SECTION("tanh layer, logsumexp, softplus, erf, pow") {
    check_against_nested_reverse(
        [W, b](auto& v) {
          const Var h = tanh(matmul(W, v[0]) + b);
          return logsumexp(h) * softplus(sum(h)) + sum(erf(h) * pow(1.5 + h, 2.5)) - max(h * h);
        },
        {x5}, 4, 2);
  }
  SECTION("two inputs with broadcasting, reductions and layout") {
    check_against_nested_reverse(
        [](auto& v) {
          const Var a = v[0] * v[1] + sin(v[0]) / (2.0 + cos(v[1]));                      // (3,1) with (1,4)
          const Var t = transpose(concat({a, sigmoid(a)}, 0));                            // (4,6)
          return sum(log_softmax(t, 1), 1) + mean(slice(t, 1, 0, 6, 2), 1) * prod(v[1]);  // (4,)
        },
        {random(Shape{3, 1}, -1, 1, 43), random(Shape{1, 4}, -1, 1, 44)}, 4, 3);
  }
  SECTION("an MLP with tanh and log_softmax, in its weights") {
    const Tensor X = random(Shape{6, 3}, -1, 1, 45);
    check_against_nested_reverse(
        [X](auto& v) {
          const Var h = tanh(matmul(X, v[0]) + v[1]);  // (6,5)
          const Var logits = matmul(h, v[2]);          // (6,2)
          const std::size_t labels[] = {0, 1};
          return -mean(gather(log_softmax(logits, 1), labels, 1));
        },
        {random(Shape{3, 5}, -1, 1, 46), random(Shape{5}, -0.3, 0.3, 47), random(Shape{5, 2}, -1, 1, 48)}, 4,
        4);
  }
  SECTION("tan, sinh, cosh, abs, relu, where, clamp, minimum") {
    check_against_nested_reverse(
        [](auto& v) {
          const Var x = v[0];
          return tan(0.5 * x) * cosh(x) + sinh(x) * abs(x + 3.0) + relu(x + 2.0) * clamp(x, -5.0, 5.0) +
                 minimum(x, 10.0) * where(greater(x, -10.0), exp(x), x);
        },
        {x5}, 4, 5);
  }
}

TEST_CASE("D = 3 directions at once equal three single-direction sweeps", "[taylor]") {
  const Tensor x = random(Shape{2, 3}, -1, 1, 60);
  const Tensor y = random(Shape{3}, 0.5, 1.5, 61);
  const Tensor V = random(Shape{3, 2, 3}, -1, 1, 62), U = random(Shape{3, 3}, -1, 1, 63);
  const VarFn g = [](const std::vector<Var>& v) {
    const Var h = tanh(matmul(v[0], transpose(v[0])));
    return concat({sum(exp(v[0]) / v[1], 0), reshape(h, Shape{4})}, 0) * softplus(sum(v[1]));
  };
  constexpr int K = 5;
  Tape tape;
  const Var xv = tape.variable(x), yv = tape.variable(y);
  const Var out = g({xv, yv});
  const Var outs[] = {out};
  const Var wrt[] = {xv, yv};
  const Tensor dirs[] = {V, U};
  const std::vector<Tensor> batched = tape.taylor(outs, wrt, dirs, K)[0];
  for (std::size_t d = 0; d < 3; ++d) {
    const Tensor single_dirs[] = {reshape(row(V, d), Shape{1, 2, 3}), reshape(row(U, d), Shape{1, 3})};
    const std::vector<Tensor> single = tape.taylor(outs, wrt, single_dirs, K)[0];
    for (int k = 1; k <= K; ++k) {
      INFO("direction " << d << ", k = " << k);
      const Tensor a = row(batched[static_cast<std::size_t>(k)], d),
                   s = row(single[static_cast<std::size_t>(k)], 0);
      REQUIRE(a.shape() == out.shape());
      // the same arithmetic per direction; only BLAS blocking may differ
      for (std::size_t i = 0; i < a.numel(); ++i)
        CHECK(a.at(i) == Approx(s.at(i)).epsilon(1e-14).margin(1e-14));
    }
  }
}

TEST_CASE("Tape::taylor: several outputs, several variables, outputs that do not depend on the seeds",
          "[taylor]") {
  Tape tape;
  const Var x = tape.variable(Tensor::from(Shape{2}, {0.3, -0.7}));
  const Var y = tape.variable(Tensor(1.2));
  const Var c = tape.constant(Tensor::from(Shape{2}, {2.0, 3.0}));
  const Var a = x * y;   // (x0 + t vx)(y0 + t vy)
  const Var k = exp(c);  // no series
  const Var outs[] = {a, k, x};
  const Var wrt[] = {x, y};
  const Tensor dirs[] = {Tensor::from(Shape{1, 2}, {1.0, 2.0}), Tensor::from(Shape{1}, {-0.5})};
  const auto r = tape.taylor(outs, wrt, dirs, 3);
  REQUIRE(r.size() == 3);
  // a_1 = vx y0 + x0 vy, a_2 = vx vy, a_3 = 0
  CHECK(r[0][1].at(0) == Approx(1.0 * 1.2 + 0.3 * -0.5));
  CHECK(r[0][1].at(1) == Approx(2.0 * 1.2 + -0.7 * -0.5));
  CHECK(r[0][2].at(0) == Approx(-0.5));
  CHECK(r[0][2].at(1) == Approx(-1.0));
  CHECK(r[0][3].at(0) == 0.0);
  for (int kk = 1; kk <= 3; ++kk) {
    REQUIRE(r[1][static_cast<std::size_t>(kk)].shape() == Shape({1, 2}));
    CHECK(r[1][static_cast<std::size_t>(kk)].at(0) == 0.0);
  }
  CHECK(r[2][1].at(1) == 2.0);
  CHECK(r[2][2].at(1) == 0.0);
}

TEST_CASE("NoGrad results and stop_gradient are constants to the Taylor sweep", "[taylor]") {
  Tape tape;
  const Var x = tape.variable(Tensor::from(Shape{3}, {0.1, 0.2, 0.3}));
  Var frozen;
  {
    NoGrad guard;
    frozen = exp(x);
  }
  const Var y = frozen * x + stop_gradient(sin(x));
  const Var outs[] = {y};
  const Var wrt[] = {x};
  const Tensor dir = Tensor::ones(Shape{1, 3});
  const Tensor t = tape.taylor(outs, wrt, std::span<const Tensor>(&dir, 1), 2)[0][1];
  const Tensor g = tape.gradient(sum(y), {x})[0];
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(t.at(i) == Approx(std::exp(0.1 * static_cast<double>(i + 1))));  // d/dt of exp(x0) (x0 + t)
    CHECK(t.at(i) == Approx(g.at(i)));                                     // the reverse sweep agrees
  }
}

TEST_CASE("float32 Taylor sweeps", "[taylor]") {
  // Per-primitive K = 1 identity in float32: ε ≈ 6e-8, sums of a dozen products.
  const Tensor a = random(Shape{3, 4}, -1, 1, 70, DType::f32);
  const Tensor p = random(Shape{3, 4}, 0.5, 2, 71, DType::f32);
  const Tensor w = random(Shape{4, 2}, -1, 1, 72, DType::f32);
  const VarFn f = [](const std::vector<Var>& v) {
    return log_softmax(tanh(matmul(v[0], v[2])) + sqrt(sum(v[1], 1, true)), -1) *
           erf(sum(v[1] / (1.0 + v[0] * v[0]), 1, true));
  };
  check_jvp_vjp(f, {a, p, w}, 3, false, 2, 2e-6);
  // and agreement with the same sweep in float64 at K = 4
  std::vector<Tensor> xs32 = {a, p, w}, xs64, vs32, vs64;
  for (std::size_t i = 0; i < 3; ++i) {
    xs64.push_back(xs32[i].to(DType::f64));
    vs64.push_back(
        random(xs32[i].shape(), -1, 1, 80 + static_cast<unsigned>(i)).to(DType::f32).to(DType::f64));
    vs32.push_back(vs64.back().to(DType::f32));
  }
  const std::vector<Tensor> c32 = taylor_multi(f, xs32, vs32, 4), c64 = taylor_multi(f, xs64, vs64, 4);
  for (std::size_t k = 0; k <= 4; ++k) {
    REQUIRE(c32[k].dtype() == DType::f32);
    for (std::size_t i = 0; i < c64[k].numel(); ++i) {
      INFO("k = " << k << ", element " << i);
      CHECK(c32[k].at(i) == Approx(c64[k].at(i)).margin(2e-5).epsilon(1e-4));
    }
  }
}

// ---- custom ops --------------------------------------------------------------------------------

namespace {

using test::Cube;
using test::CubeWithTaylor;

struct CubeWithoutTaylor : Cube {
  static constexpr const char* name = "cube_without_taylor";
};

}  // namespace

TEST_CASE("custom ops in the Taylor sweep", "[taylor]") {
  const Tensor x = Tensor::from(Shape{3}, {0.5, -1.0, 2.0});
  const Tensor v = Tensor::from(Shape{3}, {1.0, 0.5, -2.0});
  SECTION("with a Taylor rule: (x + tv)³ = x³ + 3x²v t + 3xv² t² + v³ t³, composed with sin") {
    const std::vector<Tensor> c = taylor([](const Var& y) { return custom<CubeWithTaylor>({y}); }, x, v, 5);
    for (std::size_t i = 0; i < 3; ++i) {
      const double a = x.at(i), b = v.at(i);
      CHECK(c[1].at(i) == Approx(3 * a * a * b));
      CHECK(c[2].at(i) == Approx(3 * a * b * b));
      CHECK(c[3].at(i) == Approx(b * b * b));
      CHECK(c[4].at(i) == 0.0);
    }
    check_against_nested_reverse([](auto& vs) { return sin(custom<CubeWithTaylor>({vs[0] * 0.5})); }, {x}, 4,
                                 90);
    check_jvp_vjp([](auto& vs) { return custom<CubeWithTaylor>({vs[0]}); }, {x}, 91, true, 3);
  }
  SECTION("without a Taylor rule: the sweep throws an error naming the op") {
    CHECK_THROWS_WITH(taylor([](const Var& y) { return sin(custom<CubeWithoutTaylor>({y})); }, x, v, 2),
                      Contains("cube_without_taylor") && Contains("Taylor"));
    // reverse mode through it still works
    CHECK(grad([](const Var& y) { return sum(custom<CubeWithoutTaylor>({y})); }, x).at(1) == Approx(3.0));
    // and an op no direction reaches costs nothing, so it does not throw either
    Tape tape;
    const Var a = tape.variable(x);
    const Var k = custom<CubeWithoutTaylor>({tape.constant(x)});
    const Var outs[] = {a * k};
    const Var wrt[] = {a};
    const Tensor dir = reshape(v, Shape{1, 3});
    CHECK_NOTHROW(tape.taylor(outs, wrt, std::span<const Tensor>(&dir, 1), 2));
    // nor does one that no output depends on: the sweep skips it (its series would be dropped)
    const Var unused = custom<CubeWithoutTaylor>({a});
    const Var used = sin(a);
    const Var only_used[] = {used};
    const std::vector<std::vector<Tensor>> c =
        tape.taylor(only_used, wrt, std::span<const Tensor>(&dir, 1), 2);
    for (std::size_t i = 0; i < 3; ++i) {
      CHECK(c[0][1].at(i) == Approx(std::cos(x.at(i)) * v.at(i)).epsilon(1e-14));
      CHECK(c[0][2].at(i) == Approx(-0.5 * std::sin(x.at(i)) * v.at(i) * v.at(i)).epsilon(1e-14));
    }
    const Var with_unused[] = {used, unused};
    CHECK_THROWS_WITH(tape.taylor(with_unused, wrt, std::span<const Tensor>(&dir, 1), 2),
                      Contains("cube_without_taylor"));
  }
}

// ---- errors ------------------------------------------------------------------------------------

TEST_CASE("Taylor mode rejects bad degrees and direction shapes with clear errors", "[taylor]") {
  const auto f = [](const Var& x) { return sum(exp(x)); };
  const Tensor x = Tensor::from(Shape{3}, {1, 2, 3});
  for (int K : {0, -1}) {
    INFO("K = " << K);
    CHECK_THROWS_AS(taylor(f, x, x, K), ValueError);
    CHECK_THROWS_WITH(taylor(f, x, x, K), Contains("degree K") && Contains(std::to_string(K)));
  }
  CHECK_THROWS_AS(taylor(f, x, Tensor::ones(Shape{4}), 2), ShapeError);
  CHECK_THROWS_WITH(taylor(f, x, Tensor::ones(Shape{4}), 2), Contains("(4,)") && Contains("(3,)"));
  CHECK_THROWS_AS(jvp(f, x, Tensor::ones(Shape{3, 1})), ShapeError);
  CHECK_THROWS_AS(taylor(f, x, Tensor::ones(Shape{3}, DType::f32), 2), DTypeError);

  Tape tape;
  const Var a = tape.variable(x);
  const Var b = tape.variable(Tensor::ones(Shape{2, 2}));
  const Var y = sum(a) + sum(b);
  const Var outs[] = {y};
  const Var wrt[] = {a, b};
  SECTION("a direction without the leading D axis") {
    const Tensor dirs[] = {Tensor::ones(Shape{3}), Tensor::ones(Shape{1, 2, 2})};
    CHECK_THROWS_AS(tape.taylor(outs, wrt, dirs, 1), ShapeError);
    CHECK_THROWS_WITH(tape.taylor(outs, wrt, dirs, 1), Contains("direction 0") && Contains("[D]"));
  }
  SECTION("directions with different D") {
    const Tensor dirs[] = {Tensor::ones(Shape{2, 3}), Tensor::ones(Shape{3, 2, 2})};
    CHECK_THROWS_WITH(tape.taylor(outs, wrt, dirs, 1), Contains("direction 1") && Contains("(3, 2, 2)"));
  }
  SECTION("a wrong number of directions") {
    const Tensor dirs[] = {Tensor::ones(Shape{1, 3})};
    CHECK_THROWS_AS(tape.taylor(outs, wrt, std::span<const Tensor>(dirs, 1), 1), ValueError);
  }
}

TEST_CASE("Tape::taylor: a variable seeded twice is an error; a seeded intermediate keeps its seed",
          "[taylor]") {
  Tape tape;
  const Var x = tape.variable(Tensor::from(Shape{2}, {0.5, 1.5}));
  const Var h = exp(x);
  const Var y = 2.0 * h + x;
  const Var outs[] = {y};
  const Tensor one = Tensor::ones(Shape{1, 2});
  {
    const Var wrt[] = {x, x};
    const Tensor dirs[] = {one, one};
    CHECK_THROWS_AS(tape.taylor(outs, wrt, dirs, 2), ValueError);
    CHECK_THROWS_WITH(tape.taylor(outs, wrt, dirs, 2), Contains("variable 1") && Contains("already seeded"));
  }
  // h seeded with u as well as x with v: h(t) = h0 + t u regardless of x, so y = 2 h(t) + x(t)
  const Var wrt[] = {x, h};
  const Tensor dirs[] = {Tensor::from(Shape{1, 2}, {1.0, -1.0}), Tensor::from(Shape{1, 2}, {3.0, 0.25})};
  const std::vector<Tensor> c = tape.taylor(outs, wrt, dirs, 3)[0];
  CHECK(c[1].at(0) == 2 * 3.0 + 1.0);
  CHECK(c[1].at(1) == 2 * 0.25 - 1.0);
  CHECK(c[2].at(0) == 0.0);
  CHECK(c[3].at(1) == 0.0);
}
