// StableVector: a growable array whose elements never move. Internal.
//
// The tape appends entries while rules hold references to earlier ones (a reverse sweep that
// records onto its own tape), so growth must not relocate anything. Elements live in fixed
// chunks; clear() destroys them but keeps the chunks for the next recording.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace jetgrad::detail {

template <class T>
class StableVector {
 public:
  static constexpr std::size_t chunk_bits = 9;
  static constexpr std::size_t chunk_size = std::size_t{1} << chunk_bits;

  StableVector() = default;
  StableVector(const StableVector&) = delete;
  StableVector& operator=(const StableVector&) = delete;
  ~StableVector() { clear(); }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](std::size_t i) { return slot(i); }
  const T& operator[](std::size_t i) const { return const_cast<StableVector*>(this)->slot(i); }
  T& back() { return slot(size_ - 1); }

  template <class... Args>
  T& emplace_back(Args&&... args) {
    if ((size_ >> chunk_bits) == chunks_.size()) chunks_.push_back(std::make_unique<Storage[]>(chunk_size));
    T* p = ::new (static_cast<void*>(&chunks_[size_ >> chunk_bits][size_ & (chunk_size - 1)])) T(std::forward<Args>(args)...);
    ++size_;
    return *p;
  }
  void push_back(T&& value) { emplace_back(std::move(value)); }

  void clear() {
    for (std::size_t i = size_; i-- > 0;) slot(i).~T();
    size_ = 0;
  }

 private:
  struct alignas(T) Storage {
    std::byte bytes[sizeof(T)];
  };
  T& slot(std::size_t i) {
    return *std::launder(reinterpret_cast<T*>(&chunks_[i >> chunk_bits][i & (chunk_size - 1)]));
  }

  std::vector<std::unique_ptr<Storage[]>> chunks_;
  std::size_t size_ = 0;
};

}  // namespace jetgrad::detail
