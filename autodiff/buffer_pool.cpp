#include "autodiff/buffer_pool.hpp"

#include <array>
#include <bit>
#include <cstdlib>
#include <new>
#include <vector>

namespace jetgrad::detail {

namespace {

constexpr std::size_t alignment = 64;
constexpr std::size_t max_cached_bytes = std::size_t{512} << 20;  // per thread
constexpr int steps_per_doubling = 4;
constexpr int num_classes = 64 * steps_per_doubling;

// Size classes, all multiples of 64 bytes: 64, 128, 192, 256, then four steps per power of two
// (320, 384, 448, 512, 640, ...), so a buffer is never more than 25 % larger than asked.
constexpr int small_classes = 4;
constexpr int first_exponent = 8;  // 256 bytes
int size_class(std::size_t bytes) {
  if (bytes <= small_classes * alignment) return bytes == 0 ? 0 : static_cast<int>((bytes - 1) / alignment);
  const int e = std::bit_width(bytes - 1) - 1;  // 2^e < bytes <= 2^(e+1)
  const std::size_t base = std::size_t{1} << e;
  const std::size_t step = base / steps_per_doubling;
  const auto k = static_cast<int>((bytes - base + step - 1) / step);  // 1..4
  return small_classes + (e - first_exponent) * steps_per_doubling + (k - 1);
}
std::size_t class_bytes(int c) {
  if (c < small_classes) return static_cast<std::size_t>(c + 1) * alignment;
  const int e = (c - small_classes) / steps_per_doubling + first_exponent;
  const int k = (c - small_classes) % steps_per_doubling + 1;
  const std::size_t base = std::size_t{1} << e;
  return base + static_cast<std::size_t>(k) * (base / steps_per_doubling);
}

// Set when the calling thread's cache has been destroyed (trivially destructible, so it can still
// be read by buffers freed later: a Tensor in static storage outlives the main thread's cache).
thread_local bool cache_destroyed = false;

struct Cache {
  std::array<std::vector<std::byte*>, num_classes> free_lists;
  BufferPoolStats stats;
  ~Cache() {
    cache_destroyed = true;
    for (auto& list : free_lists)
      for (std::byte* p : list) std::free(p);
  }
};

Cache& cache() {
  thread_local Cache c;
  return c;
}

}  // namespace

std::byte* acquire_buffer(std::size_t& bytes) {
  const int c = size_class(bytes);
  bytes = class_bytes(c);
  if (cache_destroyed) {  // during static destruction: plain allocation
    void* p = std::aligned_alloc(alignment, bytes);
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<std::byte*>(p);
  }
  Cache& cc = cache();
  auto& list = cc.free_lists[static_cast<std::size_t>(c)];
  if (!list.empty()) {
    std::byte* p = list.back();
    list.pop_back();
    cc.stats.cached_bytes -= bytes;
    ++cc.stats.reuses;
    return p;
  }
  void* p = std::aligned_alloc(alignment, bytes);  // class sizes are multiples of 64
  if (p == nullptr) throw std::bad_alloc();
  ++cc.stats.fresh_allocations;
  return static_cast<std::byte*>(p);
}

void release_buffer(std::byte* p, std::size_t bytes) noexcept {
  if (p == nullptr) return;
  if (cache_destroyed) {
    std::free(p);
    return;
  }
  Cache& cc = cache();
  auto& list = cc.free_lists[static_cast<std::size_t>(size_class(bytes))];
  if (cc.stats.cached_bytes + bytes > max_cached_bytes) {
    std::free(p);
    return;
  }
  try {
    list.push_back(p);
  } catch (...) {  // the free list itself could not grow: give the buffer back instead
    std::free(p);
    return;
  }
  cc.stats.cached_bytes += bytes;
}

BufferPoolStats buffer_pool_stats() { return cache().stats; }

}  // namespace jetgrad::detail
