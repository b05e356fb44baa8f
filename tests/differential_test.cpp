// The differential tester: random well-formed programs over the whole op set
// (support/program_generator.hpp), each checked across every mode the engine has:
//
//   reverse            = forward (a batched Taylor sweep along every unit direction)
//   reverse · v        = Taylor K = 1 along v            (and Taylor c0 = the recorded value)
//   reverse            = central finite differences (4-point stencil, every input element)
//   reverse-over-reverse HVP = Taylor-over-reverse HVP,  and  vᵀHv = 2 c2 (Taylor K = 2)
//   k! c_k (Taylor, K = 4) = d^k/dt^k f(x + t v) by nested reverse sweeps, k = 1..4
//   replay at new inputs = re-recording there (the value, the gradient, and the recorded gradient
//                          graph replayed along with it)
//
// A failing program is shrunk (support/program_generator.cpp, shrink_candidates) while it still
// fails the same relation, and the test fails with the shrunk program as C++.
//
// Budget: JETGRAD_DIFFERENTIAL_PROGRAMS (default 2000) programs from JETGRAD_DIFFERENTIAL_SEED
// (default 1); program i has seed mix(seed, i), so one failing program is rerun alone with
// JETGRAD_DIFFERENTIAL_SEED=<its seed> JETGRAD_DIFFERENTIAL_PROGRAMS=1 ... JETGRAD_DIFFERENTIAL_RAW=1.
// JETGRAD_DIFFERENTIAL_MAX_STEPS (default 6) allows longer programs in a campaign.
//
// Tolerances (all float64; values are bounded by 1e3 by construction):
//   - modes that are exact in exact arithmetic (reverse, forward, Taylor, nested reverse, HVPs)
//     differ only by rounding through ≤ ~30 entries: 1e-9 relative to the magnitudes compared,
//     plus 1e-11 relative to M_k, the largest k-th derivative along v of any intermediate value
//     (rounding is ~1e-15 M_k; an output derivative may cancel far below M_k, as softmax over one
//     element does). A wrong rule is off by O(1) relative;
//   - replay runs the same kernels on the same values as re-recording: 1e-12 relative;
//   - finite differences: the 4-point stencil D(h) has truncation error ~h⁴ f⁽⁵⁾/30 and rounding
//     ~ε|f|/h. With h = 5e-4 both are ≲ 1e-12 relative here; the tolerance is 1e-7 relative plus
//     twice |D(2h) - D(h)| (a Richardson estimate of D(h)'s own error, which also covers programs
//     whose fifth derivative is large). Non-smooth ops are kept ≥ 0.05 from their kinks, beyond
//     the reach of a ±1e-3 step.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "support/program_generator.hpp"

using namespace jetgrad;
using namespace difftest;

namespace {

struct Outcome {
  enum Status { pass, ill_formed, fail } status = pass;
  std::string relation, detail;
};

Outcome ill(std::string why) { return {Outcome::ill_formed, "", std::move(why)}; }

std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
  const char* s = std::getenv(name);
  if (s == nullptr || *s == '\0') return fallback;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (end == s || *end != '\0') {
    FAIL(std::string(name) + ": expected a non-negative integer, got '" + s + "'");
  }
  return v;
}

