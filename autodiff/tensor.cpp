// Tensor storage, conversions and printing.
#include "autodiff/tensor.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <limits>
#include <new>
#include <ostream>
#include <sstream>

#include "autodiff/buffer_pool.hpp"

namespace jetgrad {

namespace {

std::string index_error(const char* what, std::size_t i, std::size_t n) {
  return std::string(what) + ": index " + std::to_string(i) + " is out of range for a tensor of " +
         std::to_string(n) + " elements";
}
}  // namespace

namespace detail {

SharedBuffer::SharedBuffer(std::size_t& capacity) {
  std::size_t bytes = capacity + header_bytes;
  std::byte* p = acquire_buffer(bytes);  // per-thread cache: see buffer_pool.hpp
  new (p) Header{{1}, bytes};
  data_ = p + header_bytes;
  capacity = bytes - header_bytes;
}

void SharedBuffer::drop() noexcept {
  Header* h = header();
  if (h->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    const std::size_t bytes = h->bytes;
    h->~Header();
    release_buffer(data_ - header_bytes, bytes);
  }
  data_ = nullptr;
}

}  // namespace detail

void Tensor::allocate(std::size_t bytes) {
  if (bytes <= inline_bytes) {
    heap_.reset();
    capacity_bytes_ = inline_bytes;
    return;
  }
  std::size_t capacity = bytes;
  heap_ = detail::SharedBuffer(capacity);
  capacity_bytes_ = capacity;
}

void Tensor::detach() {
  std::size_t capacity = nbytes();
  detail::SharedBuffer own(capacity);
  std::memcpy(own.get(), heap_.get(), nbytes());
  heap_ = std::move(own);
  capacity_bytes_ = capacity;
}

Tensor::Tensor(DType dtype, const Shape& shape) : dtype_(dtype), shape_(shape) {
  allocate(nbytes());
  std::memset(storage(), 0, nbytes());
}

template <class T>
Tensor::Tensor(const xt::xarray<T>& a) : dtype_(dtype_of<T>()) {
  shape_ = Shape(std::span<const std::size_t>(a.shape().data(), a.shape().size()));
  allocate(nbytes());
  std::copy(a.begin(), a.end(), reinterpret_cast<T*>(storage()));
}

template <class T>
xt::xarray<T> Tensor::array() const {
  const T* p = data<T>();
  xt::xarray<T> out = xt::xarray<T>::from_shape(shape_.to_vector());
  std::copy(p, p + numel(), out.data());
  return out;
}

template Tensor::Tensor(const xt::xarray<float>&);
template Tensor::Tensor(const xt::xarray<double>&);
template xt::xarray<float> Tensor::array<float>() const;
template xt::xarray<double> Tensor::array<double>() const;

Tensor Tensor::full(const Shape& shape, double value, DType dtype) {
  Tensor t;
  t.resize(shape, dtype);
  t.fill(value);
  return t;
}

Tensor Tensor::arange(std::size_t n, DType dtype) {
  Tensor t;
  t.resize(Shape{n}, dtype);
  dispatch_dtype(dtype, [&](auto z) {
    using T = decltype(z);
    T* p = t.data<T>();
    for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<T>(i);
  });
  return t;
}

Tensor Tensor::from(const Shape& shape, std::initializer_list<double> values, DType dtype) {
  if (values.size() != shape.numel())
    throw ShapeError("Tensor::from: shape " + shape.str() + " holds " + std::to_string(shape.numel()) +
                     " elements, got " + std::to_string(values.size()) + " values");
  Tensor t;
  t.resize(shape, dtype);
  dispatch_dtype(dtype, [&](auto z) {
    using T = decltype(z);
    std::transform(values.begin(), values.end(), t.data<T>(), [](double v) { return static_cast<T>(v); });
  });
  return t;
}

Tensor::Tensor(const Tensor& other)
    : dtype_(other.dtype_), shape_(other.shape_), capacity_bytes_(other.capacity_bytes_), heap_(other.heap_) {
  if (!heap_) std::memcpy(small_, other.small_, inline_bytes);
}

Tensor& Tensor::operator=(const Tensor& other) {
  if (this == &other) return *this;
  dtype_ = other.dtype_;
  shape_ = other.shape_;
  capacity_bytes_ = other.capacity_bytes_;
  heap_ = other.heap_;
  if (!heap_) std::memcpy(small_, other.small_, inline_bytes);
  return *this;
}

void Tensor::check_dtype(DType wanted) const {
  if (wanted != dtype_)
    throw DTypeError(std::string("tensor holds ") + dtype_name(dtype_) + ", asked for " + dtype_name(wanted));
}

double Tensor::item() const {
  if (numel() != 1)
    throw ShapeError("item: tensor of shape " + shape_.str() + " has " + std::to_string(numel()) +
                     " elements, expected 1");
  return at(0);
}

double Tensor::at(std::size_t i) const {
  if (i >= numel()) throw ValueError(index_error("at", i, numel()));
  if (dtype_ == DType::f32) return static_cast<double>(reinterpret_cast<const float*>(storage())[i]);
  return reinterpret_cast<const double*>(storage())[i];
}

void Tensor::set(std::size_t i, double value) {
  if (i >= numel()) throw ValueError(index_error("set", i, numel()));
  if (dtype_ == DType::f32)
    reinterpret_cast<float*>(storage())[i] = static_cast<float>(value);
  else
    reinterpret_cast<double*>(storage())[i] = value;
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return *this;
  Tensor out;
  out.resize(shape_, dtype);
  const std::size_t n = numel();
  if (dtype == DType::f32) {
    const double* s = data<double>();
    float* d = out.data<float>();
    for (std::size_t i = 0; i < n; ++i) d[i] = static_cast<float>(s[i]);
  } else {
    const float* s = data<float>();
    double* d = out.data<double>();
    for (std::size_t i = 0; i < n; ++i) d[i] = static_cast<double>(s[i]);
  }
  return out;
}

Tensor Tensor::reshape(const Shape& shape) const {
  if (shape.numel() != numel())
    throw ShapeError("reshape: cannot reshape " + shape_.str() + " (" + std::to_string(numel()) +
                     " elements) into " + shape.str() + " (" + std::to_string(shape.numel()) + " elements)");
  Tensor out(*this);
  out.shape_ = shape;
  return out;
}

void Tensor::fill(double value) {
  if (heap_.shared()) allocate(nbytes());  // every element is overwritten: no need to copy them
  dispatch_dtype(dtype_, [&](auto z) {
    using T = decltype(z);
    T* p = data<T>();
    std::fill(p, p + numel(), static_cast<T>(value));
  });
}

void Tensor::resize(const Shape& shape, DType dtype) {
  const std::size_t bytes = shape.numel() * dtype_size(dtype);
  if (bytes > capacity_bytes_ || heap_.shared()) allocate(bytes);
  shape_ = shape;
  dtype_ = dtype;
}

void Tensor::copy_from(const Tensor& src) {
  if (&src == this) return;
  resize(src.shape_, src.dtype_);
  std::memcpy(storage(), src.storage(), nbytes());
}

namespace {

template <class T>
void print_rec(std::ostream& os, const T* p, const Shape& s, int dim, std::size_t offset, std::size_t stride,
               int indent, bool summarize) {
  const std::size_t n = s[dim];
  const std::size_t inner = stride / (n ? n : 1);
  os << '[';
  constexpr std::size_t edge = 3;
  for (std::size_t i = 0; i < n; ++i) {
    if (summarize && n > 2 * edge && i == edge) {
      os << "...";
      i = n - edge - 1;
      os << (dim + 1 == s.rank() ? ", " : ",\n" + std::string(static_cast<std::size_t>(indent + 1), ' '));
      continue;
    }
    if (dim + 1 == s.rank()) {
      os << static_cast<double>(p[offset + i]);
    } else {
      print_rec(os, p, s, dim + 1, offset + i * inner, inner, indent + 1, summarize);
    }
    if (i + 1 < n) {
      if (dim + 1 == s.rank())
        os << ", ";
      else
        os << ",\n" << std::string(static_cast<std::size_t>(indent + 1), ' ');
    }
  }
  os << ']';
}

}  // namespace

std::string Tensor::str() const {
  std::ostringstream os;
  os << std::setprecision(dtype_ == DType::f32 ? 7 : 10);
  dispatch_dtype(dtype_, [&](auto z) {
    using T = decltype(z);
    const T* p = data<T>();
    if (rank() == 0) {
      os << static_cast<double>(p[0]);
    } else {
      print_rec(os, p, shape_, 0, 0, numel(), 0, numel() > 1000);
    }
  });
  os << " (" << dtype_name(dtype_) << ", shape " << shape_.str() << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

void check_same_dtype(const Tensor& a, const Tensor& b, const char* what) {
  if (a.dtype() != b.dtype())
    throw DTypeError(std::string(what) + ": dtype mismatch: " + dtype_name(a.dtype()) + " and " +
                     dtype_name(b.dtype()));
}

}  // namespace jetgrad
