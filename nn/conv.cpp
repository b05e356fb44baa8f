#include "nn/conv.hpp"

#include <cmath>
#include <limits>
#include <sstream>

namespace jetgrad::nn {

namespace {

// x must be (N, C, H, W) with C = channels (channels 0: any).
void check_nchw(const std::string& layer, const Var& x, std::size_t channels) {
  if (!x.attached()) throw TapeError(layer + ": the input is not attached to a tape");
  const Shape& s = x.shape();
  const std::string expected =
      "(N, " + (channels == 0 ? std::string("C") : std::to_string(channels)) + ", H, W)";
  if (s.rank() != 4) {
    throw ShapeError(layer + ": expects an input of shape " + expected + ", got " + s.str() + " (rank " +
                     std::to_string(s.rank()) + ")");
  }
  if (channels != 0 && s[1] != channels) {
    throw ShapeError(layer + ": expects an input of shape " + expected + " (" + std::to_string(channels) +
                     " channels), got " + s.str() + " with " + std::to_string(s[1]) + " channels");
  }
}

// Zero padding of the last two axes of x (N, C, H, W) through unslice (linear, every sweep).
Var pad_hw(const Var& x, Size2 padding) {
  Var y = x;
  const Shape& s = x.shape();
  const std::size_t N = s[0], C = s[1], H = s[2], W = s[3];
  const std::size_t Hp = H + 2 * padding.h, Wp = W + 2 * padding.w;
  if (padding.h > 0) {
    const auto ph = static_cast<std::ptrdiff_t>(padding.h);
    y = unslice(y, Shape{N, C, Hp, W}, 2, ph, ph + static_cast<std::ptrdiff_t>(H));
  }
  if (padding.w > 0) {
    const auto pw = static_cast<std::ptrdiff_t>(padding.w);
    y = unslice(y, Shape{N, C, Hp, Wp}, 3, pw, pw + static_cast<std::ptrdiff_t>(W));
  }
  return y;
}

void check_positive(const std::string& layer, const char* what, Size2 v) {
  if (v.h == 0 || v.w == 0) throw ValueError(layer + ": " + what + " must be positive, got " + v.str());
}

}  // namespace

std::string Size2::str() const { return std::to_string(h) + "x" + std::to_string(w); }

WindowTable make_window_table(const std::string& layer, std::size_t H, std::size_t W, Size2 kernel,
                              Size2 stride, Size2 padding, Size2 dilation) {
  WindowTable t;
  t.H = H;
  t.W = W;
  t.Hp = H + 2 * padding.h;
  t.Wp = W + 2 * padding.w;
  const std::size_t ekh = dilation.h * (kernel.h - 1) + 1, ekw = dilation.w * (kernel.w - 1) + 1;
  if (t.Hp < ekh || t.Wp < ekw) {
    throw ShapeError(layer + ": the input's spatial size " + std::to_string(H) + "x" + std::to_string(W) +
                     " (padded " + std::to_string(t.Hp) + "x" + std::to_string(t.Wp) +
                     ") is smaller than the kernel's extent " + std::to_string(ekh) + "x" +
                     std::to_string(ekw));
  }
  t.OH = (t.Hp - ekh) / stride.h + 1;
  t.OW = (t.Wp - ekw) / stride.w + 1;
  const std::size_t L = t.OH * t.OW;
  t.index.resize(kernel.h * kernel.w * L);
  std::size_t* out = t.index.data();
  for (std::size_t i = 0; i < kernel.h; ++i)
    for (std::size_t j = 0; j < kernel.w; ++j)
      for (std::size_t oh = 0; oh < t.OH; ++oh) {
        const std::size_t row = (oh * stride.h + i * dilation.h) * t.Wp;
        for (std::size_t ow = 0; ow < t.OW; ++ow) *out++ = row + ow * stride.w + j * dilation.w;
      }
  return t;
}

// ---- Conv2d ------------------------------------------------------------------------------------

Conv2d::Conv2d(std::size_t in_channels, std::size_t out_channels, Size2 kernel, Generator& gen,
               const Conv2dOptions& options)
    : in_(in_channels), out_(out_channels), kernel_(kernel), opt_(options) {
  if (in_ == 0 || out_ == 0)
    throw ValueError("Conv2d: channel counts must be positive, got " + std::to_string(in_) + " -> " +
                     std::to_string(out_));
  check_positive("Conv2d", "kernel", kernel_);
  check_positive("Conv2d", "stride", opt_.stride);
  check_positive("Conv2d", "dilation", opt_.dilation);
  // Kaiming-uniform with a = √5: gain √(2 / (1 + a²)) = √(1/3), bound = gain √3 / √fan_in = 1 / √fan_in.
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_ * kernel_.h * kernel_.w));
  weight_ = &register_parameter(
      "weight", uniform(Shape{out_, in_, kernel_.h, kernel_.w}, -bound, bound, gen, opt_.dtype));
  if (opt_.bias) bias_ = &register_parameter("bias", uniform(Shape{out_}, -bound, bound, gen, opt_.dtype));
}

