// Shape: inline extents, NumPy broadcasting and axis helpers.
#include "autodiff/shape.hpp"

#include <algorithm>
#include <string>

#include "autodiff/errors.hpp"

namespace jetgrad {

namespace {
std::string rank_error(std::size_t rank) {
  return "Shape: rank " + std::to_string(rank) + " exceeds the maximum rank " +
         std::to_string(Shape::max_rank);
}
}  // namespace

Shape::Shape(std::initializer_list<std::size_t> dims)
    : Shape(std::span<const std::size_t>(dims.begin(), dims.size())) {}

Shape::Shape(std::span<const std::size_t> dims) {
  if (dims.size() > static_cast<std::size_t>(max_rank)) throw ShapeError(rank_error(dims.size()));
  std::copy(dims.begin(), dims.end(), dims_.begin());
  rank_ = static_cast<int>(dims.size());
}

std::size_t Shape::numel() const {
  std::size_t n = 1;
  for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<std::size_t>(i)];
  return n;
}

void Shape::push_back(std::size_t d) {
  if (rank_ >= max_rank) throw ShapeError(rank_error(static_cast<std::size_t>(rank_) + 1));
  dims_[static_cast<std::size_t>(rank_++)] = d;
}

bool Shape::operator==(const Shape& other) const {
  return rank_ == other.rank_ && std::equal(begin(), end(), other.begin());
}

std::string Shape::str() const {
  std::string s = "(";
  for (int i = 0; i < rank_; ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(dims_[static_cast<std::size_t>(i)]);
  }
  if (rank_ == 1) s += ",";  // a one-element tuple, as NumPy prints it: "(4,)"
  return s + ")";
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* what) {
  const int rank = std::max(a.rank(), b.rank());
  Shape out;
  for (int i = 0; i < rank; ++i) {
    // Align trailing axes; a missing leading axis counts as extent 1.
    const int ia = i - (rank - a.rank());
    const int ib = i - (rank - b.rank());
    const std::size_t da = ia >= 0 ? a[ia] : 1;
    const std::size_t db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1)
      throw ShapeError(std::string(what) + ": cannot broadcast shapes " + a.str() + " and " + b.str());
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

int normalize_axis(int axis, int rank, const char* what) {
  const int a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    throw ShapeError(std::string(what) + ": axis " + std::to_string(axis) + " is out of range for rank " +
                     std::to_string(rank) + " (expected " + std::to_string(-rank) + " to " +
                     std::to_string(rank - 1) + ")");
  return a;
}

Shape reduced_shape(const Shape& s, int axis, bool keepdims) {
  const int ax = normalize_axis(axis, s.rank(), "reduce");
  Shape out;
  for (int i = 0; i < s.rank(); ++i) {
    if (i != ax)
      out.push_back(s[i]);
    else if (keepdims)
      out.push_back(1);
  }
  return out;
}

}  // namespace jetgrad
