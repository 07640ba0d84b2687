#pragma once
// An object store that counts the bytes moving through it, for progress reports: a silo that
// is still moving a large model is alive even when a round takes long.
#include <atomic>

#include "comm/object_store.h"

namespace fedsilo::comm {

class CountingStore : public ObjectStore {
 public:
  explicit CountingStore(ObjectStore& inner) : inner_(inner) {}
  // Bytes put and got so far; read from any thread.
  int64_t bytes_moved() const { return bytes_.load(std::memory_order_relaxed); }

  void put(const std::string& key, const std::string& bytes) override {
    inner_.put(key, bytes);
    add(bytes.size());
  }
  using ObjectStore::get;
  std::string get(const std::string& key, int64_t max_bytes) override {
    auto bytes = inner_.get(key, max_bytes);
    add(bytes.size());
    return bytes;
  }
  void remove(const std::string& key) override { inner_.remove(key); }
  void remove_all(const std::vector<std::string>& keys) override { inner_.remove_all(keys); }
  std::vector<std::string> list(const std::string& prefix) override { return inner_.list(prefix); }
  void put_stream(const std::string& key, int64_t size, const ByteProducer& produce) override {
    inner_.put_stream(key, size, [&](const ByteSink& out) {
      produce([&](const char* p, size_t n) {
        out(p, n);
        add(n);
      });
    });
  }
  void get_stream(const std::string& key, int64_t max_bytes, const ByteSink& consume) override {
    inner_.get_stream(key, max_bytes, [&](const char* p, size_t n) {
      consume(p, n);
      add(n);
    });
  }

 private:
  void add(size_t n) { bytes_.fetch_add(static_cast<int64_t>(n), std::memory_order_relaxed); }
  ObjectStore& inner_;
  std::atomic<int64_t> bytes_{0};
};

}  // namespace fedsilo::comm
