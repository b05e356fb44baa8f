#include "autodiff/shape.hpp"

#include <catch2/catch.hpp>

#include "autodiff/errors.hpp"

using namespace jetgrad;
using Catch::Contains;

TEST_CASE("Shape basics", "[shape]") {
  Shape s{2, 3, 4};
  CHECK(s.rank() == 3);
  CHECK(s.numel() == 24);
  CHECK(s[1] == 3);
  CHECK(s.str() == "(2, 3, 4)");
  CHECK(Shape{}.str() == "()");
  CHECK(Shape{}.numel() == 1);
  CHECK(Shape{}.rank() == 0);
  CHECK(Shape{4}.str() == "(4,)");
  CHECK(Shape{0, 3}.numel() == 0);
  CHECK(s.to_vector() == std::vector<std::size_t>{2, 3, 4});
  CHECK(Shape(std::vector<std::size_t>{5, 6}) == Shape{5, 6});
  CHECK_FALSE(Shape{5, 6} == Shape{6, 5});
  CHECK_FALSE(Shape{5} == Shape{5, 1});
  s[1] = 7;
  CHECK(s == Shape{2, 7, 4});
  Shape p;
  p.push_back(3);
  p.push_back(1);
  CHECK(p == Shape{3, 1});
  std::size_t total = 1;
  for (std::size_t d : Shape{2, 5}) total *= d;
  CHECK(total == 10);
}

TEST_CASE("Shape rank above 8 throws ShapeError", "[shape]") {
  CHECK_NOTHROW(Shape{1, 2, 3, 4, 5, 6, 7, 8});
  CHECK_THROWS_AS((Shape{1, 2, 3, 4, 5, 6, 7, 8, 9}), ShapeError);
  CHECK_THROWS_AS(Shape(std::vector<std::size_t>(9, 1)), ShapeError);
  Shape s{1, 2, 3, 4, 5, 6, 7, 8};
  CHECK_THROWS_WITH(s.push_back(1), Contains("rank 9") && Contains("8"));
}

TEST_CASE("broadcast_shapes follows NumPy", "[shape]") {
  struct Case {
    Shape a, b, out;
  };
  const Case cases[] = {
      {{3, 1}, {1, 4}, {3, 4}},
      {{5}, {2, 5}, {2, 5}},
      {{}, {2, 3}, {2, 3}},
      {{2, 3}, {}, {2, 3}},
      {{}, {}, {}},
      {{4, 1, 3}, {5, 1}, {4, 5, 3}},
      {{0}, {1}, {0}},
      {{2, 0}, {1, 1}, {2, 0}},
      {{1}, {7}, {7}},
      {{8, 1, 6, 1}, {7, 1, 5}, {8, 7, 6, 5}},
  };
  for (const auto& c : cases) {
    INFO(c.a.str() << " x " << c.b.str());
    CHECK(broadcast_shapes(c.a, c.b) == c.out);
    CHECK(broadcast_shapes(c.b, c.a) == c.out);
  }
}

TEST_CASE("broadcast_shapes errors name both shapes and the operation", "[shape]") {
  CHECK_THROWS_AS(broadcast_shapes(Shape{2, 3}, Shape{4}, "add"), ShapeError);
  CHECK_THROWS_WITH(broadcast_shapes(Shape{2, 3}, Shape{4}, "add"),
                    "add: cannot broadcast shapes (2, 3) and (4,)");
  CHECK_THROWS_WITH(broadcast_shapes(Shape{0}, Shape{2}, "mul"),
                    Contains("mul") && Contains("(0,)") && Contains("(2,)"));
  CHECK_THROWS_AS(broadcast_shapes(Shape{3, 2}, Shape{2, 2}), ShapeError);
}

TEST_CASE("normalize_axis", "[shape]") {
  CHECK(normalize_axis(0, 3) == 0);
  CHECK(normalize_axis(2, 3) == 2);
  CHECK(normalize_axis(-1, 3) == 2);
  CHECK(normalize_axis(-3, 3) == 0);
  CHECK_THROWS_AS(normalize_axis(3, 3), ShapeError);
  CHECK_THROWS_AS(normalize_axis(-4, 3), ShapeError);
  CHECK_THROWS_AS(normalize_axis(0, 0), ShapeError);
  CHECK_THROWS_WITH(normalize_axis(5, 2, "sum"), Contains("sum") && Contains("axis 5") && Contains("rank 2"));
}

TEST_CASE("reduced_shape", "[shape]") {
  const Shape s{2, 3, 4};
  CHECK(reduced_shape(s, 0, false) == Shape{3, 4});
  CHECK(reduced_shape(s, 1, false) == Shape{2, 4});
  CHECK(reduced_shape(s, -1, false) == Shape{2, 3});
  CHECK(reduced_shape(s, 1, true) == Shape{2, 1, 4});
  CHECK(reduced_shape(Shape{5}, 0, false) == Shape{});
  CHECK(reduced_shape(Shape{5}, 0, true) == Shape{1});
  CHECK_THROWS_AS(reduced_shape(s, 3, false), ShapeError);
}
