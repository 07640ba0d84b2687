#pragma once
// Where model blobs live. Keys are '/'-separated paths; values are opaque bytes.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace fedsilo::comm {

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  virtual void put(const std::string& key, const std::string& bytes) = 0;
  // Throws Error naming the key when it does not exist or cannot be read.
  virtual std::string get(const std::string& key) = 0;
  virtual void remove(const std::string& key) = 0;
  virtual std::vector<std::string> list(const std::string& prefix) = 0;
};

// For simulate and tests.
class MemoryStore : public ObjectStore {
 public:
  void put(const std::string& key, const std::string& bytes) override;
  std::string get(const std::string& key) override;
  void remove(const std::string& key) override;
  std::vector<std::string> list(const std::string& prefix) override;

 private:
  std::mutex mu_;
  std::map<std::string, std::string> objects_;
};

// file://<root>: one file per key under root, written to a temporary name and renamed, so a
// reader never sees half a blob. Keys may not contain ".." or start with '/'.
class DirectoryStore : public ObjectStore {
 public:
  explicit DirectoryStore(std::string root);
  void put(const std::string& key, const std::string& bytes) override;
  std::string get(const std::string& key) override;
  void remove(const std::string& key) override;
  std::vector<std::string> list(const std::string& prefix) override;

 private:
  std::string path_of(const std::string& key) const;
  std::string root_;
};

}  // namespace fedsilo::comm
