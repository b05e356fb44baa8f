#include "nn/data.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include <zlib.h>

// Where the shipped data lives (nn/CMakeLists.txt defines both for this file): the source tree's
// data/ and the installed copy. Empty when built some other way; data_dir() then needs the
// environment variable.
#ifndef JETGRAD_DATA_DIR
#define JETGRAD_DATA_DIR ""
#endif
#ifndef JETGRAD_INSTALL_DATA_DIR
#define JETGRAD_INSTALL_DATA_DIR ""
#endif

namespace jetgrad::nn {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw Error(path + ": " + message);
}

std::string hex(std::uint32_t v, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*X", digits, v);
  return buf;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open for reading: ") + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail(path, "read error");
  return std::move(ss).str();
}

bool is_gzip(const std::string& bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

// Decompresses every gzip member of `in` (zlib checks each member's CRC-32 and length).
std::string gunzip(const std::string& path, const std::string& in) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) fail(path, "cannot initialize zlib");
  struct End {
    z_stream* s;
    ~End() { inflateEnd(s); }
  } end{&zs};

  // The last 4 bytes hold the uncompressed size mod 2^32: a good first guess for the buffer. They
  // are not trusted: deflate expands at most ~1032:1, so a damaged trailer can not ask for more.
  std::size_t guess = in.size() * 2;
  if (in.size() >= 4) {
    std::uint32_t isize;
    std::memcpy(&isize, in.data() + in.size() - 4, 4);
    if constexpr (std::endian::native == std::endian::big) isize = __builtin_bswap32(isize);
    guess = std::max<std::size_t>(guess, std::min<std::size_t>(isize, in.size() * 1032));
  }
  std::string out(std::min<std::size_t>(guess, std::size_t{1} << 30) + 1, '\0');
  std::size_t consumed = 0, produced = 0;
  for (;;) {
    if (produced == out.size()) out.resize(out.size() * 2);
    const std::size_t in_left = in.size() - consumed;
    const std::size_t out_left = out.size() - produced;
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + consumed));
    zs.avail_in = static_cast<uInt>(std::min<std::size_t>(in_left, UINT_MAX));
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(std::min<std::size_t>(out_left, UINT_MAX));
    const uInt avail_in = zs.avail_in, avail_out = zs.avail_out;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    consumed += avail_in - zs.avail_in;
    produced += avail_out - zs.avail_out;
    if (rc == Z_STREAM_END) {
      if (consumed == in.size()) break;
      const std::string rest = in.substr(consumed, 2);
      if (!is_gzip(rest)) {
        fail(path, "corrupted gzip file: " + std::to_string(in.size() - consumed) +
                       " unexpected bytes after the end of the compressed stream");
      }
      inflateReset(&zs);  // another gzip member follows (concatenated .gz files)
      continue;
    }
    if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_STREAM_ERROR) {
      fail(path, std::string("corrupted gzip data: ") +
                     (zs.msg != nullptr ? zs.msg : "invalid compressed data") + " (after " +
                     std::to_string(consumed) + " of " + std::to_string(in.size()) + " compressed bytes)");
    }
    if (rc == Z_MEM_ERROR) fail(path, "out of memory while decompressing");
    // Z_OK or Z_BUF_ERROR: more output room, or more input wanted.
    if (consumed == in.size() && zs.avail_out > 0) {
      fail(path, "truncated gzip file: the compressed stream ends early, after " + std::to_string(in.size()) +
                     " compressed bytes (" + std::to_string(produced) + " bytes decompressed)");
    }
  }
  out.resize(produced);
  return out;
}

// The file's bytes, decompressed when it is gzip.
std::string load_bytes(const std::string& path, bool& compressed) {
  std::string bytes = read_file(path);
  compressed = is_gzip(bytes);
  return compressed ? gunzip(path, bytes) : bytes;
}

struct IdxType {
  std::uint8_t code;
  const char* name;
  std::size_t size;
};
constexpr IdxType idx_types[] = {{0x08, "unsigned byte", 1},  {0x09, "signed byte", 1},
                                 {0x0B, "16-bit integer", 2}, {0x0C, "32-bit integer", 4},
                                 {0x0D, "float32", 4},        {0x0E, "float64", 8}};

// A parsed IDX header over the decompressed bytes, with every size checked.
struct Idx {
  std::uint32_t magic = 0;
  IdxType type{};
  std::vector<std::size_t> dims;
  std::size_t numel = 0;
  const unsigned char* data = nullptr;
};

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

