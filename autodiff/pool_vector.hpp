// PoolVector: a growable array of trivially copyable elements whose storage comes from the
// per-thread buffer cache (buffer_pool.hpp). Internal.
//
// The tape's flat arrays (the doubles of scalar code, the reverse sweep's adjoints) are sized by
// the tape and made afresh for every recording or sweep; from std::vector, glibc hands blocks of
// that size back to the kernel on free and the next sweep page-faults them in again (measured:
// a third of a 1000-variable scalar gradient). From the cache, they are reused.
#pragma once

#include <cstddef>
#include <cstring>
#include <type_traits>
#include <utility>

#include "autodiff/buffer_pool.hpp"

namespace jetgrad::detail {

template <class T>
class PoolVector {
  static_assert(std::is_trivially_copyable_v<T> && alignof(T) <= 64);

 public:
  PoolVector() = default;
  PoolVector(std::size_t n, T value) { assign(n, value); }
  PoolVector(const PoolVector&) = delete;
  PoolVector& operator=(const PoolVector&) = delete;
  PoolVector(PoolVector&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)),
        capacity_bytes_(std::exchange(other.capacity_bytes_, 0)) {}
  PoolVector& operator=(PoolVector&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(capacity_bytes_, other.capacity_bytes_);
    return *this;
  }
  ~PoolVector() {
    if (data_ != nullptr) release_buffer(reinterpret_cast<std::byte*>(data_), capacity_bytes_);
  }

  std::size_t size() const { return size_; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  T& operator[](std::size_t i) { return data_[i]; }
  const T& operator[](std::size_t i) const { return data_[i]; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }

  // Inline, with the growth out of line: recording scalar code appends per operation.
  [[gnu::always_inline]] void push_back(T value) {
    if ((size_ + 1) * sizeof(T) > capacity_bytes_) [[unlikely]]
      reserve(size_ < 64 ? 64 : 2 * size_);
    data_[size_++] = value;
  }
  void assign(std::size_t n, T value) {
    if (n * sizeof(T) > capacity_bytes_) reserve(n);
    size_ = n;
    for (std::size_t i = 0; i < n; ++i) data_[i] = value;
  }
  void clear() { size_ = 0; }

 private:
  [[gnu::noinline]] void reserve(std::size_t n) {
    std::size_t bytes = n * sizeof(T);
    T* fresh = reinterpret_cast<T*>(acquire_buffer(bytes));
    if (size_ > 0) std::memcpy(fresh, data_, size_ * sizeof(T));
    if (data_ != nullptr) release_buffer(reinterpret_cast<std::byte*>(data_), capacity_bytes_);
    data_ = fresh;
    capacity_bytes_ = bytes;
  }

  T* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_bytes_ = 0;
};

}  // namespace jetgrad::detail
