// Named tensors on disk: the format of module weights and checkpoints.
//
// Layout (little-endian):
//   magic    8 bytes  "JETGRAD\x01"
//   count    u64      number of entries
//   entries  count ×  { name_len u32, name bytes, dtype u8 (0 float32, 1 float64), rank u8,
//                       dims u64 × rank, data (numel × element size) }
//   crc32    u32      zlib CRC-32 of every byte after the magic and before this field
//
// Writes are atomic: the file is written to "<path>.tmp.<pid>", flushed, and renamed over <path>,
// so a crash leaves either the old file or the new one, never half of one. Reads check everything
// (magic, sizes, dtype, rank, truncation, checksum) and name the file and the problem.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "autodiff/tensor.hpp"

namespace jetgrad::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

void save_tensors(const std::string& path, const NamedTensors& tensors);
NamedTensors load_tensors(const std::string& path);

// Writes `bytes` to `path` atomically (temporary file + rename). Used for every file jetgrad writes.
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace jetgrad::nn
