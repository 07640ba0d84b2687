#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "comm/object_store.h"
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
  fs::path p = path_of(key);
  std::error_code dir_ec;
  fs::create_directories(p.parent_path(), dir_ec);
  if (dir_ec) {
    throw StoreError("object store: cannot write " + p.string() + ": folder " +
                     p.parent_path().string() + ": " + dir_ec.message());
  }
  fs::path tmp = p;
  tmp += ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw StoreError("object store: cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, p, ec);
  if (ec)
    throw StoreError("object store: cannot rename " + tmp.string() + " to " + p.string() + ": " +
                     ec.message());
}

std::string DirectoryStore::get(const std::string& key, int64_t max_bytes) {
  auto path = path_of(key);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!fs::exists(path, ec))
      throw NotFoundError("object store: no object " + key + " in " + root_);
    throw StoreError("object store: cannot read " + path);
  }
  // Read at most max_bytes + 1: a file that grows or lies about its size cannot make us read
  // (or allocate) more than the caller allows.
  std::string out;
  const int64_t cap = max_bytes == kNoSizeLimit ? kNoSizeLimit : max_bytes + 1;
  char buf[1 << 16];
  while (in && static_cast<int64_t>(out.size()) < cap) {
    auto want = std::min<int64_t>(sizeof(buf), cap - static_cast<int64_t>(out.size()));
    in.read(buf, want);
    out.append(buf, static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw StoreError("object store: cannot read " + path);
  if (static_cast<int64_t>(out.size()) > max_bytes)
    throw TooLargeError("object store: object " + key + " in " + root_ + " is larger than the " +
                        std::to_string(max_bytes) + " bytes allowed");
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

}  // namespace fedsilo::comm