Idx parse_idx(const std::string& path, const std::string& bytes, bool compressed) {
  const std::string after = compressed ? " (after gzip decompression)" : "";
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 4) {
    fail(path, "truncated file: expected at least 4 bytes for the IDX magic number, found " +
                   std::to_string(bytes.size()) + after);
  }
  Idx idx;
  idx.magic = be32(p);
  if (p[0] != 0 || p[1] != 0) {
    fail(path, "not an IDX file: magic number " + hex(idx.magic, 8) +
                   ", expected 0x0000TTDD (two zero bytes, the type byte TT, the dimension count DD)");
  }
  const IdxType* type = std::find_if(std::begin(idx_types), std::end(idx_types),
                                     [&](const IdxType& t) { return t.code == p[2]; });
  if (type == std::end(idx_types)) {
    fail(path, "unknown IDX element type byte " + hex(p[2], 2) + " in magic number " + hex(idx.magic, 8) +
                   " (expected 0x08, 0x09, 0x0B, 0x0C, 0x0D or 0x0E)");
  }
  idx.type = *type;
  const int rank = p[3];
  if (rank < 1 || rank > Shape::max_rank) {
    fail(path, "IDX dimension count " + std::to_string(rank) + " in magic number " + hex(idx.magic, 8) +
                   " is not supported (expected 1 to " + std::to_string(Shape::max_rank) + ")");
  }
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(rank);
  if (bytes.size() < header) {
    fail(path, "truncated file: expected " + std::to_string(header) +
                   " bytes for the header (magic number and " + std::to_string(rank) +
                   " dimensions), found " + std::to_string(bytes.size()) + after);
  }
  // numel * element size, overflow-checked (a corrupt dimension must not wrap around).
  std::size_t numel = 1;
  bool overflow = false;
  std::string dims_text;
  for (int i = 0; i < rank; ++i) {
    const std::size_t d = be32(p + 4 + 4 * i);
    idx.dims.push_back(d);
    dims_text += (i ? " x " : "") + std::to_string(d);
    if (d != 0 && numel > SIZE_MAX / 16 / d) overflow = true;
    numel *= d;
  }
  if (overflow) fail(path, "corrupted IDX header: impossible dimensions " + dims_text);
  idx.numel = numel;
  const std::size_t expected = header + numel * idx.type.size;
  const std::string layout = " (a " + std::to_string(header) + "-byte header + " + dims_text +
                             " elements of " + std::to_string(idx.type.size) + " byte" +
                             (idx.type.size > 1 ? "s" : "") + ")";
  if (bytes.size() < expected) {
    fail(path, "truncated file: expected " + std::to_string(expected) + " bytes" + layout + ", found " +
                   std::to_string(bytes.size()) + after);
  }
  if (bytes.size() > expected) {
    fail(path, std::to_string(bytes.size() - expected) + " unexpected bytes after the data: expected " +
                   std::to_string(expected) + " bytes" + layout + ", found " + std::to_string(bytes.size()) +
                   after);
  }
  idx.data = p + header;
  return idx;
}

template <class U>
U load_be(const unsigned char* p) {
  U v;
  std::memcpy(&v, p, sizeof(U));
  if constexpr (std::endian::native == std::endian::little && sizeof(U) > 1) {
    if constexpr (sizeof(U) == 2) v = __builtin_bswap16(v);
    if constexpr (sizeof(U) == 4) v = __builtin_bswap32(v);
    if constexpr (sizeof(U) == 8) v = __builtin_bswap64(v);
  }
  return v;
}

template <class Out>
void convert(const Idx& idx, Out* out) {
  const unsigned char* p = idx.data;
  const std::size_t n = idx.numel;
  switch (idx.type.code) {
    case 0x08:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(p[i]);
      break;
    case 0x09:
      for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(static_cast<std::int8_t>(p[i]));
      break;
    case 0x0B:
      for (std::size_t i = 0; i < n; ++i)
        out[i] = static_cast<Out>(std::bit_cast<std::int16_t>(load_be<std::uint16_t>(p + 2 * i)));
      break;
    case 0x0C:
      for (std::size_t i = 0; i < n; ++i)
        out[i] = static_cast<Out>(std::bit_cast<std::int32_t>(load_be<std::uint32_t>(p + 4 * i)));
      break;
    case 0x0D:
      for (std::size_t i = 0; i < n; ++i)
        out[i] = static_cast<Out>(std::bit_cast<float>(load_be<std::uint32_t>(p + 4 * i)));
      break;
    default:  // 0x0E
      for (std::size_t i = 0; i < n; ++i)
        out[i] = static_cast<Out>(std::bit_cast<double>(load_be<std::uint64_t>(p + 8 * i)));
      break;
  }
}

