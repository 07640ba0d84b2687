#include "data/leaf_cache.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
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

std::vector<fs::path> json_files(const std::string& folder) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(folder)) {
    if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// SHA-256 of the folder's *.json names, sizes and contents, in name order.
std::string source_key(const std::vector<fs::path>& files) {
  std::string listing;
  for (const auto& f : files) {
    MappedFile m(f);
    listing += f.filename().string() + '\0' + std::to_string(m.bytes().size()) + '\0' +
               sha256_hex(m.bytes()) + '\n';
  }
  return sha256_hex(listing);
}

int64_t ns(const struct timespec& t) { return int64_t(t.tv_sec) * 1'000'000'000 + t.tv_nsec; }

// Each source file's name, size, device, inode, mtime and ctime. Any write to a file, and any
// replacement of it, changes its ctime, which no system call can set back; so while the stat
// is the one the cache recorded, the bytes are the ones the cache was made from (git trusts
// its index the same way). Null when a file cannot be stat'ed or was changed too recently for
// its ctime to tell (`racy`): then the sources are hashed.
json source_stat(const std::vector<fs::path>& files, std::chrono::nanoseconds racy) {
  json out = json::array();
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  for (const auto& f : files) {
    struct stat st {};
    if (::stat(f.c_str(), &st) != 0 || now - ns(st.st_ctim) < racy.count()) return nullptr;
    out.push_back(
        {f.filename().string(), st.st_size, st.st_dev, st.st_ino, ns(st.st_mtim), ns(st.st_ctim)});
  }
  return out;
}

std::string with_header(const json& header, std::string_view body) {
  std::string h = header.dump();
  std::string out(8, '\0');
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out.reserve(8 + h.size() + body.size());
  return out.append(h).append(body);
}

std::string encode(const std::vector<LeafUser>& users, const std::string& key, const json& stat) {
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
  json header = {{"format", kFormat},
                 {"source", key},
                 {"stat", stat},
                 {"users", names},
                 {"counts", counts},
                 {"features", features},
                 {"sha256", sha256_hex(body)}};
  return with_header(header, body);
}

// A cache file's header and body, or throws DataError saying what does not check out. The
// body is checked against its hash here; the header's source key and stat by the caller.
struct Parsed {
  json header;
  std::string_view body;
};
Parsed parse(std::string_view bytes) {
  if (bytes.size() < 8) throw DataError("shorter than its 8-byte header length");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(static_cast<uint8_t>(bytes[i])) << (8 * i);
  if (n > kMaxHeader || n > bytes.size() - 8) throw DataError("header length out of range");
  Parsed p;
  try {
    p.header = json::parse(bytes.substr(8, n));
    if (!p.header.is_object() || p.header.value("format", "") != kFormat)
      throw DataError("format is not " + std::string(kFormat));
    if (!p.header.value("source", json()).is_string() ||
        !p.header.value("sha256", json()).is_string())
      throw DataError("header lacks its source key or body hash");
  } catch (const json::exception& e) {
    throw DataError(std::string("header is not the expected JSON: ") + e.what());
  }
  p.body = bytes.substr(8 + n);
  if (sha256_hex(p.body) != p.header["sha256"].get<std::string>())
    throw DataError("body does not match its SHA-256");
  return p;
}

// The users of a parsed cache file.
std::vector<LeafUser> users_of(const Parsed& p) {
  const json& h = p.header;
  std::string_view body = p.body;
  const json& names = h.value("users", json());
  const json& counts = h.value("counts", json());
  const json& f = h.value("features", json());
  if (!names.is_array() || !counts.is_array() || names.size() != counts.size() ||
      !f.is_number_integer() || f.get<int64_t>() <= 0 ||
      f.get<int64_t>() > static_cast<int64_t>(body.size()))
    throw DataError("header's users, counts or features are malformed");
  int64_t features = f.get<int64_t>(), total = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!names[i].is_string()) throw DataError("a user name is not a string");
    // Bounded by the body before they are summed or multiplied: no count can overflow.
    const json& c = counts[i];
    if (!c.is_number_integer() || c.get<int64_t>() <= 0 ||
        c.get<int64_t>() > static_cast<int64_t>(body.size()))
      throw DataError("a count is not in (0, body size]");
    total += c.get<int64_t>();
    if (total > static_cast<int64_t>(body.size()))
      throw DataError("body size does not match the header");
  }
  if (body.size() % static_cast<size_t>(features + 8) != 0 ||
      static_cast<int64_t>(body.size() / static_cast<size_t>(features + 8)) != total)
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

std::vector<LeafUser> read_leaf_folder_cached(const std::string& folder,
                                              const LeafCacheOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return read_leaf_folder(folder);  // it names the problem
  auto files = json_files(folder);
  json stat = source_stat(files, options.racy_window);
  fs::path dir = fs::path(folder) / ".fedsilo-cache";
  std::vector<fs::path> cached;  // at most one, but a crash or copy may leave more
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    auto name = e.path().filename().string();
    if (name.rfind("leaf-", 0) == 0 && e.path().extension() == ".bin") cached.push_back(e.path());
  }
  std::string key;  // hashed only when no cache's stat vouches for the sources
  auto replace = [&](const std::string& bytes, const fs::path& path) {
    try {
      fs::create_directories(dir, ec);
      if (ec) throw StoreError(dir.string() + ": " + ec.message());
      write_file_atomically(path.string(), bytes, 0644);
      for (const auto& old : cached) {
        if (old != path) fs::remove(old, ec);  // stale
      }
      return true;
    } catch (const std::exception& e) {
      SPDLOG_INFO("LEAF folder {}: not cached ({}); it is parsed again next time", folder,
                  e.what());
      return false;
    }
  };
  for (const auto& path : cached) {
    try {
      MappedFile m(path);
      Parsed p = parse(m.bytes());
      bool vouched = !stat.is_null() && p.header.value("stat", json()) == stat;
      if (!vouched) {
        if (key.empty()) key = source_key(files);
        if (p.header["source"] != key) continue;  // made from other bytes: not this folder's
      }
      auto users = users_of(p);
      if (!vouched && !stat.is_null()) {
        // Same bytes under another stat (copied, touched, or cached while still fresh): the
        // next start needs no hash.
        p.header["stat"] = stat;
        replace(with_header(p.header, p.body), path);
      }
      SPDLOG_INFO("LEAF folder {}: {} users from the cache {}{}", folder, users.size(),
                  path.string(), vouched ? " (sources unchanged since)" : "");
      return users;
    } catch (const DataError& e) {
      SPDLOG_WARN("LEAF cache {}: {}; reading the JSON again and replacing it", path.string(),
                  e.what());
    }
  }
  if (key.empty()) key = source_key(files);
  auto users = read_leaf_folder(folder);
  std::string bytes = encode(users, key, stat);
  if (bytes.empty()) return users;
  fs::path path = dir / ("leaf-" + key.substr(0, 16) + ".bin");
  if (replace(bytes, path))
    SPDLOG_INFO("LEAF folder {}: {} users parsed; cached in {}", folder, users.size(),
                path.string());
  return users;
}

}  // namespace fedsilo::data
