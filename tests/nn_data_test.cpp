#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>
#include <zlib.h>

#include <catch2/catch.hpp>

#include "nn/data.hpp"

using namespace jetgrad;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp dir, removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("jetgrad_data_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string gzip(const std::string& data) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

void put_be32(std::string& s, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((v >> shift) & 0xff));
}

// An IDX file: magic 0x0000<type><rank>, big-endian dims, then `payload` as given.
std::string idx_file(std::uint8_t type, const std::vector<std::uint32_t>& dims, const std::string& payload) {
  std::string s;
  put_be32(s, (std::uint32_t{type} << 8) | static_cast<std::uint32_t>(dims.size()));
  for (std::uint32_t d : dims) put_be32(s, d);
  return s + payload;
}

std::string u8_payload(const std::vector<int>& values) {
  std::string s;
  for (int v : values) s.push_back(static_cast<char>(v));
  return s;
}

// Three 2x2 images with pixels 0, 1, ..., 11 scaled by 20 (up to 220) and one 255.
const std::vector<int> pixels = {0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200, 255};
const std::vector<int> labels3 = {2, 0, 1};

}  // namespace

TEST_CASE("IDX files round-trip, plain and gzip", "[nn][data]") {
  TempDir dir;
  const std::string images = idx_file(0x08, {3, 2, 2}, u8_payload(pixels));
  const std::string labels = idx_file(0x08, {3}, u8_payload(labels3));
  write_bytes(dir / "img", images);
  write_bytes(dir / "img.gz", gzip(images));
  write_bytes(dir / "lab", labels);
  write_bytes(dir / "lab.gz", gzip(labels));
  // Two gzip members back to back (what `cat a.gz b.gz` gives) decompress as one stream.
  write_bytes(dir / "img2.gz", gzip(images.substr(0, 7)) + gzip(images.substr(7)));

  for (const std::string name : {"img", "img.gz", "img2.gz"}) {
    INFO(name);
    Tensor raw = nn::read_idx(dir / name);
    CHECK(raw.dtype() == DType::f32);
    CHECK(raw.shape() == Shape{3, 2, 2});
    for (std::size_t i = 0; i < pixels.size(); ++i) CHECK(raw.at(i) == pixels[i]);

    Tensor img = nn::read_idx_images(dir / name);
    CHECK(img.dtype() == DType::f32);
    CHECK(img.shape() == Shape{3, 2, 2});
    for (std::size_t i = 0; i < pixels.size(); ++i)
      CHECK(img.at(i) == static_cast<float>(pixels[i]) / 255.0f);
    CHECK(img.at(11) == 1.0);
  }
  for (const std::string name : {"lab", "lab.gz"}) {
    CHECK(nn::read_idx_labels(dir / name) == std::vector<std::size_t>{2, 0, 1});
    CHECK(nn::read_idx_labels(dir / name, 3) == std::vector<std::size_t>{2, 0, 1});
  }
}

TEST_CASE("IDX element types other than unsigned byte", "[nn][data]") {
  TempDir dir;
  SECTION("signed byte and 16-bit integers -> float32, exact") {
    write_bytes(dir / "i8", idx_file(0x09, {3}, u8_payload({0xff, 0x80, 0x7f})));
    Tensor t = nn::read_idx(dir / "i8");
    CHECK(t.dtype() == DType::f32);
    CHECK(t.at(0) == -1);
    CHECK(t.at(1) == -128);
    CHECK(t.at(2) == 127);
    write_bytes(dir / "i16", idx_file(0x0B, {2}, u8_payload({0xff, 0xfe, 0x01, 0x00})));
    Tensor s = nn::read_idx(dir / "i16");
    CHECK(s.at(0) == -2);
    CHECK(s.at(1) == 256);
  }
  SECTION("32-bit integers and float64 -> float64; float32 stays float32") {
    write_bytes(dir / "i32",
                gzip(idx_file(0x0C, {1, 2}, u8_payload({0x01, 0, 0, 1, 0xff, 0xff, 0xff, 0xfd}))));
    Tensor t = nn::read_idx(dir / "i32");
    CHECK(t.dtype() == DType::f64);
    CHECK(t.shape() == Shape{1, 2});
    CHECK(t.at(0) == 16777217.0);  // not representable in float32: why i32 reads as float64
    CHECK(t.at(1) == -3.0);
    write_bytes(dir / "f32", idx_file(0x0D, {1}, u8_payload({0x3f, 0xc0, 0, 0})));  // 1.5f
    CHECK(nn::read_idx(dir / "f32").at(0) == 1.5);
    CHECK(nn::read_idx(dir / "f32").dtype() == DType::f32);
    write_bytes(dir / "f64", idx_file(0x0E, {1}, u8_payload({0xc0, 0x04, 0, 0, 0, 0, 0, 0})));  // -2.5
    CHECK(nn::read_idx(dir / "f64").at(0) == -2.5);
  }
}