Tensor to_tensor(const Idx& idx) {
  const DType dtype = (idx.type.code == 0x0C || idx.type.code == 0x0E) ? DType::f64 : DType::f32;
  Tensor t(dtype, Shape(idx.dims));
  dispatch_dtype(dtype, [&](auto zero) { convert(idx, t.data<decltype(zero)>()); });
  return t;
}

// Reads an IDX file that must have exactly `magic` (the specialised readers).
Idx read_idx_expecting(const std::string& path, std::string& bytes, std::uint32_t magic, const char* what) {
  bool compressed = false;
  bytes = load_bytes(path, compressed);
  if (bytes.size() >= 4) {
    const std::uint32_t got = be32(reinterpret_cast<const unsigned char*>(bytes.data()));
    if (got != magic) {
      std::string hint;
      if (got == 0x00000803) hint = "; this looks like an IDX image file";
      if (got == 0x00000801) hint = "; this looks like an IDX label file";
      fail(path,
           "wrong magic number " + hex(got, 8) + ", expected " + hex(magic, 8) + " (" + what + ")" + hint);
    }
  }
  return parse_idx(path, bytes, compressed);
}

bool is_file(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

}  // namespace

void Dataset::check() const {
  const std::string who = "data set '" + name + "'";
  if (inputs.rank() < 1) throw ValueError(who + ": inputs must have shape (N, ...), got a scalar");
  if (inputs.shape()[0] != labels.size()) {
    throw ValueError(who + ": inputs have " + std::to_string(inputs.shape()[0]) + " samples (shape " +
                     inputs.shape().str() + ") but there are " + std::to_string(labels.size()) + " labels");
  }
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= num_classes) {
      throw ValueError(who + ": label " + std::to_string(labels[i]) + " of sample " + std::to_string(i) +
                       " is out of range for " + std::to_string(num_classes) + " classes");
    }
  }
}

// ---- IDX ----------------------------------------------------------------------------------------------

Tensor read_idx(const std::string& path) {
  bool compressed = false;
  const std::string bytes = load_bytes(path, compressed);
  return to_tensor(parse_idx(path, bytes, compressed));
}

Tensor read_idx_images(const std::string& path) {
  std::string bytes;
  const Idx idx =
      read_idx_expecting(path, bytes, 0x00000803, "an IDX image file: unsigned bytes, 3 dimensions");
  return scale_bytes_to_unit(to_tensor(idx));
}

std::vector<std::size_t> read_idx_labels(const std::string& path, std::size_t num_classes) {
  std::string bytes;
  const Idx idx =
      read_idx_expecting(path, bytes, 0x00000801, "an IDX label file: unsigned bytes, 1 dimension");
  std::vector<std::size_t> labels(idx.data, idx.data + idx.numel);
  if (num_classes > 0) {
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (labels[i] >= num_classes) {
        fail(path, "label " + std::to_string(labels[i]) + " at index " + std::to_string(i) +
                       " is out of range: expected 0 to " + std::to_string(num_classes - 1) + " (" +
                       std::to_string(num_classes) + " classes)");
      }
    }
  }
  return labels;
}

Tensor scale_bytes_to_unit(const Tensor& raw) {
  Tensor out(raw.dtype(), raw.shape());
  dispatch_dtype(raw.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* in = raw.data<T>();
    T* o = out.data<T>();
    for (std::size_t i = 0, n = raw.numel(); i < n; ++i) o[i] = in[i] / T(255);
  });
  return out;
}

// ---- CSV ----------------------------------------------------------------------------------------------

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_cells(std::string_view line) {
  std::vector<std::string_view> cells;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    cells.push_back(
        trim(line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
    if (comma == std::string_view::npos) return cells;
    start = comma + 1;
  }
}

// A whole cell as a number (a leading '+' allowed); false if anything is left over.
bool parse_number(std::string_view cell, double& value) {
  if (!cell.empty() && cell.front() == '+') cell.remove_prefix(1);
  if (cell.empty()) return false;
  const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), value);
  return ec == std::errc() && end == cell.data() + cell.size();
}

}  // namespace

