#include "data/idx_reader.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "fedsilo/error.h"

namespace fedsilo::data {
namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};

// Reads exactly n bytes or reports how many were there.
int64_t read_fully(gzFile f, void* dst, int64_t n) {
  auto* p = static_cast<char*>(dst);
  int64_t got = 0;
  while (got < n) {
    unsigned chunk = static_cast<unsigned>(std::min<int64_t>(n - got, 1 << 30));
    int r = gzread(f, p + got, chunk);
    if (r <= 0) break;
    got += r;
  }
  return got;
}

uint32_t big_endian(const unsigned char* b) {
  return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | uint32_t(b[3]);
}

}  // namespace

torch::Tensor read_idx(const std::string& path) {
  // gzread reads uncompressed files transparently, so one path serves both forms.
  std::unique_ptr<gzFile_s, GzCloser> f(gzopen(path.c_str(), "rb"));
  if (!f) throw DataError("IDX file " + path + ": cannot be opened");
  unsigned char magic[4];
  if (read_fully(f.get(), magic, 4) != 4)
    throw DataError("IDX file " + path + ": empty or truncated header");
  if (magic[0] != 0 || magic[1] != 0) {
    throw DataError("IDX file " + path + ": bad magic number (not an IDX file, or a corrupt gzip)");
  }
  if (magic[2] != 0x08) {
    throw DataError("IDX file " + path + ": element type 0x" + std::to_string(magic[2]) +
                    " is not supported (only unsigned bytes, 0x08)");
  }
  int ndim = magic[3];
  if (ndim < 1 || ndim > 4) {
    throw DataError("IDX file " + path + ": " + std::to_string(ndim) +
                    " dimensions (expected 1 to 4)");
  }
  std::vector<int64_t> dims(ndim);
  int64_t total = 1;
  for (int i = 0; i < ndim; ++i) {
    unsigned char b[4];
    if (read_fully(f.get(), b, 4) != 4) throw DataError("IDX file " + path + ": truncated header");
    dims[i] = big_endian(b);
    if (dims[i] > (int64_t(1) << 31)) {
      throw DataError("IDX file " + path + ": dimension " + std::to_string(i + 1) + " of " +
                      std::to_string(ndim) + " is " + std::to_string(dims[i]) +
                      ", above 2^31: a corrupt header");
    }
    if (dims[i] > 0 && total > (int64_t(1) << 40) / dims[i]) {
      std::string shape;
      for (int k = 0; k <= i; ++k) shape += (k ? " x " : "") + std::to_string(dims[k]);
      throw DataError("IDX file " + path + ": dimensions " + shape +
                      " make more than 2^40 values: a corrupt header");
    }
    total *= dims[i];
  }
  // Memory follows the bytes actually there, not the header's promise: a forged header of
  // 2^40 bytes in a tiny file must not allocate 1 TB first.
  std::vector<uint8_t> bytes;
  int64_t got = 0;
  while (got < total) {
    int64_t chunk = std::min<int64_t>(total - got, int64_t(16) << 20);
    bytes.resize(static_cast<size_t>(got + chunk));
    int64_t n = read_fully(f.get(), bytes.data() + got, chunk);
    got += n;
    if (n < chunk) break;
  }
  if (got != total) {
    throw DataError("IDX file " + path + ": truncated: header promises " + std::to_string(total) +
                    " bytes of data, file has " + std::to_string(got));
  }
  char extra;
  if (gzread(f.get(), &extra, 1) > 0) {
    throw DataError("IDX file " + path + ": trailing bytes after the " + std::to_string(total) +
                    " bytes the header describes");
  }
  int err = 0;
  gzerror(f.get(), &err);
  if (err != Z_OK && err != Z_STREAM_END)
    throw DataError("IDX file " + path + ": corrupt gzip stream");
  auto out = torch::empty(dims, torch::kUInt8);
  if (total > 0) std::memcpy(out.data_ptr<uint8_t>(), bytes.data(), static_cast<size_t>(total));
  return out;
}

}  // namespace fedsilo::data