std::string Conv2d::describe() const {
  std::ostringstream os;
  os << "Conv2d(" << in_ << ", " << out_ << ", kernel " << kernel_.str();
  if (!(opt_.stride == Size2(1))) os << ", stride " << opt_.stride.str();
  if (!(opt_.padding == Size2(0))) os << ", padding " << opt_.padding.str();
  if (!(opt_.dilation == Size2(1))) os << ", dilation " << opt_.dilation.str();
  if (!opt_.bias) os << ", bias=false";
  os << ")";
  return os.str();
}

std::shared_ptr<const WindowTable> Conv2d::table_for(std::size_t H, std::size_t W) {
  std::lock_guard lock(cache_mutex_);
  if (!cache_ || cache_->H != H || cache_->W != W) {
    cache_ = std::make_shared<const WindowTable>(
        make_window_table(describe(), H, W, kernel_, opt_.stride, opt_.padding, opt_.dilation));
  }
  return cache_;
}

Var Conv2d::forward(const Var& x) {
  check_nchw(describe(), x, in_);
  if (x.dtype() != weight_->value.dtype()) {
    throw DTypeError(describe() + ": the input is " + dtype_name(x.dtype()) + ", the weights are " +
                     dtype_name(weight_->value.dtype()));
  }
  const Shape& s = x.shape();
  const std::size_t N = s[0];
  const auto table = table_for(s[2], s[3]);
  const std::size_t L = table->OH * table->OW, K = in_ * kernel_.h * kernel_.w;
  Tape& tape = *x.tape();

  // im2col: one gather of every kernel tap of every output pixel from the flattened padded image;
  // its (C, kh, kw, L) layout is already the (C·kh·kw, L) column matrix of each image.
  Var flat = reshape(pad_hw(x, opt_.padding), Shape{N, in_, table->Hp * table->Wp});
  Var cols = reshape(gather(flat, table->index, 2), Shape{N, K, L});
  // One batched GEMM: (out, C·kh·kw) x (N, C·kh·kw, L) -> (N, out, L).
  Var y = matmul(reshape(weight_->var(tape), Shape{out_, K}), cols);
  if (bias_ != nullptr) y = y + reshape(bias_->var(tape), Shape{out_, 1});
  return reshape(y, Shape{N, out_, table->OH, table->OW});
}

// ---- pooling -----------------------------------------------------------------------------------

Pool2dBase::Pool2dBase(std::string kind, Size2 kernel, const Pool2dOptions& options)
    : kind_(std::move(kind)), kernel_(kernel), opt_(options) {
  check_positive(kind_, "kernel", kernel_);
  if (opt_.stride.h == 0) opt_.stride.h = kernel_.h;
  if (opt_.stride.w == 0) opt_.stride.w = kernel_.w;
  if (2 * opt_.padding.h > kernel_.h || 2 * opt_.padding.w > kernel_.w) {
    throw ValueError(kind_ + ": padding " + opt_.padding.str() + " must be at most half the kernel " +
                     kernel_.str());
  }
}

std::string Pool2dBase::describe_base() const {
  std::ostringstream os;
  os << kind_ << "(kernel " << kernel_.str() << ", stride " << opt_.stride.str();
  if (!(opt_.padding == Size2(0))) os << ", padding " << opt_.padding.str();
  os << ")";
  return os.str();
}

