// StableVector: a growable array whose elements never move. Internal.
//
// The tape appends entries while rules hold references to earlier ones (a reverse sweep that
// records onto its own tape), so growth must not relocate anything. Elements live in fixed
// chunks; clear() destroys them but keeps the chunks for the next recording. Chunks come from the
// per-thread buffer cache, so recording a fresh tape every step does not churn the heap.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "autodiff/buffer_pool.hpp"

namespace jetgrad::detail {

template <class T>
class StableVector {
 public:
  static constexpr std::size_t chunk_bits = 9;
  static constexpr std::size_t chunk_size = std::size_t{1} << chunk_bits;

  StableVector() = default;
  StableVector(const StableVector&) = delete;
  StableVector& operator=(const StableVector&) = delete;
  ~StableVector() {
    clear();
    for (std::byte* c : chunks_) release_buffer(c, chunk_bytes_);
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](std::size_t i) { return slot(i); }
  const T& operator[](std::size_t i) const { return const_cast<StableVector*>(this)->slot(i); }
  T& back() { return slot(size_ - 1); }

  // Inline, with the new chunk out of line: recording scalar code appends an entry per operation.
  template <class... Args>
  [[gnu::always_inline]] T& emplace_back(Args&&... args) {
    if ((size_ >> chunk_bits) == chunks_.size()) [[unlikely]]
      add_chunk();
    T* p = ::new (static_cast<void*>(slot_address(size_))) T(std::forward<Args>(args)...);
    ++size_;
    return *p;
  }
  void push_back(T&& value) { emplace_back(std::move(value)); }

  // f(i, element) for i in [begin, end), ascending or descending: a pointer walk inside each
  // chunk, so that a sweep's loop does no chunk lookup per element. f may append (chunks stay).
  template <class F>
  [[gnu::always_inline]] void for_each(std::size_t begin, std::size_t end, F&& f) const {
    while (begin < end) {
      const std::size_t chunk_end = std::min(end, ((begin >> chunk_bits) + 1) << chunk_bits);
      const T* first = &(*this)[begin];
      for (std::size_t i = begin; i < chunk_end; ++i) f(i, first[i - begin]);
      begin = chunk_end;
    }
  }
  template <class F>
  [[gnu::always_inline]] void for_each_descending(std::size_t begin, std::size_t end, F&& f) const {
    while (end > begin) {
      const std::size_t chunk_begin = std::max(begin, ((end - 1) >> chunk_bits) << chunk_bits);
      const T* first = &(*this)[chunk_begin];
      for (std::size_t i = end; i-- > chunk_begin;) f(i, first[i - chunk_begin]);
      end = chunk_begin;
    }
  }

  void clear() {
    for (std::size_t i = size_; i-- > 0;) slot(i).~T();
    size_ = 0;
  }

 private:
  static_assert(alignof(T) <= 64, "chunks are 64-byte aligned");
  [[gnu::noinline]] void add_chunk() {
    std::size_t bytes = chunk_size * sizeof(T);
    chunks_.push_back(acquire_buffer(bytes));  // 64-byte aligned, enough for any T here
    chunk_bytes_ = bytes;
  }
  std::byte* slot_address(std::size_t i) {
    return chunks_[i >> chunk_bits] + (i & (chunk_size - 1)) * sizeof(T);
  }
  T& slot(std::size_t i) { return *std::launder(reinterpret_cast<T*>(slot_address(i))); }

  std::vector<std::byte*> chunks_;
  std::size_t chunk_bytes_ = 0;
  std::size_t size_ = 0;
};

}  // namespace jetgrad::detail
