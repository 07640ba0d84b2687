#pragma once
// TensorBoard scalars without TensorFlow (docs/monitoring.md): an events.out.tfevents.* file of
// TFRecord-framed Event protocol buffers (tensorflow/core/util/event.proto), the format
// TensorBoard's own readers take. Each record is flushed as it is written, so TensorBoard can
// follow a run that is still going.
#include <cstdint>
#include <cstdio>
#include <string>

namespace fedsilo::monitor {

// CRC-32C (Castagnoli), as TFRecord frames use it. No Debian package offers it for C++.
uint32_t crc32c(const void* data, size_t n);
// TFRecord's masked form of the CRC, which stays valid when CRCs are stored in CRC'd data.
uint32_t masked_crc32c(const void* data, size_t n);

class TensorBoardWriter {
 public:
  // Creates `dir` and a new events file in it; throws StoreError naming the path it cannot write.
  explicit TensorBoardWriter(const std::string& dir);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  void scalar(const std::string& tag, double value, int64_t step);
  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& event);
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace fedsilo::monitor
