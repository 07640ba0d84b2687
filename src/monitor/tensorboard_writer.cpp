#include "monitor/tensorboard_writer.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "fedsilo/error.h"

namespace fedsilo::monitor {

namespace {

const std::array<uint32_t, 256>& crc_table() {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

// Protocol-buffer wire format, just what Event / Summary / Summary.Value need.
void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void tag(std::string& out, int field, int wire_type) { varint(out, (field << 3) | wire_type); }
template <typename T>
void fixed(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // protobuf fixed fields are little-endian, as is x86-64
  out.append(b, sizeof(T));
}
void bytes_field(std::string& out, int field, const std::string& bytes) {
  tag(out, field, 2);
  varint(out, bytes.size());
  out += bytes;
}

double wall_time() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Event { double wall_time = 1; int64 step = 2; oneof { string file_version = 3;
//         Summary summary = 5; } }
std::string event_header(int64_t step) {
  std::string e;
  tag(e, 1, 1);
  fixed<double>(e, wall_time());
  if (step != 0) {
    tag(e, 2, 0);
    varint(e, static_cast<uint64_t>(step));
  }
  return e;
}

}  // namespace

uint32_t crc32c(const void* data, size_t n) {
  const auto& t = crc_table();
  auto p = static_cast<const unsigned char*>(data);
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = t[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(const void* data, size_t n) {
  uint32_t c = crc32c(data, n);
  return ((c >> 15) | (c << 17)) + 0xA282EAD8u;
}

TensorBoardWriter::TensorBoardWriter(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  char host[256] = "localhost";
  gethostname(host, sizeof(host) - 1);
  path_ = (std::filesystem::path(dir) /
           ("events.out.tfevents." + std::to_string(static_cast<int64_t>(wall_time())) + "." +
            host + "." + std::to_string(getpid())))
              .string();
  file_ = std::fopen(path_.c_str(), "wb");
  if (!file_) {
    throw StoreError("tracking_args.tensorboard_dir: cannot write " + path_ + ": " +
                     std::strerror(errno));
  }
  auto e = event_header(0);
  bytes_field(e, 3, "brain.Event:2");
  write_record(e);
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_) std::fclose(file_);
}

void TensorBoardWriter::scalar(const std::string& name, double value, int64_t step) {
  // Summary.Value { string tag = 1; float simple_value = 2; }
  std::string v;
  bytes_field(v, 1, name);
  tag(v, 2, 5);
  fixed<float>(v, static_cast<float>(value));
  std::string summary;  // Summary { repeated Value value = 1; }
  bytes_field(summary, 1, v);
  auto e = event_header(step);
  bytes_field(e, 5, summary);
  write_record(e);
}

// TFRecord: uint64 length, uint32 masked_crc(length), data, uint32 masked_crc(data).
void TensorBoardWriter::write_record(const std::string& event) {
  std::string r;
  uint64_t len = event.size();
  fixed<uint64_t>(r, len);
  fixed<uint32_t>(r, masked_crc32c(r.data(), 8));
  r += event;
  fixed<uint32_t>(r, masked_crc32c(event.data(), event.size()));
  if (std::fwrite(r.data(), 1, r.size(), file_) != r.size() || std::fflush(file_) != 0)
    throw StoreError("cannot write " + path_ + ": " + std::strerror(errno));
}

}  // namespace fedsilo::monitor