TEST_CASE("bad IDX files are rejected with the file and the problem named", "[nn][data]") {
  TempDir dir;
  const std::string images = idx_file(0x08, {3, 2, 2}, u8_payload(pixels));

  SECTION("truncated data: how many bytes were expected and found") {
    const std::string path = dir / "short-idx3-ubyte";
    write_bytes(path, images.substr(0, images.size() - 2));
    CHECK_THROWS_WITH(nn::read_idx_images(path), Contains(path) &&
                                                     Contains("truncated file: expected 28 bytes") &&
                                                     Contains("found 26"));
    // The same bytes gzip-compressed: the message says the sizes are after decompression.
    write_bytes(path + ".gz", gzip(images.substr(0, images.size() - 2)));
    CHECK_THROWS_WITH(nn::read_idx(path + ".gz"), Contains(path + ".gz") && Contains("expected 28 bytes") &&
                                                      Contains("found 26 (after gzip decompression)"));
  }
  SECTION("truncated header") {
    const std::string path = dir / "header";
    write_bytes(path, images.substr(0, 9));
    CHECK_THROWS_WITH(nn::read_idx(path),
                      Contains(path) && Contains("expected 16 bytes for the header") && Contains("found 9"));
    write_bytes(path, std::string(2, '\0'));
    CHECK_THROWS_WITH(nn::read_idx(path), Contains("expected at least 4 bytes") && Contains("found 2"));
  }
  SECTION("trailing bytes") {
    const std::string path = dir / "long";
    write_bytes(path, images + "xyz");
    CHECK_THROWS_WITH(nn::read_idx(path), Contains(path) && Contains("3 unexpected bytes after the data") &&
                                              Contains("found 31"));
  }
  SECTION("wrong magic number") {
    const std::string labels = dir / "labels-idx1-ubyte";
    write_bytes(labels, idx_file(0x08, {3}, u8_payload(labels3)));
    CHECK_THROWS_WITH(nn::read_idx_images(labels),
                      Contains(labels) && Contains("wrong magic number 0x00000801, expected 0x00000803") &&
                          Contains("looks like an IDX label file"));
    const std::string img = dir / "images";
    write_bytes(img, images);
    CHECK_THROWS_WITH(nn::read_idx_labels(img), Contains(img) && Contains("expected 0x00000801") &&
                                                    Contains("looks like an IDX image file"));
    const std::string text = dir / "text";
    write_bytes(text, "hello, world");
    CHECK_THROWS_WITH(nn::read_idx(text),
                      Contains(text) && Contains("not an IDX file: magic number 0x68656C6C"));
  }
  SECTION("unknown type byte and bad dimension count") {
    const std::string path = dir / "type";
    write_bytes(path, idx_file(0x0A, {1}, "x"));
    CHECK_THROWS_WITH(nn::read_idx(path), Contains(path) && Contains("unknown IDX element type byte 0x0A"));
    write_bytes(path, idx_file(0x08, {}, ""));
    CHECK_THROWS_WITH(nn::read_idx(path), Contains(path) && Contains("dimension count 0"));
    // A label file with a second dimension is not a label file.
    write_bytes(path, idx_file(0x08, {3, 1}, u8_payload(labels3)));
    CHECK_THROWS_WITH(nn::read_idx_labels(path),
                      Contains("wrong magic number 0x00000802, expected 0x00000801"));
  }
  SECTION("impossible dimensions do not allocate") {
    const std::string path = dir / "huge";
    write_bytes(path, idx_file(0x08, {0xffffffffu, 0xffffffffu, 0xffffffffu}, "x"));
    CHECK_THROWS_WITH(nn::read_idx(path), Contains(path) && Contains("impossible dimensions"));
    write_bytes(path, idx_file(0x08, {60000, 28, 28}, "x"));
    CHECK_THROWS_WITH(nn::read_idx(path), Contains("expected 47040016 bytes") && Contains("found 17"));
  }
  SECTION("corrupted gzip") {
    const std::string gz = gzip(images);
    const std::string path = dir / "bad.gz";
    std::string crc = gz;
    crc[crc.size() - 8] = static_cast<char>(crc[crc.size() - 8] ^ 0x55);  // the CRC-32 in the trailer
    write_bytes(path, crc);
    CHECK_THROWS_WITH(nn::read_idx(path),
                      Contains(path) && Contains("corrupted gzip data: incorrect data check"));
    std::string method = gz;
    method[2] = 7;  // compression method: only 8 (deflate) exists
    write_bytes(path, method);
    CHECK_THROWS_WITH(nn::read_idx(path),
                      Contains(path) && Contains("corrupted gzip data: unknown compression method"));
    write_bytes(path, gz.substr(0, gz.size() / 2));
    CHECK_THROWS_WITH(nn::read_idx(path), Contains(path) && Contains("truncated gzip file"));
    write_bytes(path, gz + "junk");
    CHECK_THROWS_WITH(
        nn::read_idx(path),
        Contains(path) && Contains("4 unexpected bytes after the end of the compressed stream"));
  }
  SECTION("label out of range") {
    const std::string path = dir / "labels";
    write_bytes(path, gzip(idx_file(0x08, {3}, u8_payload({1, 10, 2}))));
    CHECK_THROWS_WITH(nn::read_idx_labels(path, 10),
                      Contains(path) && Contains("label 10 at index 1 is out of range: expected 0 to 9"));
    CHECK(nn::read_idx_labels(path).size() == 3);  // no num_classes: no range check
  }
  SECTION("missing file") {
    const std::string path = dir / "absent";
    CHECK_THROWS_WITH(nn::read_idx(path), Contains(path) && Contains("cannot open for reading"));
  }
}

