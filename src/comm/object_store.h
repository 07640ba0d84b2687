#pragma once
// Where model blobs live. Keys are '/'-separated paths; values are opaque bytes. Every store
// keeps the same contract, so callers handle one set of errors:
//   get     a missing key throws NotFoundError naming it; an object larger than `max_bytes`
//           throws TooLargeError without reading more than max_bytes + 1 bytes of it; any
//           other failure throws StoreError;
//   remove  a missing key is not an error (S3's DELETE semantics); any other failure throws
//           StoreError;
//   keys    empty, absolute or '..' segments are refused with Error before any I/O.
// put_stream and get_stream move a blob without holding it whole: a store keeps at most a
// bounded buffer (S3: one part) in memory.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/byte_stream.h"
#include "fedsilo/error.h"

namespace fedsilo::comm {

class NotFoundError : public Error {
 public:
  using Error::Error;
};

class TooLargeError : public Error {
 public:
  using Error::Error;
};

constexpr int64_t kNoSizeLimit = INT64_MAX;

// Throws Error naming `key` when it is empty, starts with '/', or has an empty, "." or ".."
// segment: such a key could name an object outside the store's folder or bucket.
void check_key(const std::string& key);

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  virtual void put(const std::string& key, const std::string& bytes) = 0;
  virtual std::string get(const std::string& key, int64_t max_bytes) = 0;
  std::string get(const std::string& key) { return get(key, kNoSizeLimit); }
  virtual void remove(const std::string& key) = 0;
  // Removes every key (an absent one is no error), in fewer requests where the store can (S3:
  // one DeleteObjects per 1,000 keys). Tries them all, then throws the first error. The default
  // calls remove() for each.
  virtual void remove_all(const std::vector<std::string>& keys);
  virtual std::vector<std::string> list(const std::string& prefix) = 0;
  // Stores what `produce` writes, which must be exactly `size` bytes (else StoreError and
  // nothing is stored). The default collects the bytes and calls put().
  virtual void put_stream(const std::string& key, int64_t size, const ByteProducer& produce);
  // Hands the object's bytes to `consume` in order, with get()'s errors; an exception from
  // `consume` stops the transfer and is rethrown. The default calls get().
  virtual void get_stream(const std::string& key, int64_t max_bytes, const ByteSink& consume);
};

// For simulate and tests.
class MemoryStore : public ObjectStore {
 public:
  using ObjectStore::get;
  void put(const std::string& key, const std::string& bytes) override;
  std::string get(const std::string& key, int64_t max_bytes) override;
  void remove(const std::string& key) override;
  std::vector<std::string> list(const std::string& prefix) override;

 private:
  std::mutex mu_;
  std::map<std::string, std::string> objects_;
};

// file://<root>: one file per key under root, written to a temporary name and renamed, so a
// reader never sees half a blob.
class DirectoryStore : public ObjectStore {
 public:
  explicit DirectoryStore(std::string root);
  using ObjectStore::get;
  void put(const std::string& key, const std::string& bytes) override;
  std::string get(const std::string& key, int64_t max_bytes) override;
  void remove(const std::string& key) override;
  std::vector<std::string> list(const std::string& prefix) override;
  void put_stream(const std::string& key, int64_t size, const ByteProducer& produce) override;
  void get_stream(const std::string& key, int64_t max_bytes, const ByteSink& consume) override;

 private:
  std::string path_of(const std::string& key) const;
  std::string root_;
};

}  // namespace fedsilo::comm