std::uint64_t mix(std::uint64_t seed, std::uint64_t i) {  // splitmix64 of (seed, i)
  std::uint64_t z = seed * 0x9e3779b97f4a7c15ULL + i + 0x632be59bd9b4e019ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string num(double x) {
  std::ostringstream os;
  os.precision(17);
  os << x;
  return os.str();
}

// |a - b| <= tol, else a failure naming both.
bool close(double a, double b, double tol, const std::string& what, Outcome& o, const std::string& relation) {
  if (std::abs(a - b) <= tol) return true;
  o = {Outcome::fail, relation,
       what + ": " + num(a) + " vs " + num(b) + " (|diff| " + num(std::abs(a - b)) + ", tolerance " +
           num(tol) + ")"};
  return false;
}

double max_abs(const std::vector<Tensor>& ts) {
  double m = 0.0;
  for (const Tensor& t : ts)
    for (std::size_t i = 0; i < t.numel(); ++i) m = std::max(m, std::abs(t.at(i)));
  return m;
}

Shape with_batch(std::size_t d, const Shape& s) {
  Shape out{d};
  for (std::size_t x : s) out.push_back(x);
  return out;
}

// The direction v and the replay point x1 of a program (from its seed and its input shapes).
struct Probe {
  std::vector<Tensor> v, x1;
};
Probe probe_for(const Program& p) {
  Generator gen(mix(p.seed, 0xd1ff));
  Probe pr;
  for (const Tensor& x : p.inputs) {
    Tensor v(DType::f64, x.shape()), x1(DType::f64, x.shape());
    for (std::size_t i = 0; i < x.numel(); ++i) {
      v.set(i, std::round(gen.uniform(-1.0, 1.0) * 1e3) / 1e3);
      x1.set(i, std::round((x.at(i) + gen.uniform(-0.3, 0.3)) * 1e3) / 1e3);
    }
    pr.v.push_back(v);
    pr.x1.push_back(x1);
  }
  return pr;
}

constexpr double exact_rtol = 1e-9;
constexpr double replay_rtol = 1e-12;

Outcome check(const Program& p) {
  const GenOptions limits;
  const std::size_t ni = p.inputs.size();
  const Probe pr = probe_for(p);
  Tape T;
  std::vector<Var> xs, values;
  Var L;
  EvalStats st;
  try {
    for (const Tensor& x : p.inputs) xs.push_back(T.variable(x));
    L = p.eval(xs, &st, &values);
  } catch (const Error& e) {
    return ill(e.what());
  }
  if (!st.finite || st.max_abs > limits.max_abs || st.margin < limits.min_margin) return ill("out of range");

  Outcome o;
  try {
    const double L0 = L.item();
    const std::vector<Tensor> g = T.gradient(L, xs);
    std::vector<Tensor> vdirs;
    for (const Tensor& v : pr.v) vdirs.push_back(reshape(v, with_batch(1, v.shape())));
    // M[k]: the largest k-th derivative along v of any value of the program (guard outputs
    // included). Rounding errors scale
    // with it, and an output derivative can be much smaller than it (cancellation: softmax over one
    // element is constant while its input's derivatives are large).
    std::vector<double> M(5, 0.0);
    {
      std::vector<Var> all = values;
      all.insert(all.end(), st.guards.begin(), st.guards.end());
      const std::vector<std::vector<Tensor>> cv = T.taylor(all, xs, vdirs, 4);
      double factorial = 1.0;
      for (std::size_t k = 1; k <= 4; ++k) {
        factorial *= static_cast<double>(k);
        for (const auto& series : cv) M[k] = std::max(M[k], factorial * max_abs({series[k]}));
      }
    }
    constexpr double cancel_rtol = 1e-11;
    const double gscale = 1.0 + max_abs(g) + std::abs(L0) + cancel_rtol / exact_rtol * M[1];

    // reverse = forward: one Taylor sweep with a unit direction per input element.
    std::size_t N = 0;
    for (const Tensor& x : p.inputs) N += x.numel();
    {
      std::vector<Tensor> basis;
      std::size_t offset = 0;
      for (const Tensor& x : p.inputs) {
        Tensor b(DType::f64, with_batch(N, x.shape()));
        for (std::size_t e = 0; e < x.numel(); ++e) b.set((offset + e) * x.numel() + e, 1.0);
        basis.push_back(b);
        offset += x.numel();
      }
      const Var outs[] = {L};
      const Tensor fwd = T.taylor(outs, xs, basis, 1)[0][1];
      offset = 0;
      for (std::size_t i = 0; i < ni; ++i) {
        for (std::size_t e = 0; e < p.inputs[i].numel(); ++e) {
          if (!close(g[i].at(e), fwd.at(offset + e), exact_rtol * gscale,
                     "d/dx" + std::to_string(i) + "[" + std::to_string(e) + "] reverse vs forward", o,
                     "reverse = forward"))
            return o;
        }
        offset += p.inputs[i].numel();
      }
    }

    // Taylor along v up to K = 4.
    const Var outs[] = {L};
    const std::vector<Tensor> c = T.taylor(outs, xs, vdirs, 4)[0];
    double gv = 0.0, gv_abs = 0.0;
    for (std::size_t i = 0; i < ni; ++i)
      for (std::size_t e = 0; e < pr.v[i].numel(); ++e) {
        gv += g[i].at(e) * pr.v[i].at(e);
        gv_abs += std::abs(g[i].at(e) * pr.v[i].at(e));
      }
    if (!close(c[0].at(0), L0, replay_rtol * (1.0 + std::abs(L0)), "Taylor c0 vs the recorded value", o,
               "Taylor c0 = value"))
      return o;
    if (!close(gv, c[1].at(0), exact_rtol * (1.0 + gv_abs + std::abs(L0)) + cancel_rtol * M[1],
               "<grad, v> vs Taylor c1", o, "reverse = Taylor (K = 1)"))
      return o;

    // reverse = central finite differences, every element of every input.
    {
      std::vector<Tensor> at = p.inputs;
      for (std::size_t i = 0; i < ni; ++i) {
        for (std::size_t e = 0; e < p.inputs[i].numel(); ++e) {
          const double x = p.inputs[i].at(e);
          auto f = [&](double dx) {
            at[i].set(e, x + dx);
            const double y = p.value_at(at);
            at[i].set(e, x);
            return y;
          };
          auto stencil = [&](double h) {
            return (8.0 * (f(h) - f(-h)) - (f(2 * h) - f(-2 * h))) / (12.0 * h);
          };
          const double d1 = stencil(1e-3), d2 = stencil(5e-4);
          const double tol = 1e-7 * (1.0 + std::abs(L0) + std::abs(d2)) + 2.0 * std::abs(d1 - d2);
          if (!close(
                  g[i].at(e), d2, tol,
                  "d/dx" + std::to_string(i) + "[" + std::to_string(e) + "] reverse vs central differences",
                  o, "reverse = finite differences"))
            return o;
        }
      }
    }

    // HVP: reverse over reverse = Taylor over reverse; vᵀHv = 2 c2.
    const std::vector<Var> gvars = T.gradient_vars(L, xs);
    Var proj;
    for (std::size_t i = 0; i < ni; ++i) {
      const Var term = sum(gvars[i] * pr.v[i]);
      proj = proj.attached() ? proj + term : term;
    }
    const std::vector<Tensor> ror = T.gradient(proj, xs);
    const std::vector<std::vector<Tensor>> tor = T.taylor(gvars, xs, vdirs, 1);
    const double hscale = 1.0 + max_abs(ror) + gscale + cancel_rtol / exact_rtol * M[2];
    double vhv = 0.0;
    for (std::size_t i = 0; i < ni; ++i) {
      for (std::size_t e = 0; e < p.inputs[i].numel(); ++e) {
        vhv += pr.v[i].at(e) * ror[i].at(e);
        if (!close(ror[i].at(e), tor[i][1].at(e), exact_rtol * hscale,
                   "(Hv)_" + std::to_string(i) + "[" + std::to_string(e) +
                       "] reverse-over-reverse vs Taylor-over-reverse",
                   o, "HVP reverse-over-reverse = Taylor-over-reverse"))
          return o;
      }
    }
    if (!close(vhv, 2.0 * c[2].at(0), exact_rtol * (hscale + std::abs(c[2].at(0))), "vᵀHv vs 2 c2", o,
               "HVP = Taylor (K = 2)"))
      return o;

    // Taylor coefficients = nested derivatives: d^k/dt^k f(x + t v) by k nested reverse sweeps.
    {
      Tape nested;
      const Var t = nested.variable(Tensor(0.0));
      std::vector<Var> xt;
      for (std::size_t i = 0; i < ni; ++i) xt.push_back(p.inputs[i] + t * pr.v[i]);
      Var d = p.eval(xt);
      if (!close(d.item(), L0, replay_rtol * (1.0 + std::abs(L0)), "f(x + 0 v) vs f(x)", o,
                 "Taylor = nested derivatives"))
        return o;
      double dscale = 1.0 + std::abs(L0), factorial = 1.0;
      std::vector<double> dk{L0};
      const Var wrt[] = {t};
      for (int k = 1; k <= 4; ++k) {
        d = nested.gradient_vars(d, wrt)[0];
        dk.push_back(d.item());
        dscale = std::max(dscale, 1.0 + std::abs(d.item()));
      }
      for (int k = 1; k <= 4; ++k) {
        factorial *= k;
        const double taylor_k = factorial * c[static_cast<std::size_t>(k)].at(0);
        if (!close(dk[static_cast<std::size_t>(k)], taylor_k,
                   exact_rtol * dscale + cancel_rtol * M[static_cast<std::size_t>(k)],
                   "d^" + std::to_string(k) + "/dt^" + std::to_string(k) +
                       " f(x + t v) by nested reverse vs " + std::to_string(k) + "! c" + std::to_string(k) +
                       " (Taylor)",
                   o, "Taylor (K = 4) = nested derivatives"))
          return o;
      }
    }

    // Replay at new inputs = re-recording there.
    {
      Tape R;
      std::vector<Var> xr;
      for (const Tensor& x : pr.x1) xr.push_back(R.variable(x));
      EvalStats rs;
      Var LR;
      bool comparable = true;
      try {
        LR = p.eval(xr, &rs);
      } catch (const Error&) {
        comparable = false;
      }
      comparable = comparable && rs.finite && rs.max_abs <= limits.max_abs;
      if (comparable) {
        const std::vector<Tensor> gR = R.gradient(LR, xr);
        T.replay(pr.x1);
        const double rscale = 1.0 + std::abs(LR.item());
        if (!close(L.item(), LR.item(), replay_rtol * rscale, "value after replay vs re-recorded", o,
                   "replay = re-recording"))
          return o;
        const std::vector<Tensor> gT = T.gradient(L, xs);
        const double grscale = 1.0 + max_abs(gR) + rscale;
        for (std::size_t i = 0; i < ni; ++i) {
          for (std::size_t e = 0; e < p.inputs[i].numel(); ++e) {
            const std::string at = std::to_string(i) + "[" + std::to_string(e) + "]";
            if (!close(gT[i].at(e), gR[i].at(e), replay_rtol * grscale * 10,
                       "gradient " + at + " after replay vs re-recorded", o, "replay = re-recording"))
              return o;
            // The recorded gradient graph (gradient_vars) was replayed along: it holds the new gradient.
            if (!close(gvars[i].value().at(e), gR[i].at(e), replay_rtol * grscale * 10,
                       "replayed recorded gradient " + at + " vs re-recorded gradient", o,
                       "replay = re-recording"))
              return o;
          }
        }
      }
    }
  } catch (const Error& e) {
    return {Outcome::fail, "no exception", std::string("the engine threw: ") + e.what()};
  }
  return o;
}

// Shrinks p while `still_fails` holds: the first candidate (simplest first) that still fails
// is taken, until none does.
Program shrink(Program p, const std::function<bool(const Program&)>& still_fails) {
  for (int round = 0; round < 200; ++round) {
    bool progressed = false;
    for (Program& q : shrink_candidates(p)) {
      if (still_fails(q)) {
        p = std::move(q);
        progressed = true;
        break;
      }
    }
    if (!progressed) break;
  }
  return p;
}

std::string tensors_cpp(const char* name, const std::vector<Tensor>& ts) {
  std::ostringstream os;
  for (std::size_t i = 0; i < ts.size(); ++i) {
    os << "// " << name << i << " = ";
    if (ts[i].rank() == 0) {
      os << shortest(ts[i].item());
    } else {
      os << "{";
      for (std::size_t e = 0; e < ts[i].numel(); ++e) os << (e ? ", " : "") << shortest(ts[i].at(e));
      os << "}";
    }
    os << "\n";
  }
  return os.str();
}

}  // namespace