TEST_CASE("fashion_mnist pairs images and labels", "[nn][data]") {
  TempDir dir;
  write_bytes(dir / "train-images-idx3-ubyte.gz", gzip(idx_file(0x08, {3, 2, 2}, u8_payload(pixels))));
  write_bytes(dir / "train-labels-idx1-ubyte", idx_file(0x08, {3}, u8_payload(labels3)));  // plain works too
  nn::Dataset d = nn::fashion_mnist(dir.path.string(), true);
  CHECK(d.inputs.shape() == Shape{3, 2, 2});
  CHECK(d.labels == std::vector<std::size_t>{2, 0, 1});
  CHECK(d.num_classes == 10);
  CHECK_NOTHROW(d.check());

  SECTION("count mismatch") {
    write_bytes(dir / "train-labels-idx1-ubyte", idx_file(0x08, {2}, u8_payload({2, 0})));
    CHECK_THROWS_WITH(nn::fashion_mnist(dir.path.string(), true),
                      Contains(dir / "train-images-idx3-ubyte.gz") && Contains("holds 3 images but") &&
                          Contains(dir / "train-labels-idx1-ubyte") && Contains("holds 2 labels"));
  }
  SECTION("missing split") {
    CHECK_THROWS_WITH(
        nn::fashion_mnist(dir.path.string(), false),
        Contains("Fashion-MNIST file not found") && Contains(dir / "t10k-images-idx3-ubyte.gz"));
  }
}

