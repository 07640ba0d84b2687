#include "data/leaf_cache.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/file_write.h"
#include "core/sha256.h"
#include "fedsilo/error.h"

namespace fedsilo::data {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kFormat = "fedsilo-leaf-cache-1";
constexpr uint64_t kMaxHeader = uint64_t(64) << 20;  // names of a million users fit

// One read into a buffer of the file's size: a stringstream copy costs more than the hash.
std::string read_whole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw DataError("file " + path.string() + ": cannot be read");
  std::string bytes(static_cast<size_t>(in.tellg()), '\0');
  in.seekg(0);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!in) throw DataError("file " + path.string() + ": cannot be read");
  return bytes;
}

// A file's bytes mapped read-only: hashing 33 MB of JSON this way costs the hash, not a copy
// into freshly zeroed memory.
class MappedFile {
 public:
  explicit MappedFile(const fs::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw DataError("file " + path.string() + ": cannot be read");
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
      size_ = static_cast<size_t>(st.st_size);
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      data_ = p == MAP_FAILED ? nullptr : static_cast<const char*>(p);
    }
    ::close(fd);
    if (size_ > 0 && !data_) throw DataError("file " + path.string() + ": cannot be mapped");
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<char*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  std::string_view bytes() const { return {data_ ? data_ : "", size_}; }

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
};

// SHA-256 of the folder's *.json names, sizes and contents, in name order.
std::string source_key(const std::string& folder) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(folder)) {
    if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::string listing;
  for (const auto& f : files) {
    MappedFile m(f);
    listing += f.filename().string() + '\0' + std::to_string(m.bytes().size()) + '\0' +
               sha256_hex(m.bytes()) + '\n';
  }
  return sha256_hex(listing);
}

std::string encode(const std::vector<LeafUser>& users, const std::string& key) {
  if (users.empty()) return "";  // concat reports it; nothing to cache
  int64_t features = users.front().data.x.size(1), total = 0;
  json names = json::array(), counts = json::array();
  for (const auto& u : users) {
    if (u.data.x.size(1) != features) return "";  // ragged: concat reports it; nothing to cache
    names.push_back(u.name);
    counts.push_back(u.data.size());
    total += u.data.size();
  }
  std::string body;
  body.reserve(static_cast<size_t>(total * (features + 8)));
  for (const auto& u : users) {
    auto x = u.data.x.contiguous();
    body.append(reinterpret_cast<const char*>(x.data_ptr<uint8_t>()), x.numel());
  }
  for (const auto& u : users) {
    auto y = u.data.y.contiguous();
    body.append(reinterpret_cast<const char*>(y.data_ptr<int64_t>()), y.numel() * 8);
  }
  std::string header =
      json{{"format", kFormat}, {"source", key},        {"users", names},
           {"counts", counts},  {"features", features}, {"sha256", sha256_hex(body)}}
          .dump();
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + body;
}

// The users in `bytes`, or throws DataError saying what does not check out.
std::vector<LeafUser> decode(const std::string& bytes, const std::string& key) {
  if (bytes.size() < 8) throw DataError("shorter than its 8-byte header length");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(static_cast<uint8_t>(bytes[i])) << (8 * i);
  if (n > kMaxHeader || n > bytes.size() - 8) throw DataError("header length out of range");
  json h;
  try {
    h = json::parse(bytes.substr(8, n));
    if (h.at("format") != kFormat) throw DataError("format is not " + std::string(kFormat));
    if (h.at("source") != key) throw DataError("made from other JSON files");
  } catch (const json::exception& e) {
    throw DataError(std::string("header is not the expected JSON: ") + e.what());
  }
  std::string_view body(bytes.data() + 8 + n, bytes.size() - 8 - n);
  if (sha256_hex(body) != h["sha256"].get<std::string>())
    throw DataError("body does not match its SHA-256");
  const auto& names = h.at("users");
  const auto& counts = h.at("counts");
  int64_t features = h.at("features").get<int64_t>(), total = 0;
  if (!names.is_array() || !counts.is_array() || names.size() != counts.size() || features <= 0)
    throw DataError("header's users, counts or features are malformed");
  for (const auto& c : counts) {
    if (!c.is_number_integer() || c.get<int64_t>() <= 0) throw DataError("a count is not > 0");
    total += c.get<int64_t>();
  }
  if (static_cast<int64_t>(body.size()) != total * (features + 8))
    throw DataError("body size does not match the header");
  std::vector<LeafUser> users;
  const char* px = body.data();
  const char* py = body.data() + total * features;
  for (size_t i = 0; i < names.size(); ++i) {
    int64_t k = counts[i].get<int64_t>();
    LeafUser u{names[i].get<std::string>(),
               {torch::empty({k, features}, torch::kUInt8), torch::empty({k}, torch::kInt64)}};
    std::memcpy(u.data.x.data_ptr<uint8_t>(), px, k * features);
    std::memcpy(u.data.y.data_ptr<int64_t>(), py, k * 8);
    px += k * features;
    py += k * 8;
    users.push_back(std::move(u));
  }
  return users;
}

}  // namespace

std::vector<LeafUser> read_leaf_folder_cached(const std::string& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return read_leaf_folder(folder);  // it names the problem
  auto key = source_key(folder);
  fs::path dir = fs::path(folder) / ".fedsilo-cache";
  fs::path path = dir / ("leaf-" + key.substr(0, 16) + ".bin");
  if (fs::exists(path, ec)) {
    try {
      auto users = decode(read_whole(path), key);
      SPDLOG_INFO("LEAF folder {}: {} users from the cache {}", folder, users.size(),
                  path.string());
      return users;
    } catch (const DataError& e) {
      SPDLOG_WARN("LEAF cache {}: {}; reading the JSON again and replacing it", path.string(),
                  e.what());
    }
  }
  auto users = read_leaf_folder(folder);
  std::string bytes = encode(users, key);
  if (bytes.empty()) return users;
  try {
    fs::create_directories(dir, ec);
    if (ec) throw StoreError(dir.string() + ": " + ec.message());
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().filename().string().rfind("leaf-", 0) == 0) fs::remove(e.path(), ec);  // stale
    }
    write_file_atomically(path.string(), bytes, 0644);
    SPDLOG_INFO("LEAF folder {}: {} users parsed; cached in {}", folder, users.size(),
                path.string());
  } catch (const std::exception& e) {
    SPDLOG_INFO("LEAF folder {}: not cached ({}); it is parsed again next time", folder, e.what());
  }
  return users;
}

}  // namespace fedsilo::data