Dataset read_csv(const std::string& path, int label_column) {
  const std::string text = read_file(path);
  std::vector<std::string> header;
  std::size_t columns = 0, label_col = 0;
  std::vector<float> values;
  Dataset data;
  data.name = path;

  auto column_name = [&](std::size_t c) {
    std::string s = "column " + std::to_string(c + 1);
    if (c < header.size() && !header[c].empty()) s += " ('" + header[c] + "')";
    return s;
  };

  std::size_t line_no = 0, pos = 0;
  bool first = true;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    const std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (trim(line).empty()) continue;
    const std::vector<std::string_view> cells = split_cells(line);
    const std::string where = "line " + std::to_string(line_no) + ", ";

    if (first) {
      first = false;
      columns = cells.size();
      if (columns < 2) {
        fail(path, where + "found " + std::to_string(columns) +
                       " column; expected at least 2 (a label and an input)");
      }
      const long long lc = label_column < 0 ? static_cast<long long>(columns) + label_column : label_column;
      if (lc < 0 || lc >= static_cast<long long>(columns)) {
        throw ValueError(path + ": label column " + std::to_string(label_column) +
                         " is out of range: the file has " + std::to_string(columns) + " columns");
      }
      label_col = static_cast<std::size_t>(lc);
      double ignored;
      if (std::any_of(cells.begin(), cells.end(),
                      [&](std::string_view c) { return !parse_number(c, ignored); })) {
        for (std::string_view c : cells) {
          if (c.size() >= 2 && c.front() == '"' && c.back() == '"') c = c.substr(1, c.size() - 2);
          header.emplace_back(c);
        }
        continue;  // a header line
      }
    }
    if (cells.size() != columns) {
      fail(path, where + "found " + std::to_string(cells.size()) + " columns, expected " +
                     std::to_string(columns) + " (as on the first line)");
    }
    for (std::size_t c = 0; c < columns; ++c) {
      double v = 0.0;
      if (cells[c].empty()) fail(path, where + column_name(c) + ": empty cell, expected a number");
      if (!parse_number(cells[c], v)) {
        fail(path, where + column_name(c) + ": cannot read '" + std::string(cells[c]) + "' as a number");
      }
      if (!std::isfinite(v)) {
        fail(path, where + column_name(c) + ": '" + std::string(cells[c]) + "' is not a finite number");
      }
      if (c == label_col) {
        if (v < 0 || v != std::floor(v) || v > 9007199254740992.0) {
          fail(path, where + column_name(c) + ": expected a class label (a non-negative integer), found '" +
                         std::string(cells[c]) + "'");
        }
        data.labels.push_back(static_cast<std::size_t>(v));
        data.num_classes = std::max(data.num_classes, data.labels.back() + 1);
      } else {
        values.push_back(static_cast<float>(v));
      }
    }
  }
  if (data.labels.empty()) fail(path, "no data rows (the file is empty or holds only a header)");

  data.inputs = Tensor(DType::f32, Shape{data.labels.size(), columns - 1});
  std::copy(values.begin(), values.end(), data.inputs.data<float>());
  return data;
}

// ---- Fashion-MNIST and the embedded subset ------------------------------------------------------------

Dataset fashion_mnist(const std::string& dir, bool train) {
  const std::string split = train ? "train" : "t10k";
  auto find = [&](const std::string& stem) {
    const std::string base = dir + "/" + split + "-" + stem;
    if (is_file(base + ".gz")) return base + ".gz";
    if (is_file(base)) return base;
    fail(dir, "Fashion-MNIST file not found: neither '" + base + ".gz' nor '" + base + "' exists");
  };
  const std::string images_path = find("images-idx3-ubyte");
  const std::string labels_path = find("labels-idx1-ubyte");
  Dataset data;
  data.num_classes = 10;
  data.inputs = read_idx_images(images_path);
  data.labels = read_idx_labels(labels_path, data.num_classes);
  data.name = "fashion-mnist " + std::string(train ? "train" : "test") + " (" + dir + ")";
  if (data.inputs.shape()[0] != data.labels.size()) {
    fail(images_path, "holds " + std::to_string(data.inputs.shape()[0]) + " images but " + labels_path +
                          " holds " + std::to_string(data.labels.size()) +
                          " labels; expected the same count");
  }
  return data;
}