TEST_CASE("CSV files", "[nn][data]") {
  TempDir dir;
  const std::string path = dir / "iris.csv";

  SECTION("header detected, label in the last column, CRLF and blank lines") {
    write_bytes(path, "sepal, petal ,class\r\n1.5,2,0\r\n\r\n-3e-1, +4 ,2\r\n");
    nn::Dataset d = nn::read_csv(path);
    CHECK(d.inputs.dtype() == DType::f32);
    CHECK(d.inputs.shape() == Shape{2, 2});
    CHECK(d.inputs.at(0) == 1.5);
    CHECK(d.inputs.at(1) == 2.0);
    CHECK(d.inputs.at(2) == static_cast<float>(-0.3));
    CHECK(d.inputs.at(3) == 4.0);
    CHECK(d.labels == std::vector<std::size_t>{0, 2});
    CHECK(d.num_classes == 3);
    CHECK(d.name == path);
  }
  SECTION("no header, label in the first column") {
    write_bytes(path, "1,0.5,0.25\n0,1,2\n3.0,7,8");
    nn::Dataset d = nn::read_csv(path, 0);
    CHECK(d.inputs.shape() == Shape{3, 2});
    CHECK(d.labels == std::vector<std::size_t>{1, 0, 3});
    CHECK(d.inputs.at(5) == 8.0);
  }
  SECTION("a bad cell names the line and the column") {
    write_bytes(path, "a,b,label\n1,2,0\n3,abc,1\n");
    CHECK_THROWS_WITH(nn::read_csv(path),
                      Contains(path) && Contains("line 3, column 2 ('b'): cannot read 'abc' as a number"));
    write_bytes(path, "1,2,0\n3,,1\n");
    CHECK_THROWS_WITH(nn::read_csv(path), Contains(path) && Contains("line 2, column 2: empty cell"));
    write_bytes(path, "1,2,0\n3,nan,1\n");
    CHECK_THROWS_WITH(nn::read_csv(path), Contains("line 2, column 2: 'nan' is not a finite number"));
  }
  SECTION("bad labels") {
    write_bytes(path, "x,y\n1,0\n2,1.5\n");
    CHECK_THROWS_WITH(nn::read_csv(path),
                      Contains(path) && Contains("line 3, column 2 ('y'): expected a class label "
                                                 "(a non-negative integer), found '1.5'"));
    write_bytes(path, "1,0\n2,-1\n");
    CHECK_THROWS_WITH(nn::read_csv(path), Contains("line 2, column 2: expected a class label"));
  }
  SECTION("ragged rows, empty files, bad label column") {
    write_bytes(path, "1,2,0\n3,4\n");
    CHECK_THROWS_WITH(nn::read_csv(path), Contains(path) && Contains("line 2, found 2 columns, expected 3"));
    write_bytes(path, "a,b\n\n");
    CHECK_THROWS_WITH(nn::read_csv(path), Contains(path) && Contains("no data rows"));
    write_bytes(path, "1,2,0\n");
    CHECK_THROWS_WITH(nn::read_csv(path, 3),
                      Contains("label column 3 is out of range: the file has 3 columns"));
    CHECK_THROWS_WITH(nn::read_csv(path, -4), Contains("label column -4 is out of range"));
  }
}

TEST_CASE("the embedded data set: shapes and class balance", "[nn][data]") {
  for (bool train : {true, false}) {
    INFO((train ? "train" : "test"));
    nn::Dataset d = nn::embedded_dataset(train);
    const std::size_t n = train ? 6000 : 1000;
    CHECK(d.inputs.dtype() == DType::f32);
    CHECK(d.inputs.shape() == Shape{n, 28, 28});
    CHECK(d.size() == n);
    CHECK(d.num_classes == 10);
    CHECK(d.name == std::string("fashion-mnist-subset ") + (train ? "train" : "test"));
    std::vector<std::size_t> count(10, 0);
    for (std::size_t y : d.labels) ++count.at(y);
    CHECK(count == std::vector<std::size_t>(10, n / 10));
    const float* p = d.inputs.data<float>();
    const auto [lo, hi] = std::minmax_element(p, p + d.inputs.numel());
    CHECK(*lo == 0.0f);
    CHECK(*hi == 1.0f);
  }
  CHECK(fs::is_regular_file(nn::data_dir() + "/fashion-mnist-subset/README.md"));
}

