// Tensor: a dense, contiguous, row-major array of float or double elements, the dtype chosen at run time.
//
//   xt::xarray<double> a = {{1, 2}, {3, 4}};
//   Tensor t(a);                        // copies the elements
//   Tensor u = exp(t) + 1.0;            // NumPy names and broadcasting (autodiff/tensor_ops.hpp)
//   xt::xarray<double> b = u.array<double>();
//
// A Tensor is a value: a copy behaves as a copy of its elements. Copies share the heap buffer until
// one of them is written (copy on write: every mutable access detaches a shared buffer first), so
// copying, reshaping and putting a tensor on a tape cost no element copies. Tensors of at most
// 2 doubles (4 floats) keep their elements inline, so scalar code never touches the heap.
// Heap storage is 64-byte aligned for AVX-512 loads and comes from a per-thread cache of buffers
// (autodiff/buffer_pool.hpp), so a loop that computes the same shapes every step stops allocating.
//
// A pointer from a mutable access (data<T>(), raw_data()) is valid for writing until the tensor is
// next copied: write through it before handing copies out, as the kernels do.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include <xtensor/xarray.hpp>

#include "autodiff/dtype.hpp"
#include "autodiff/errors.hpp"
#include "autodiff/shape.hpp"

namespace jetgrad {

namespace detail {

// A heap buffer from the per-thread cache, shared by reference count. Its count sits in a 64-byte
// header in front of the elements, so the elements stay 64-byte aligned.
class SharedBuffer {
 public:
  SharedBuffer() noexcept = default;
  explicit SharedBuffer(std::size_t& capacity);  // at least `capacity` bytes; raised to the true capacity
  SharedBuffer(const SharedBuffer& other) noexcept : data_(other.data_) {
    if (data_ != nullptr) header()->refs.fetch_add(1, std::memory_order_relaxed);
  }
  SharedBuffer(SharedBuffer&& other) noexcept : data_(std::exchange(other.data_, nullptr)) {}
  SharedBuffer& operator=(SharedBuffer other) noexcept {
    std::swap(data_, other.data_);
    return *this;
  }
  ~SharedBuffer() { reset(); }

  // Inline, as most tensors destroyed in a sweep are moved-from and hold no buffer.
  void reset() noexcept {
    if (data_ != nullptr) drop();
  }
  std::byte* get() const noexcept { return data_; }
  explicit operator bool() const noexcept { return data_ != nullptr; }
  bool shared() const noexcept {
    return data_ != nullptr && header()->refs.load(std::memory_order_acquire) > 1;
  }

 private:
  struct Header {
    std::atomic<std::uint32_t> refs;
    std::size_t bytes;  // the whole allocation, header included
  };
  static constexpr std::size_t header_bytes = 64;
  void drop() noexcept;  // gives up this reference (freeing the buffer with the last) and nulls data_
  Header* header() const noexcept { return reinterpret_cast<Header*>(data_ - header_bytes); }

  std::byte* data_ = nullptr;  // the elements; the header is just before them
};

}  // namespace detail

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
  // Whether another tensor holds this one's buffer, so that a write would first copy it.
  bool shares_buffer() const noexcept { return heap_.shared(); }

  std::string str() const;  // NumPy-like text, for printing and error messages

 private:
  static constexpr std::size_t inline_bytes = 16;

  // Mutable access: a shared buffer is detached (copied) first.
  std::byte* storage() {
    if (heap_.shared()) detach();
    return heap_ ? heap_.get() : reinterpret_cast<std::byte*>(small_);
  }
  const std::byte* storage() const {
    return heap_ ? heap_.get() : reinterpret_cast<const std::byte*>(small_);
  }
  void check_dtype(DType wanted) const;
  void allocate(std::size_t bytes);  // a fresh, unshared buffer (contents unspecified)
  void detach();                     // an own copy of a shared buffer

  DType dtype_ = DType::f64;
  Shape shape_;
  std::size_t capacity_bytes_ = inline_bytes;
  detail::SharedBuffer heap_;
  alignas(16) double small_[inline_bytes / sizeof(double)] = {};
};

// Inline, as gradients of scalar code are a tensor per variable: the value goes straight into the
// inline storage (a new tensor has no heap buffer).
inline Tensor::Tensor(double value, DType dtype) : dtype_(dtype) {
  if (dtype == DType::f32) {
    const auto narrow = static_cast<float>(value);
    std::memcpy(small_, &narrow, sizeof narrow);
  } else {
    small_[0] = value;
  }
}

// Moves are inline: the sweeps move tensors through rules, optionals and adjoint tables, and the
// compiler then drops the stores into a moved-from tensor that is destroyed right after.
inline Tensor::Tensor(Tensor&& other) noexcept
    : dtype_(other.dtype_),
      shape_(other.shape_),
      capacity_bytes_(other.capacity_bytes_),
      heap_(std::move(other.heap_)) {
  if (!heap_) std::memcpy(small_, other.small_, inline_bytes);
  // The moved-from tensor is a float64 scalar 0 with inline storage.
  other.dtype_ = DType::f64;
  other.shape_ = Shape{};
  other.capacity_bytes_ = inline_bytes;
  other.small_[0] = 0.0;
}

inline Tensor& Tensor::operator=(Tensor&& other) noexcept {
  if (this == &other) return *this;
  dtype_ = other.dtype_;
  shape_ = other.shape_;
  capacity_bytes_ = other.capacity_bytes_;
  heap_ = std::move(other.heap_);
  if (!heap_) std::memcpy(small_, other.small_, inline_bytes);
  other.dtype_ = DType::f64;
  other.shape_ = Shape{};
  other.capacity_bytes_ = inline_bytes;
  other.small_[0] = 0.0;
  return *this;
}

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
