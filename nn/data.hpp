// Data sets: IDX and CSV readers, Fashion-MNIST, the embedded default data set, and a seeded loader.
//
//   Dataset train = nn::embedded_dataset(true);        // 6,000 Fashion-MNIST images, 600 per class
//   Generator gen(42);
//   nn::DataLoader loader(train, 64, /*shuffle=*/true, gen);
//   for (int epoch = 0; epoch < 3; ++epoch)
//     for (const auto& [x, y] : loader) { ... }        // x: (B, 28, 28) float32, y: B labels
//
// Files are checked strictly and every error (a jetgrad::Error) names the file and what was wrong:
// the magic number, the type byte, the dimension count, how many bytes were expected and found,
// a corrupted or truncated gzip stream, images and labels that do not pair up, a label out of range,
// a CSV cell that is not a number (with its line and column).
//
// IDX (the format of MNIST and Fashion-MNIST): big-endian; magic = 0x00 0x00 <type> <rank>, then rank
// u32 dimensions, then the elements row-major. Types: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32,
// 0x0E f64. A file whose first two bytes are 0x1f 0x8b is gzip and is decompressed first (so both
// "x-idx3-ubyte" and "x-idx3-ubyte.gz" load with the same call).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "autodiff/random.hpp"
#include "autodiff/tensor.hpp"

namespace jetgrad::nn {

// N samples: inputs of shape (N, ...) (float32 for the readers here), labels in [0, num_classes).
struct Dataset {
  Tensor inputs;
  std::vector<std::size_t> labels;
  std::size_t num_classes = 0;
  std::string name;

  std::size_t size() const { return labels.size(); }
  // Throws ValueError naming the data set if the inputs' first dimension is not the number of
  // labels, or a label is not below num_classes.
  void check() const;
};

// ---- IDX --------------------------------------------------------------------------------------------

// Any IDX file (plain or gzip), its values unchanged: float32 for the types u8, i8, i16 and f32
// (exact), float64 for i32 and f64. Shape = the file's dimensions (rank 1 to Shape::max_rank).
Tensor read_idx(const std::string& path);

// An image file: magic 0x00000803 (u8, 3 dimensions), as (N, rows, cols) float32 scaled to [0, 1].
Tensor read_idx_images(const std::string& path);
// A label file: magic 0x00000801 (u8, 1 dimension). With num_classes > 0 every label must be below it.
std::vector<std::size_t> read_idx_labels(const std::string& path, std::size_t num_classes = 0);

// Divides every element by 255: byte pixel values to [0, 1] (float32 stays float32).
Tensor scale_bytes_to_unit(const Tensor& raw);

// ---- CSV --------------------------------------------------------------------------------------------

// A numeric, comma-separated file: one sample a line, the class label in column `label_column`
// (0-based; negative counts from the end, -1 = last) as a non-negative integer, every other
// column a finite number (inputs: (N, columns - 1) float32). The first line is a header when
// any of its cells is not a number; its names then appear in error messages. Blank lines are
// skipped, cells may carry surrounding spaces, CRLF line ends are accepted. num_classes is the
// largest label + 1.
Dataset read_csv(const std::string& path, int label_column = -1);

// ---- Fashion-MNIST ------------------------------------------------------------------------------------

// Fashion-MNIST (or MNIST) in its original files in `dir`: {train,t10k}-{images-idx3,labels-idx1}-ubyte,
// gzip (".gz") or plain. Inputs (N, 28, 28) float32 in [0, 1], 10 classes.
inline constexpr const char* default_fashion_mnist_dir = "/usr/share/datasets/fashion-mnist";
Dataset fashion_mnist(const std::string& dir = default_fashion_mnist_dir, bool train = true);

// The directory holding jetgrad's shipped data (it contains fashion-mnist-subset/). In order:
// the environment variable JETGRAD_DATA_DIR when set (and then only it); the source tree's data/
// compiled into the library; the installed copy (<prefix>/share/jetgrad). Throws Error listing
// the places it looked if none holds the data.
std::string data_dir();

// The data set shipped in the repository: a class-balanced Fashion-MNIST subset (the first 600
// images of each class of the training split, the first 100 of each class of the test split;
// data/fashion-mnist-subset/README.md). train: 6,000 images; test: 1,000. Shapes as fashion_mnist.
Dataset embedded_dataset(bool train = true);

// ---- loader -----------------------------------------------------------------------------------------

struct Batch {
  Tensor x;                    // (B, ...) rows of the data set's inputs, same dtype
  std::vector<std::size_t> y;  // their labels
};

// Batches over a data set. Each pass (each call of begin(), i.e. each range-for) is one epoch;
// with shuffle, an epoch visits the samples in a fresh order drawn from `gen` by a Fisher-Yates
// shuffle (Generator::below), so the same seed gives the same epochs bit for bit. The last batch
// holds the remainder (fewer than batch_size samples) unless drop_last is set.
// The data set and the generator are referenced, not copied: both must outlive the loader.
class DataLoader {
 public:
  DataLoader(const Dataset& data, std::size_t batch_size, bool shuffle, Generator& gen,
             bool drop_last = false);

  class iterator {
   public:
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    const Batch& operator*() const { return batch_; }
    const Batch* operator->() const { return &batch_; }
    iterator& operator++();
    bool operator==(const iterator& other) const { return position_ == other.position_; }

   private:
    friend class DataLoader;
    iterator(const DataLoader* loader, std::size_t position);
    void load();
    const DataLoader* loader_;
    std::size_t position_;  // index of the first sample of the current batch in the epoch's order
    Batch batch_;
  };

  // Starts an epoch (reshuffling when shuffle is on) and returns its first batch.
  iterator begin();
  iterator end() const;

  std::size_t num_batches() const;  // per epoch
  std::size_t batch_size() const { return batch_size_; }
  std::size_t epoch() const { return epoch_; }                      // epochs started so far
  const std::vector<std::size_t>& order() const { return order_; }  // the current epoch's order

 private:
  std::size_t stop() const;  // position after the last batch of an epoch
  const Dataset* data_;
  std::size_t batch_size_;
  bool shuffle_;
  Generator* gen_;
  bool drop_last_;
  std::size_t epoch_ = 0;
  std::size_t sample_bytes_;
  std::vector<std::size_t> order_;
};

}  // namespace jetgrad::nn