TEST_CASE("JETGRAD_DATA_DIR overrides where the embedded data is found", "[nn][data]") {
  const char* old = std::getenv("JETGRAD_DATA_DIR");
  const std::string saved = old != nullptr ? old : "";
  const std::string real = nn::data_dir();
  TempDir dir;
  ::setenv("JETGRAD_DATA_DIR", dir.path.c_str(), 1);
  CHECK_THROWS_WITH(nn::embedded_dataset(true), Contains(dir.path.string()) && Contains("JETGRAD_DATA_DIR") &&
                                                    Contains("fashion-mnist-subset/"));
  fs::create_directories(dir.path / "fashion-mnist-subset");
  for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"}) {
    fs::copy_file(real + "/fashion-mnist-subset/" + f, dir.path / "fashion-mnist-subset" / f);
  }
  CHECK(nn::data_dir() == dir.path.string());
  CHECK(nn::embedded_dataset(true).size() == 6000);
  if (old != nullptr) {
    ::setenv("JETGRAD_DATA_DIR", saved.c_str(), 1);
  } else {
    ::unsetenv("JETGRAD_DATA_DIR");
  }
}

TEST_CASE("the full Fashion-MNIST loads when installed", "[nn][data]") {
  const std::string dir = nn::default_fashion_mnist_dir;
  if (!fs::exists(dir + "/train-images-idx3-ubyte.gz") && !fs::exists(dir + "/train-images-idx3-ubyte")) {
    WARN("skipped: Fashion-MNIST is not installed in " << dir
                                                       << " (Debian: apt-get install dataset-fashion-mnist)");
    return;
  }
  nn::Dataset train = nn::fashion_mnist(dir, true);
  nn::Dataset test = nn::fashion_mnist(dir, false);
  CHECK(train.inputs.shape() == Shape{60000, 28, 28});
  CHECK(test.inputs.shape() == Shape{10000, 28, 28});
  for (const nn::Dataset* d : {&train, &test}) {
    std::vector<std::size_t> count(10, 0);
    for (std::size_t y : d->labels) ++count.at(y);
    CHECK(count == std::vector<std::size_t>(10, d->size() / 10));
  }

  // The embedded subset is exactly the first 600 (100) images of each class, in their original order.
  for (bool is_train : {true, false}) {
    const nn::Dataset& full = is_train ? train : test;
    const nn::Dataset sub = nn::embedded_dataset(is_train);
    const std::size_t k = is_train ? 600 : 100, row = 28 * 28;
    std::vector<std::size_t> kept(10, 0);
    std::size_t j = 0;
    bool same = true;
    for (std::size_t i = 0; i < full.size() && j < sub.size(); ++i) {
      if (kept[full.labels[i]] == k) continue;
      ++kept[full.labels[i]];
      same = same && sub.labels[j] == full.labels[i] &&
             std::equal(full.inputs.data<float>() + i * row, full.inputs.data<float>() + (i + 1) * row,
                        sub.inputs.data<float>() + j * row);
      ++j;
    }
    CHECK(j == sub.size());
    CHECK(same);
  }
}

namespace {
// N samples whose input row i is (i, i, i) and whose label is i: a batch shows which samples it holds.
nn::Dataset numbered(std::size_t n) {
  nn::Dataset d;
  d.inputs = Tensor(DType::f32, Shape{n, 3});
  for (std::size_t i = 0; i < n * 3; ++i) d.inputs.set(i, static_cast<double>(i / 3));
  d.labels.resize(n);
  std::iota(d.labels.begin(), d.labels.end(), std::size_t{0});
  d.num_classes = n;
  d.name = "numbered";
  return d;
}

// The sample indices of one epoch, in order, checking that each batch's rows match its labels.
std::vector<std::size_t> epoch(nn::DataLoader& loader, std::vector<std::size_t>* sizes = nullptr) {
  std::vector<std::size_t> seen;
  for (const auto& [x, y] : loader) {
    REQUIRE(x.shape()[0] == y.size());
    REQUIRE(x.shape()[1] == 3);
    for (std::size_t k = 0; k < y.size(); ++k) {
      REQUIRE(x.at(3 * k) == static_cast<double>(y[k]));
      REQUIRE(x.at(3 * k + 2) == static_cast<double>(y[k]));
    }
    seen.insert(seen.end(), y.begin(), y.end());
    if (sizes != nullptr) sizes->push_back(y.size());
  }
  return seen;
}
}  // namespace

