// matmul with NumPy semantics; every 2-D product is one BLAS gemm call on the operands' own
// buffers (no copies): a transposed operand is passed as BLAS's trans flag, not transposed in memory.
// A batch of a against a single matrix b is folded into one gemm (M*batch rows) when a is not
// transposed (its rows are then contiguous across the batch).
#include <array>
#include <climits>
#include <cstring>
#include <string>
#include <type_traits>

#include <cblas.h>

#include "autodiff/tensor_ops.hpp"

namespace jetgrad {

namespace {

blasint to_blas(std::size_t v, const Shape& a, const Shape& b) {
  if (v > static_cast<std::size_t>(INT_MAX))
    throw ValueError("matmul: shapes " + a.str() + " and " + b.str() + " exceed the BLAS index range (" +
                     std::to_string(v) + " > " + std::to_string(INT_MAX) + ")");
  return static_cast<blasint>(v);
}

// C (m x n) = op(A) op(B) (+ C when accumulate), op(A) m x k, op(B) k x n; A is stored m x k
// (k x m when t.a), B k x n (n x k when t.b); all row-major and contiguous.
template <class T>
void gemm(const T* A, const T* B, T* C, std::size_t m, std::size_t n, std::size_t k, Transposed t,
          bool accumulate, const Shape& sa, const Shape& sb) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!accumulate) std::memset(C, 0, m * n * sizeof(T));
    return;
  }
  const blasint M = to_blas(m, sa, sb), N = to_blas(n, sa, sb), K = to_blas(k, sa, sb);
  const CBLAS_TRANSPOSE ta = t.a ? CblasTrans : CblasNoTrans, tb = t.b ? CblasTrans : CblasNoTrans;
  const blasint lda = t.a ? M : K, ldb = t.b ? K : N;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, 1.0f, A, lda, B, ldb, accumulate ? 1.0f : 0.0f, C, N);
  else
    cblas_dgemm(CblasRowMajor, ta, tb, M, N, K, 1.0, A, lda, B, ldb, accumulate ? 1.0 : 0.0, C, N);
}

// The shapes of one product: checked, with its batch layout and result shape.
struct Plan {
  std::size_t m, n, k;
  Shape ba, bb, batch, out;
};

Plan plan_of(const Tensor& a, const Tensor& b, Transposed t) {
  check_same_dtype(a, b, "matmul");
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  // The start of every shape error (built only on failure: a replayed product allocates nothing).
  const auto both = [&] { return "matmul: shapes " + sa.str() + " and " + sb.str(); };
  if (sa.rank() == 0 || sb.rank() == 0)
    throw ShapeError(both() + " do not fit: matmul needs operands of rank >= 1");
  if ((t.a && sa.rank() < 2) || (t.b && sb.rank() < 2))
    throw ShapeError(both() + " do not fit: a transposed operand needs rank >= 2");

  // Promote 1-D operands: (k,) -> (1, k) on the left, (k,) -> (k, 1) on the right.
  const bool a_vec = sa.rank() == 1, b_vec = sb.rank() == 1;
  const auto last = [](const Shape& s, int from_end) { return s[s.rank() - from_end]; };
  Plan p;
  p.m = a_vec ? 1 : last(sa, t.a ? 1 : 2);
  p.k = a_vec ? sa[0] : last(sa, t.a ? 2 : 1);
  const std::size_t kb = b_vec ? sb[0] : last(sb, t.b ? 1 : 2);
  p.n = b_vec ? 1 : last(sb, t.b ? 2 : 1);
  if (p.k != kb)
    throw ShapeError(both() + " do not fit: inner dimensions " + std::to_string(p.k) + " and " +
                     std::to_string(kb) + " differ");

  // Batch axes (everything before the last two).
  for (int i = 0; i + 2 < sa.rank(); ++i) p.ba.push_back(sa[i]);
  for (int i = 0; i + 2 < sb.rank(); ++i) p.bb.push_back(sb[i]);
  try {
    p.batch = broadcast_shapes(p.ba, p.bb, "matmul");
  } catch (const ShapeError&) {
    throw ShapeError(both() + " do not fit: batch dimensions " + p.ba.str() + " and " + p.bb.str() +
                     " do not broadcast");
  }
  p.out = p.batch;
  if (!a_vec) p.out.push_back(p.m);
  if (!b_vec) p.out.push_back(p.n);
  return p;
}

