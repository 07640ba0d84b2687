#pragma once
#include <torch/types.h>

#include <string>

namespace fedsilo::data {

// Reads an IDX file (the MNIST format), plain or gzip-compressed, as a uint8 tensor with the
// file's dimensions. Throws DataError naming the file on a bad magic number, unsupported element
// type, truncated data or trailing bytes.
torch::Tensor read_idx(const std::string& path);

}  // namespace fedsilo::data
