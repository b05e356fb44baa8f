// The Taylor sweep: one forward loop over the tape pushing truncated Taylor series.
//
//   x(t) = x_0 + v t  for each seeded variable;  y_k of every entry from its inputs' x_0..x_k by the
//   entry's Taylor rule (autodiff/ops/*.hpp);  all D directions ride along a leading axis.
//
// Series are released after their last use, so memory follows the live set, not the tape length.
#include <cstdint>
#include <vector>

#include "autodiff/sweeps/dispatch.hpp"
#include "autodiff/var.hpp"

namespace jetgrad {

std::vector<std::vector<Tensor>> Tape::taylor(std::span<const Var> outputs, std::span<const Var> wrt,
                                              std::span<const Tensor> directions, int K) const {
  std::vector<std::vector<Tensor>> terms = taylor_terms(outputs, wrt, directions, K);
  for (std::size_t j = 0; j < outputs.size(); ++j) terms[j].insert(terms[j].begin(), outputs[j].value());
  return terms;
}

std::vector<std::vector<Tensor>> Tape::taylor_terms(std::span<const Var> outputs, std::span<const Var> wrt,
                                                    std::span<const Tensor> directions, int K) const {
  check_thread("taylor");
  if (K < 1) throw ValueError("taylor: the degree K must be at least 1, got " + std::to_string(K));
  if (wrt.size() != directions.size()) {
    throw ValueError("taylor: " + std::to_string(wrt.size()) + " variables but " +
                     std::to_string(directions.size()) + " directions");
  }
  if (wrt.empty()) throw ValueError("taylor: needs at least one variable to seed");
  const std::size_t D = directions[0].rank() > 0 ? directions[0].shape()[0] : 0;
  const std::size_t n = nodes_.size();

  std::vector<rules::Series> series(n);
  for (std::size_t i = 0; i < wrt.size(); ++i) {
    check_var(wrt[i], "taylor");
    const Tensor& x = wrt[i].value();
    const Shape expected = rules::batched(D, x.shape());
    if (!(directions[i].shape() == expected)) {
      throw ShapeError("taylor: direction " + std::to_string(i) + " has shape " +
                       directions[i].shape().str() +
                       ", expected [D] + the variable's shape = " + expected.str());
    }
    check_same_dtype(x, directions[i], "taylor");
    rules::Series& s = series[static_cast<std::size_t>(wrt[i].index())];
    if (!s.empty()) {
      throw ValueError("taylor: variable " + std::to_string(i) + " (entry #" +
                       std::to_string(wrt[i].index()) +
                       ") is already seeded by an earlier variable; give each variable one direction");
    }
    s.push_back(directions[i]);
    for (int k = 2; k <= K; ++k) s.push_back(Tensor(x.dtype(), expected));
  }
  std::int32_t last = -1;
  for (const Var& y : outputs) {
    check_var(y, "taylor");
    last = std::max(last, y.index());
  }

  // Entries some output depends on. The rest are skipped: their series would be computed only to
  // be dropped (for an HVP, the outputs are the recorded gradient and the loss's own last entries
  // are not needed).
  std::vector<std::uint8_t> needed(n, 0);
  for (const Var& y : outputs) needed[static_cast<std::size_t>(y.index())] = 1;
  for (std::int32_t i = last; i >= 0; --i) {
    const Node& node = nodes_[static_cast<std::size_t>(i)];
    if (!needed[static_cast<std::size_t>(i)]) continue;
    for (int k = 0; k < node.num_inputs; ++k)
      needed[static_cast<std::size_t>(node.inputs[static_cast<std::size_t>(k)])] = 1;
  }

  // Last use of each entry's series (by a needed entry), to free it early; outputs are kept to the end.
  std::vector<std::int32_t> last_use(n, -1);
  for (std::int32_t i = 0; i <= last; ++i) {
    const Node& node = nodes_[static_cast<std::size_t>(i)];
    if (!needed[static_cast<std::size_t>(i)]) continue;
    for (int k = 0; k < node.num_inputs; ++k)
      last_use[static_cast<std::size_t>(node.inputs[static_cast<std::size_t>(k)])] = i;
  }
  for (const Var& y : outputs) last_use[static_cast<std::size_t>(y.index())] = static_cast<std::int32_t>(n);

  for (std::int32_t i = 0; i <= last; ++i) {
    const auto idx = static_cast<std::size_t>(i);
    const Node& node = nodes_[idx];
    // leaves, and seeded entries: a seeded variable is x + t v as given, whatever it was computed from
    if (!needed[idx] || node.op == Op::Input || node.op == Op::Constant || !series[idx].empty()) continue;
    rules::TaylorArgs args;
    args.K = K;
    args.D = D;
    args.num_inputs = node.num_inputs;
    args.out = &value_layout(idx);  // deferrable ops' rules read only its shape (ops/linalg.hpp)
    args.attrs = attrs_of(idx);
    args.constant = node.constant();
    bool any_series = false;
    for (int k = 0; k < node.num_inputs; ++k) {
      const auto in = static_cast<std::size_t>(node.inputs[static_cast<std::size_t>(k)]);
      args.in[static_cast<std::size_t>(k)] = rules::SeriesView{&value(in), &series[in]};
      any_series |= !series[in].empty();
    }
    // Entries recorded under NoGrad (needs_grad false) are constants to every sweep: zero series.
    if (any_series && node.needs_grad) rules::taylor_op(node.op, args, series[idx]);
    for (int k = 0; k < node.num_inputs; ++k) {
      const auto in = static_cast<std::size_t>(node.inputs[static_cast<std::size_t>(k)]);
      if (last_use[in] == i) rules::Series().swap(series[in]);
    }
  }

  std::vector<std::vector<Tensor>> result;
  result.reserve(outputs.size());
  for (const Var& y : outputs) {
    std::vector<Tensor> c;
    c.reserve(static_cast<std::size_t>(K) + 1);  // taylor() puts the value in front
    rules::Series& s = series[static_cast<std::size_t>(y.index())];
    for (int k = 1; k <= K; ++k) {
      c.push_back(s.empty() ? Tensor(y.dtype(), rules::batched(D, y.shape()))
                            : s[static_cast<std::size_t>(k - 1)]);
    }
    result.push_back(std::move(c));
  }
  return result;
}

}  // namespace jetgrad