// out (= or +=) op(a) op(b), out already of the plan's shape.
void run(const Plan& p, const Tensor& a, const Tensor& b, Transposed t, Tensor& out, bool accumulate) {
  const std::size_t m = p.m, n = p.n, k = p.k;
  const Shape &ba = p.ba, &bb = p.bb, &batch = p.batch;
  const std::size_t nbatch = batch.numel();
  dispatch_dtype(a.dtype(), [&](auto z) {
    using T = decltype(z);
    T* pc = out.data<T>();
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    const Shape &sa = a.shape(), &sb = b.shape();
    if (bb.rank() == 0 && !t.a) {
      // b is one matrix: a's batch (contiguous) folds into the rows of one product.
      gemm(pa, pb, pc, nbatch * m, n, k, t, accumulate, sa, sb);
      return;
    }
    // Loop over the broadcast batch; an operand's batch offset uses stride 0 on broadcast axes.
    const int R = batch.rank();
    std::array<std::size_t, Shape::max_rank> stride_a{}, stride_b{};
    {
      std::size_t st = m * k;
      for (int i = R - 1, j = ba.rank() - 1; i >= 0; --i, --j) {
        const std::size_t d = j >= 0 ? ba[j] : 1;
        stride_a[static_cast<std::size_t>(i)] = d == 1 ? 0 : st;
        st *= d;
      }
      st = k * n;
      for (int i = R - 1, j = bb.rank() - 1; i >= 0; --i, --j) {
        const std::size_t d = j >= 0 ? bb[j] : 1;
        stride_b[static_cast<std::size_t>(i)] = d == 1 ? 0 : st;
        st *= d;
      }
    }
    for (std::size_t i = 0; i < nbatch; ++i) {
      std::size_t rem = i, oa = 0, ob = 0;
      for (int d = R - 1; d >= 0; --d) {
        const auto ud = static_cast<std::size_t>(d);
        const std::size_t idx = rem % batch[d];
        rem /= batch[d];
        oa += idx * stride_a[ud];
        ob += idx * stride_b[ud];
      }
      gemm(pa + oa, pb + ob, pc + i * m * n, m, n, k, t, accumulate, sa, sb);
    }
  });
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) { return matmul(a, b, Transposed{}); }

Tensor matmul(const Tensor& a, const Tensor& b, Transposed t) {
  const Plan p = plan_of(a, b, t);
  Tensor out;
  out.resize(p.out, a.dtype());
  run(p, a, b, t, out, false);
  return out;
}

Tensor matmul_layout(const Tensor& a, const Tensor& b, Transposed t) {
  Tensor out;
  out.resize(plan_of(a, b, t).out, a.dtype());
  return out;
}

namespace {
// out = or += op(a) op(b) into an existing tensor of the product's shape (not an operand).
void product_into(Tensor& out, const Tensor& a, const Tensor& b, Transposed t, bool accumulate,
                  const char* what) {
  const Plan p = plan_of(a, b, t);
  if (!(out.shape() == p.out) || out.dtype() != a.dtype()) {
    throw ShapeError(std::string(what) + ": the output is " + dtype_name(out.dtype()) + out.shape().str() +
                     ", the product " + dtype_name(a.dtype()) + p.out.str());
  }
  if (out.raw_data() == a.raw_data() || out.raw_data() == b.raw_data())
    throw ValueError(std::string(what) + ": the output must not be an operand");
  run(p, a, b, t, out, accumulate);
}
}  // namespace

void matmul_into(Tensor& out, const Tensor& a, const Tensor& b, Transposed t) {
  product_into(out, a, b, t, false, "matmul_into");
}

void add_matmul(Tensor& acc, const Tensor& a, const Tensor& b, Transposed t) {
  product_into(acc, a, b, t, true, "add_matmul");
}

}  // namespace jetgrad
