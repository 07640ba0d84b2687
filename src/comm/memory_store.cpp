#include "comm/object_store.h"

#include <exception>

#include "fedsilo/error.h"

namespace fedsilo::comm {

void check_key(const std::string& key) {
  bool bad = key.empty() || key.front() == '/';
  size_t start = 0;
  while (!bad && start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string::npos) end = key.size();
    std::string_view seg(key.data() + start, end - start);
    bad = seg.empty() || seg == "." || seg == "..";
    start = end + 1;
  }
  if (bad) throw Error("object store: invalid key '" + key + "' (empty, absolute or dot segment)");
}

void ObjectStore::put_stream(const std::string& key, int64_t size, const ByteProducer& produce) {
  std::string bytes;
  bytes.reserve(static_cast<size_t>(size));
  produce([&](const char* p, size_t n) { bytes.append(p, n); });
  if (static_cast<int64_t>(bytes.size()) != size) {
    throw StoreError("object store: " + key + " was to have " + std::to_string(size) +
                     " bytes and got " + std::to_string(bytes.size()));
  }
  put(key, bytes);
}

void ObjectStore::remove_all(const std::vector<std::string>& keys) {
  std::exception_ptr first;
  for (const auto& key : keys) {
    try {
      remove(key);
    } catch (const Error&) {
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
}

void ObjectStore::get_stream(const std::string& key, int64_t max_bytes, const ByteSink& consume) {
  std::string bytes = get(key, max_bytes);
  consume(bytes.data(), bytes.size());
}

void MemoryStore::put(const std::string& key, const std::string& bytes) {
  check_key(key);
  std::lock_guard<std::mutex> lock(mu_);
  objects_[key] = bytes;
}

std::string MemoryStore::get(const std::string& key, int64_t max_bytes) {
  check_key(key);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) throw NotFoundError("object store: no object " + key);
  if (static_cast<int64_t>(it->second.size()) > max_bytes)
    throw TooLargeError("object store: object " + key + " has " +
                        std::to_string(it->second.size()) + " bytes, more than the " +
                        std::to_string(max_bytes) + " allowed");
  return it->second;
}

void MemoryStore::remove(const std::string& key) {
  check_key(key);
  std::lock_guard<std::mutex> lock(mu_);
  objects_.erase(key);
}

std::vector<std::string> MemoryStore::list(const std::string& prefix) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (auto it = objects_.lower_bound(prefix);
       it != objects_.end() && it->first.rfind(prefix, 0) == 0; ++it) {
    out.push_back(it->first);
  }
  return out;
}

}  // namespace fedsilo::comm