namespace {
constexpr const char* subset_name = "fashion-mnist-subset";
bool holds_subset(const std::string& dir) {
  return !dir.empty() && is_file(dir + "/" + subset_name + "/train-images-idx3-ubyte.gz");
}
}  // namespace

std::string data_dir() {
  if (const char* env = std::getenv("JETGRAD_DATA_DIR"); env != nullptr && *env != '\0') {
    if (!holds_subset(env)) {
      throw Error(std::string(env) +
                  ": the environment variable JETGRAD_DATA_DIR names this directory, but it holds no " +
                  subset_name + "/train-images-idx3-ubyte.gz (point it at the directory that contains " +
                  subset_name + "/, such as the source tree's data/)");
    }
    return env;
  }
  for (const char* dir : {JETGRAD_DATA_DIR, JETGRAD_INSTALL_DATA_DIR}) {
    if (holds_subset(dir)) return dir;
  }
  throw Error(
      std::string("jetgrad's data directory was not found: looked for ") + subset_name + "/ in '" +
      JETGRAD_DATA_DIR + "' (the source tree) and '" + JETGRAD_INSTALL_DATA_DIR +
      "' (the installed copy); set the environment variable JETGRAD_DATA_DIR to the directory holding " +
      subset_name + "/");
}

Dataset embedded_dataset(bool train) {
  Dataset data = fashion_mnist(data_dir() + "/" + subset_name, train);
  data.name = std::string(subset_name) + (train ? " train" : " test");
  return data;
}

// ---- loader -------------------------------------------------------------------------------------------

DataLoader::DataLoader(const Dataset& data, std::size_t batch_size, bool shuffle, Generator& gen,
                       bool drop_last)
    : data_(&data), batch_size_(batch_size), shuffle_(shuffle), gen_(&gen), drop_last_(drop_last) {
  data.check();
  if (batch_size == 0) throw ValueError("DataLoader: batch_size must be positive, got 0");
  sample_bytes_ = data.size() == 0 ? 0 : data.inputs.nbytes() / data.size();
  order_.resize(data.size());
  std::iota(order_.begin(), order_.end(), std::size_t{0});
}

std::size_t DataLoader::stop() const {
  const std::size_t n = order_.size();
  return drop_last_ ? n / batch_size_ * batch_size_ : n;
}

std::size_t DataLoader::num_batches() const {
  const std::size_t n = order_.size();
  return drop_last_ ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_;
}

DataLoader::iterator DataLoader::begin() {
  ++epoch_;
  if (shuffle_) {
    // Each epoch's permutation depends only on the generator's state: shuffle the identity.
    std::iota(order_.begin(), order_.end(), std::size_t{0});
    for (std::size_t i = order_.size(); i > 1; --i) {
      const std::size_t j = static_cast<std::size_t>(gen_->below(i));
      std::swap(order_[i - 1], order_[j]);
    }
  }
  return iterator(this, 0);
}

DataLoader::iterator DataLoader::end() const { return iterator(this, stop()); }

DataLoader::iterator::iterator(const DataLoader* loader, std::size_t position)
    : loader_(loader), position_(position) {
  load();
}

DataLoader::iterator& DataLoader::iterator::operator++() {
  position_ = std::min(position_ + loader_->batch_size_, loader_->stop());
  load();
  return *this;
}

void DataLoader::iterator::load() {
  const std::size_t stop = loader_->stop();
  if (position_ >= stop) {
    batch_ = Batch{};
    return;
  }
  const Dataset& data = *loader_->data_;
  const std::size_t count = std::min(loader_->batch_size_, stop - position_);
  Shape shape = data.inputs.shape();
  shape[0] = count;
  batch_.x.resize(shape, data.inputs.dtype());  // reuses the previous batch's buffer
  batch_.y.resize(count);
  const std::size_t row = loader_->sample_bytes_;
  const auto* src = static_cast<const std::byte*>(data.inputs.raw_data());
  auto* dst = static_cast<std::byte*>(batch_.x.raw_data());
  for (std::size_t k = 0; k < count; ++k) {
    const std::size_t i = loader_->order_[position_ + k];
    std::memcpy(dst + k * row, src + i * row, row);
    batch_.y[k] = data.labels[i];
  }
}

}  // namespace jetgrad::nn
