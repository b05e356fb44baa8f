// Tensor: a dense, contiguous, row-major array of float or double elements, the dtype chosen at run time.
//
//   xt::xarray<double> a = {{1, 2}, {3, 4}};
//   Tensor t(a);                        // copies the elements
//   Tensor u = exp(t) + 1.0;            // NumPy names and broadcasting (autodiff/tensor_ops.hpp)
//   xt::xarray<double> b = u.array<double>();
//
// A Tensor is a value: copying it copies its elements, moving it is cheap. Tensors of at most
// 2 doubles (4 floats) keep their elements inline, so scalar code never touches the heap.
// Heap storage is 64-byte aligned for AVX-512 loads and comes from a per-thread cache of buffers
// (autodiff/buffer_pool.hpp), so a loop that computes the same shapes every step stops allocating.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <xtensor/xarray.hpp>

#include "autodiff/dtype.hpp"
#include "autodiff/errors.hpp"
#include "autodiff/shape.hpp"

namespace jetgrad {

class Tensor {
 public:
  Tensor() noexcept = default;                     // a float64 scalar 0 (inline storage: no allocation)
  Tensor(DType dtype, const Shape& shape);         // zero-filled
  Tensor(double value, DType dtype = DType::f64);  // a scalar (rank 0)
  template <class T>
  Tensor(const xt::xarray<T>& a);  // NOLINT(google-explicit-constructor): natural conversion

  static Tensor zeros(const Shape& shape, DType dtype = DType::f64) { return Tensor(dtype, shape); }
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f64);
  static Tensor ones(const Shape& shape, DType dtype = DType::f64) { return full(shape, 1.0, dtype); }
  // Elements 0, 1, ..., n-1.
  static Tensor arange(std::size_t n, DType dtype = DType::f64);
  // A tensor of the given shape filled from `values` in row-major order (sizes must match).
  static Tensor from(const Shape& shape, std::initializer_list<double> values, DType dtype = DType::f64);

  Tensor(const Tensor& other);
  Tensor(Tensor&& other) noexcept;
  Tensor& operator=(const Tensor& other);
  Tensor& operator=(Tensor&& other) noexcept;
  ~Tensor() = default;

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  std::size_t numel() const { return shape_.numel(); }
  std::size_t nbytes() const { return numel() * dtype_size(dtype_); }

  // Typed element access; throws DTypeError if T is not the tensor's dtype.
  template <class T>
  T* data();
  template <class T>
  const T* data() const;
  void* raw_data() { return storage(); }
  const void* raw_data() const { return storage(); }

  // The single element of a one-element tensor, as double; throws ShapeError otherwise.
  double item() const;
  // Element at a flat row-major index, as double (bounds-checked; for tests and printing).
  double at(std::size_t flat_index) const;
  void set(std::size_t flat_index, double value);

  template <class T>
  xt::xarray<T> array() const;  // copies out; throws DTypeError if T is not the dtype

  Tensor to(DType dtype) const;              // converted copy
  Tensor reshape(const Shape& shape) const;  // same elements, new shape (numel must match)
  void fill(double value);

  // Makes this tensor hold `shape` and `dtype`, reusing its buffer when it is large enough
  // (the contents are then unspecified): the allocation-free path of tape replay.
  void resize(const Shape& shape, DType dtype);
  void copy_from(const Tensor& src);  // resize + copy elements, reusing the buffer

  std::string str() const;  // NumPy-like text, for printing and error messages

 private:
  struct AlignedFree {
    AlignedFree() noexcept : bytes(0) {}
    explicit AlignedFree(std::size_t capacity) noexcept : bytes(capacity) {}
    void operator()(std::byte* p) const noexcept;
    std::size_t bytes;  // the capacity, to return the buffer to its size class
  };
  static constexpr std::size_t inline_bytes = 16;

  std::byte* storage() { return heap_ ? heap_.get() : reinterpret_cast<std::byte*>(small_); }
  const std::byte* storage() const {
    return heap_ ? heap_.get() : reinterpret_cast<const std::byte*>(small_);
  }
  void check_dtype(DType wanted) const;
  void allocate(std::size_t bytes);

  DType dtype_ = DType::f64;
  Shape shape_;
  std::size_t capacity_bytes_ = inline_bytes;
  std::unique_ptr<std::byte[], AlignedFree> heap_;
  alignas(16) double small_[inline_bytes / sizeof(double)] = {};
};

template <class T>
T* Tensor::data() {
  check_dtype(dtype_of<T>());
  return reinterpret_cast<T*>(storage());
}
template <class T>
const T* Tensor::data() const {
  check_dtype(dtype_of<T>());
  return reinterpret_cast<const T*>(storage());
}

extern template Tensor::Tensor(const xt::xarray<float>&);
extern template Tensor::Tensor(const xt::xarray<double>&);
extern template xt::xarray<float> Tensor::array<float>() const;
extern template xt::xarray<double> Tensor::array<double>() const;

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Throws DTypeError naming both dtypes and the operation if a and b differ.
void check_same_dtype(const Tensor& a, const Tensor& b, const char* what);

}  // namespace jetgrad
