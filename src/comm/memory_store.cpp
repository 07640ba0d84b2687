#include "comm/object_store.h"
#include "fedsilo/error.h"

namespace fedsilo::comm {

void MemoryStore::put(const std::string& key, const std::string& bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  objects_[key] = bytes;
}

std::string MemoryStore::get(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) throw Error("object store: no object " + key);
  return it->second;
}

void MemoryStore::remove(const std::string& key) {
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
