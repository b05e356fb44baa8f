// Shape: the extents of a tensor, stored inline (no heap allocation), rank at most Shape::max_rank.
#pragma once

#include <array>
#include <cstddef>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

namespace jetgrad {

class Shape {
 public:
  static constexpr int max_rank = 8;

  Shape() = default;  // rank 0: a scalar
  Shape(std::initializer_list<std::size_t> dims);
  explicit Shape(std::span<const std::size_t> dims);
  explicit Shape(const std::vector<std::size_t>& dims) : Shape(std::span<const std::size_t>(dims)) {}

  int rank() const { return rank_; }
  std::size_t operator[](int i) const { return dims_[static_cast<std::size_t>(i)]; }
  std::size_t& operator[](int i) { return dims_[static_cast<std::size_t>(i)]; }
  std::size_t numel() const;

  const std::size_t* begin() const { return dims_.data(); }
  const std::size_t* end() const { return dims_.data() + rank_; }
  std::vector<std::size_t> to_vector() const { return {begin(), end()}; }

  void push_back(std::size_t d);
  bool operator==(const Shape& other) const;

  std::string str() const;  // "(2, 3)", "()" for a scalar

 private:
  std::array<std::size_t, max_rank> dims_{};
  int rank_ = 0;
};

// NumPy broadcasting of two shapes; throws ShapeError naming both (and `what`, the operation).
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* what = "broadcast");

// Maps a possibly negative axis into [0, rank); throws ShapeError otherwise.
int normalize_axis(int axis, int rank, const char* what = "axis");

// The shape after reducing `axis` (or every axis when axis is std::nullopt-like -1 with all=true).
Shape reduced_shape(const Shape& s, int axis, bool keepdims);

}  // namespace jetgrad