TEST_CASE("DataLoader: batches, shuffling, reproducibility", "[nn][data]") {
  const nn::Dataset d = numbered(10);
  std::vector<std::size_t> identity(10);
  std::iota(identity.begin(), identity.end(), std::size_t{0});

  SECTION("without shuffle: in order, last partial batch") {
    Generator gen(0);
    nn::DataLoader loader(d, 4, false, gen);
    CHECK(loader.num_batches() == 3);
    std::vector<std::size_t> sizes;
    CHECK(epoch(loader, &sizes) == identity);
    CHECK(sizes == std::vector<std::size_t>{4, 4, 2});
    CHECK(epoch(loader) == identity);
    CHECK(loader.epoch() == 2);
  }
  SECTION("drop_last drops the partial batch") {
    Generator gen(0);
    nn::DataLoader loader(d, 4, true, gen, /*drop_last=*/true);
    CHECK(loader.num_batches() == 2);
    std::vector<std::size_t> sizes;
    const std::vector<std::size_t> seen = epoch(loader, &sizes);
    CHECK(sizes == std::vector<std::size_t>{4, 4});
    CHECK(std::set<std::size_t>(seen.begin(), seen.end()).size() == 8);
    nn::DataLoader exact(d, 5, false, gen, true);  // no remainder: nothing dropped
    CHECK(epoch(exact).size() == 10);
  }
  SECTION("shuffle: every index once per epoch, epochs differ, same seed same order") {
    Generator gen_a(42), gen_b(42), gen_c(43);
    nn::DataLoader a(d, 3, true, gen_a), b(d, 3, true, gen_b), c(d, 3, true, gen_c);
    std::set<std::vector<std::size_t>> orders;
    std::vector<std::size_t> first_c;
    for (int e = 0; e < 5; ++e) {
      const std::vector<std::size_t> ea = epoch(a), eb = epoch(b), ec = epoch(c);
      std::vector<std::size_t> sorted = ea;
      std::sort(sorted.begin(), sorted.end());
      CHECK(sorted == identity);  // a permutation: each sample exactly once
      CHECK(ea == eb);            // same seed, same epoch: the same order
      CHECK(ea == a.order());
      orders.insert(ea);
      if (e == 0) first_c = ec;
    }
    CHECK(orders.size() == 5);  // five epochs, five different orders
    Generator fresh(42);
    nn::DataLoader again(d, 3, true, fresh);
    CHECK(epoch(again) != first_c);  // a different seed gives a different order
  }
  SECTION("the order is pinned: mt19937_64 + Generator::below + Fisher-Yates, on every platform") {
    Generator gen(42);
    nn::DataLoader loader(d, 10, true, gen);
    const std::vector<std::size_t> e1 = epoch(loader);
    INFO("first epoch order for seed 42");
    CHECK(e1 == std::vector<std::size_t>{1, 7, 9, 0, 3, 8, 4, 2, 5, 6});
  }
  SECTION("the embedded data in batches of 64") {
    const nn::Dataset train = nn::embedded_dataset(true);
    Generator gen(7);
    nn::DataLoader loader(train, 64, true, gen);
    CHECK(loader.num_batches() == 94);  // 93 full batches and one of 48
    std::size_t batches = 0, samples = 0, last = 0;
    for (const auto& [x, y] : loader) {
      CHECK(x.shape() == Shape{y.size(), 28, 28});
      ++batches;
      samples += y.size();
      last = y.size();
    }
    CHECK(batches == 94);
    CHECK(samples == 6000);
    CHECK(last == 48);
  }
  SECTION("bad arguments") {
    Generator gen(0);
    CHECK_THROWS_WITH(nn::DataLoader(d, 0, true, gen), Contains("batch_size must be positive"));
    nn::Dataset bad = numbered(4);
    bad.labels.pop_back();
    CHECK_THROWS_WITH(nn::DataLoader(bad, 2, true, gen),
                      Contains("'numbered'") && Contains("4 samples") && Contains("3 labels"));
    bad = numbered(4);
    bad.labels[2] = 7;
    CHECK_THROWS_WITH(nn::DataLoader(bad, 2, true, gen),
                      Contains("label 7 of sample 2 is out of range for 4 classes"));
    nn::Dataset empty = numbered(0);
    nn::DataLoader none(empty, 2, true, gen);
    CHECK(none.num_batches() == 0);
    CHECK(epoch(none).empty());
  }
}