std::shared_ptr<const Pool2dBase::Tables> Pool2dBase::tables_for(std::size_t H, std::size_t W, DType dtype) {
  std::lock_guard lock(cache_mutex_);
  if (cache_ && cache_->table.H == H && cache_->table.W == W && cache_->dtype == dtype) return cache_;
  auto t = std::make_shared<Tables>();
  t->table = make_window_table(describe(), H, W, kernel_, opt_.stride, opt_.padding, Size2(1));
  t->dtype = dtype;
  const WindowTable& wt = t->table;
  Tensor inside(DType::f64, Shape{wt.Hp * wt.Wp});  // 1 inside the input, 0 on the padding
  for (std::size_t r = opt_.padding.h; r < opt_.padding.h + H; ++r)
    for (std::size_t c = opt_.padding.w; c < opt_.padding.w + W; ++c) inside.set(r * wt.Wp + c, 1.0);
  const double lowest = dtype == DType::f32 ? static_cast<double>(std::numeric_limits<float>::lowest())
                                            : std::numeric_limits<double>::lowest();
  t->pad_fill = Tensor(DType::f64, inside.shape());
  for (std::size_t i = 0; i < inside.numel(); ++i) t->pad_fill.set(i, inside.at(i) == 0.0 ? lowest : 0.0);
  t->pad_fill = t->pad_fill.to(dtype);
  const std::size_t kk = kernel_.h * kernel_.w, L = wt.OH * wt.OW;
  t->divisor = Tensor(DType::f64, Shape{L});
  for (std::size_t k = 0; k < kk; ++k)
    for (std::size_t l = 0; l < L; ++l) t->divisor.set(l, t->divisor.at(l) + inside.at(wt.index[k * L + l]));
  t->divisor = t->divisor.to(dtype);
  cache_ = std::move(t);
  return cache_;
}

Var Pool2dBase::windows(const Var& x, bool lowest_padding, std::shared_ptr<const Tables>* tables) {
  check_nchw(describe(), x, 0);
  const Shape& s = x.shape();
  const std::size_t N = s[0], C = s[1];
  *tables = tables_for(s[2], s[3], x.dtype());
  const WindowTable& wt = (*tables)->table;
  Var flat = reshape(pad_hw(x, opt_.padding), Shape{N, C, wt.Hp * wt.Wp});
  if (lowest_padding && !(opt_.padding == Size2(0))) flat = flat + (*tables)->pad_fill;
  return reshape(gather(flat, wt.index, 2), Shape{N, C, kernel_.h * kernel_.w, wt.OH * wt.OW});
}

MaxPool2d::MaxPool2d(Size2 kernel, const Pool2dOptions& options) : Pool2dBase("MaxPool2d", kernel, options) {}

Var MaxPool2d::forward(const Var& x) {
  std::shared_ptr<const Tables> t;
  Var w = windows(x, /*lowest_padding=*/true, &t);
  const Shape& s = x.shape();
  return reshape(max(w, 2), Shape{s[0], s[1], t->table.OH, t->table.OW});
}

AvgPool2d::AvgPool2d(Size2 kernel, const Pool2dOptions& options) : Pool2dBase("AvgPool2d", kernel, options) {}

Var AvgPool2d::forward(const Var& x) {
  std::shared_ptr<const Tables> t;
  Var w = windows(x, /*lowest_padding=*/false, &t);
  const Shape& s = x.shape();
  const bool whole = opt_.count_include_pad || opt_.padding == Size2(0);
  Var y = whole ? mean(w, 2) : sum(w, 2) / t->divisor;
  return reshape(y, Shape{s[0], s[1], t->table.OH, t->table.OW});
}

// ---- Flatten -----------------------------------------------------------------------------------

std::string Flatten::describe() const {
  return "Flatten(start_dim=" + std::to_string(start_) + ", end_dim=" + std::to_string(end_) + ")";
}

Var Flatten::forward(const Var& x) {
  const Shape& s = x.shape();
  const int r = s.rank();
  if (r == 0) throw ShapeError(describe() + ": cannot flatten a scalar (shape ())");
  const auto bad = [&] {
    return ShapeError(describe() + ": dims out of range for an input of shape " + s.str() + " (rank " +
                      std::to_string(r) + ")");
  };
  const int a = start_ < 0 ? start_ + r : start_, b = end_ < 0 ? end_ + r : end_;
  if (a < 0 || a >= r || b < 0 || b >= r) throw bad();
  if (a > b)
    throw ShapeError(describe() + ": start_dim comes after end_dim for an input of shape " + s.str());
  Shape out;
  for (int i = 0; i < a; ++i) out.push_back(s[i]);
  std::size_t merged = 1;
  for (int i = a; i <= b; ++i) merged *= s[i];
  out.push_back(merged);
  for (int i = b + 1; i < r; ++i) out.push_back(s[i]);
  return reshape(x, out);
}

}  // namespace jetgrad::nn
