#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <filesystem>
#include <memory>

#include "comm/object_store.h"
#include "core/file_write.h"
#include "fedsilo/error.h"

namespace fedsilo::comm {
namespace fs = std::filesystem;

DirectoryStore::DirectoryStore(std::string root) : root_(std::move(root)) {
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec) throw StoreError("object store " + root_ + ": cannot create the folder: " + ec.message());
}

std::string DirectoryStore::path_of(const std::string& key) const {
  check_key(key);
  return (fs::path(root_) / key).string();
}

void DirectoryStore::put(const std::string& key, const std::string& bytes) {
  put_stream(key, static_cast<int64_t>(bytes.size()),
             [&](const ByteSink& out) { out(bytes.data(), bytes.size()); });
}

std::string DirectoryStore::get(const std::string& key, int64_t max_bytes) {
  std::string out;
  get_stream(key, max_bytes, [&](const char* p, size_t n) { out.append(p, n); });
  return out;
}

void DirectoryStore::remove(const std::string& key) {
  std::error_code ec;
  fs::remove(path_of(key), ec);  // false without error when it does not exist
  if (ec)
    throw StoreError("object store: cannot remove " + key + " from " + root_ + ": " + ec.message());
}

std::vector<std::string> DirectoryStore::list(const std::string& prefix) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(root_, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(root_, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (!it->is_regular_file()) continue;
    auto key = fs::relative(it->path(), root_).generic_string();
    if (key.rfind(prefix, 0) == 0 && key.find(".tmp.") == std::string::npos) out.push_back(key);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void DirectoryStore::put_stream(const std::string& key, int64_t size, const ByteProducer& produce) {
  fs::path p = path_of(key);
  std::error_code dir_ec;
  fs::create_directories(p.parent_path(), dir_ec);
  if (dir_ec) {
    throw StoreError("object store: cannot write " + p.string() + ": folder " +
                     p.parent_path().string() + ": " + dir_ec.message());
  }
  // Renamed whole into place, not fsynced: a blob a crash loses is asked for again.
  try {
    write_file_atomically(
        p.string(),
        [&](const ByteSink& out) {
          int64_t written = 0;
          produce([&](const char* data, size_t n) {
            written += static_cast<int64_t>(n);
            out(data, n);
          });
          if (written != size) {
            throw StoreError("object store: " + key + " was to have " + std::to_string(size) +
                             " bytes and got " + std::to_string(written));
          }
        },
        0644, Durability::kProcessCrash);
  } catch (const OutputError& e) {
    throw StoreError(std::string("object store: ") + e.what());
  }
}

void DirectoryStore::get_stream(const std::string& key, int64_t max_bytes,
                                const ByteSink& consume) {
  auto path = path_of(key);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) throw NotFoundError("object store: no object " + key + " in " + root_);
    throw StoreError("object store: cannot read " + path + ": " + std::strerror(errno));
  }
  std::unique_ptr<int, void (*)(int*)> closer(&fd, [](int* f) { ::close(*f); });
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > max_bytes) {
    throw TooLargeError("object store: object " + key + " in " + root_ + " is larger than the " +
                        std::to_string(max_bytes) + " bytes allowed");
  }
  // The size is checked again as bytes come: a file that grows cannot make us read more.
  constexpr size_t kChunk = 4 << 20;
  std::unique_ptr<char[]> buf(new char[kChunk]);
  int64_t total = 0;
  while (true) {
    ssize_t n = ::read(fd, buf.get(), kChunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw StoreError("object store: cannot read " + path + ": " + std::strerror(errno));
    if (n == 0) break;
    total += n;
    if (total > max_bytes)
      throw TooLargeError("object store: object " + key + " in " + root_ + " is larger than the " +
                          std::to_string(max_bytes) + " bytes allowed");
    consume(buf.get(), static_cast<size_t>(n));
  }
}

}  // namespace fedsilo::comm