TEST_CASE("differential: random programs agree across reverse, forward, Taylor, nested, replay and FD",
          "[differential]") {
  const std::uint64_t programs = env_u64("JETGRAD_DIFFERENTIAL_PROGRAMS", 2000);
  const std::uint64_t seed = env_u64("JETGRAD_DIFFERENTIAL_SEED", 1);
  const bool raw = env_u64("JETGRAD_DIFFERENTIAL_RAW", 0) != 0;  // the seed is one program's own seed
  GenOptions options;
  options.max_steps = static_cast<int>(env_u64("JETGRAD_DIFFERENTIAL_MAX_STEPS", 6));
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t checked = 0, redrawn = 0, steps = 0;
  std::vector<std::uint64_t> kind_uses(static_cast<std::size_t>(kind_count), 0);
  for (std::uint64_t i = 0; checked < programs; ++i) {
    REQUIRE(i < 3 * programs + 100);  // the generator must mostly produce well-formed programs
    const Program p = generate(raw ? seed + i : mix(seed, i), options);
    const Outcome o = check(p);
    if (o.status == Outcome::ill_formed) {
      ++redrawn;
      continue;
    }
    ++checked;
    steps += p.steps.size();
    for (const Step& s : p.steps) ++kind_uses[static_cast<std::size_t>(s.kind)];
    if (o.status == Outcome::fail) {
      const Program small = shrink(p, [&](const Program& q) {
        const Outcome oq = check(q);
        return oq.status == Outcome::fail && oq.relation == o.relation;
      });
      const Outcome os = check(small);
      const Probe pr = probe_for(small);
      std::ostringstream msg;
      msg << "differential mismatch: " << o.relation << "\n  " << o.detail << "\nprogram seed " << p.seed
          << " (" << p.steps.size() << " steps: " << p.summary() << "), shrunk to " << small.steps.size()
          << " steps, where: " << os.detail << "\n"
          << "rerun: JETGRAD_DIFFERENTIAL_SEED=" << p.seed
          << " JETGRAD_DIFFERENTIAL_PROGRAMS=1 JETGRAD_DIFFERENTIAL_RAW=1 jetgrad_tests '[differential]'\n"
          << "---- the shrunk program as C++ ----\n"
          << small.to_cpp() << tensors_cpp("direction v", pr.v) << tensors_cpp("replay point x", pr.x1);
      FAIL(msg.str());
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "differential: %llu programs (%llu steps) checked, %llu redrawn as ill-formed, seed %llu, %.1f s\n",
      static_cast<unsigned long long>(checked), static_cast<unsigned long long>(steps),
      static_cast<unsigned long long>(redrawn), static_cast<unsigned long long>(seed), seconds);
  // Every op of the table is exercised by the default budget.
  if (programs >= 2000) {
    for (int k = 0; k < kind_count; ++k) {
      INFO("op " << kind_name(static_cast<Kind>(k)));
      CHECK(kind_uses[static_cast<std::size_t>(k)] >= 10);
    }
  }
}

TEST_CASE("differential: a failing program shrinks to a small one printed as C++", "[differential]") {
  // A stand-in failure: "the program uses log". Shrinking must keep a log and drop the rest.
  Program p;
  bool found = false;
  for (std::uint64_t i = 0; i < 5000 && !found; ++i) {
    p = generate(mix(99, i));
    int logs = 0;
    for (const Step& s : p.steps) logs += s.kind == Kind::Log;
    found = logs >= 1 && p.steps.size() >= 4 && p.inputs.size() >= 2;
  }
  REQUIRE(found);
  auto uses_log = [](const Program& q) {
    bool has = false;
    for (const Step& s : q.steps) has |= s.kind == Kind::Log;
    return has && check(q).status != Outcome::ill_formed;
  };
  const Program small = shrink(p, uses_log);
  CHECK(small.steps.size() == 1);
  CHECK(small.steps[0].kind == Kind::Log);
  CHECK(small.inputs.size() == 1);
  const std::string cpp = small.to_cpp();
  INFO(cpp);
  CHECK_THAT(cpp, Catch::Contains("Tape tape;") && Catch::Contains("tape.variable(") &&
                      Catch::Contains("log(") && Catch::Contains("const Var out = sum("));

  // The text of a known program, exactly.
  Program known;
  known.seed = 7;
  known.inputs = {Tensor::from({2}, {0.5, -1.25}), Tensor(0.75)};
  Step lg;
  lg.kind = Kind::Log;
  lg.a = 0;
  lg.guard = Guard::square_plus_half;
  Step mul;
  mul.kind = Kind::Mul;
  mul.a = 2;
  mul.b = 1;
  Step red;
  red.kind = Kind::Sum;
  red.a = 3;
  red.axis = 0;
  known.steps = {lg, mul, red};
  CHECK(known.to_cpp() ==
        "// jetgrad differential tester: program of seed 7 (2 inputs, 3 steps)\n"
        "Tape tape;\n"
        "const Var x0 = tape.variable(Tensor::from({2}, {0.5, -1.25}));\n"
        "const Var x1 = tape.variable(Tensor(0.75));\n"
        "const Var v2 = log((x0 * x0 + 0.5));\n"
        "const Var v3 = v2 * x1;\n"
        "const Var v4 = sum(v3, 0, false);\n"
        "const Var out = sum(v4 * Tensor(1.25));\n");
  CHECK(check(known).status == Outcome::pass);
}
