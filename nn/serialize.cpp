#include "nn/serialize.hpp"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include <unistd.h>
#include <zlib.h>

namespace jetgrad::nn {

namespace {

constexpr char magic[8] = {'J', 'E', 'T', 'G', 'R', 'A', 'D', '\x01'};

template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

// Reads fixed-size fields from a byte string, with errors naming the file and the position.
class Reader {
 public:
  Reader(const std::string& path, const std::string& bytes) : path_(path), bytes_(bytes) {}
  template <class T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string get_bytes(std::size_t n, const char* what) {
    need(n, what);
    std::string s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::size_t pos() const { return pos_; }
  [[noreturn]] void fail(const std::string& message) const {
    throw Error(path_ + ": " + message + " (at byte " + std::to_string(pos_) + ")");
  }

 private:
  void need(std::size_t n, const char* what) const {
    if (bytes_.size() - pos_ < n) {
      throw Error(path_ + ": truncated file: expected " + std::to_string(n) + " more bytes for " + what +
                  " at byte " + std::to_string(pos_) + ", but the file has " + std::to_string(bytes_.size()) +
                  " bytes");
    }
  }
  const std::string& path_;
  const std::string& bytes_;
  std::size_t pos_ = 0;
};

std::uint32_t crc_of(const char* data, std::size_t n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (n > 0) {  // zlib takes uInt lengths
    const uInt chunk = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data), chunk);
    data += chunk;
    n -= chunk;
  }
  return static_cast<std::uint32_t>(crc);
}

}  // namespace

void write_file_atomically(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (f == nullptr) throw Error(path + ": cannot open '" + tmp + "' for writing: " + std::strerror(errno));
    const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() && std::fflush(f) == 0 &&
                    ::fsync(::fileno(f)) == 0;
    const int saved = errno;
    std::fclose(f);
    if (!ok) {
      std::remove(tmp.c_str());
      throw Error(path + ": writing '" + tmp + "' failed: " + std::strerror(saved));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    std::remove(tmp.c_str());
    throw Error(path + ": cannot rename the temporary file into place: " + std::strerror(saved));
  }
}

void save_tensors(const std::string& path, const NamedTensors& tensors) {
  std::string body;
  put<std::uint64_t>(body, tensors.size());
  for (const auto& [name, t] : tensors) {
    put<std::uint32_t>(body, static_cast<std::uint32_t>(name.size()));
    body += name;
    put<std::uint8_t>(body, t.dtype() == DType::f32 ? 0 : 1);
    put<std::uint8_t>(body, static_cast<std::uint8_t>(t.rank()));
    for (std::size_t d : t.shape()) put<std::uint64_t>(body, d);
    body.append(static_cast<const char*>(t.raw_data()), t.nbytes());
  }
  std::string file(magic, sizeof(magic));
  file += body;
  put<std::uint32_t>(file, crc_of(body.data(), body.size()));
  write_file_atomically(path, file);
}

NamedTensors load_tensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open for reading: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string bytes = ss.str();
  Reader r(path, bytes);
  const std::string m = r.get_bytes(sizeof(magic), "the magic number");
  if (std::memcmp(m.data(), magic, sizeof(magic)) != 0) {
    throw Error(path +
                ": not a jetgrad tensor file (expected the magic bytes \"JETGRAD\\x01\" at the start)");
  }
  if (bytes.size() < sizeof(magic) + 4) r.get_bytes(bytes.size(), "the checksum");  // reports truncation
  const std::uint32_t stored_crc = [&] {
    std::uint32_t c;
    std::memcpy(&c, bytes.data() + bytes.size() - 4, 4);
    return c;
  }();
  const std::uint64_t count = r.get<std::uint64_t>("the entry count");
  NamedTensors out;
  for (std::uint64_t e = 0; e < count; ++e) {
    const auto name_len = r.get<std::uint32_t>("an entry name's length");
    if (name_len > (1u << 20))
      r.fail("corrupted file: entry " + std::to_string(e) + " claims a name of " + std::to_string(name_len) +
             " bytes");
    std::string name = r.get_bytes(name_len, "an entry name");
    const auto dtype_code = r.get<std::uint8_t>("a dtype");
    if (dtype_code > 1)
      r.fail("corrupted file: entry '" + name + "' has dtype code " + std::to_string(dtype_code) +
             ", expected 0 or 1");
    const auto rank = r.get<std::uint8_t>("a rank");
    if (rank > Shape::max_rank)
      r.fail("corrupted file: entry '" + name + "' has rank " + std::to_string(rank) + ", at most " +
             std::to_string(Shape::max_rank) + " allowed");
    Shape shape;
    std::size_t numel = 1;
    for (int i = 0; i < rank; ++i) {
      const auto d = r.get<std::uint64_t>("a dimension");
      if (d > (std::uint64_t{1} << 40) || (d != 0 && numel > (std::uint64_t{1} << 40) / d))
        r.fail("corrupted file: entry '" + name + "' has an impossible dimension " + std::to_string(d));
      shape.push_back(d);
      numel *= d;
    }
    const DType dtype = dtype_code == 0 ? DType::f32 : DType::f64;
    Tensor t(dtype, shape);
    const std::string data = r.get_bytes(t.nbytes(), "tensor data");
    std::memcpy(t.raw_data(), data.data(), data.size());
    out.emplace_back(std::move(name), std::move(t));
  }
  const std::size_t body_end = r.pos();
  r.get<std::uint32_t>("the checksum");
  if (r.pos() != bytes.size()) {
    throw Error(path + ": corrupted file: " + std::to_string(bytes.size() - r.pos()) +
                " unexpected bytes after the checksum");
  }
  const std::uint32_t crc = crc_of(bytes.data() + sizeof(magic), body_end - sizeof(magic));
  if (crc != stored_crc)
    throw Error(path + ": corrupted file: checksum mismatch (the contents were changed or damaged)");
  return out;
}

}  // namespace jetgrad::nn
