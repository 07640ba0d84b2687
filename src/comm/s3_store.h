#pragma once
// S3 (AWS, MinIO, Ceph RGW, s3rver, ...) through libcurl, signed with AWS Signature V4
// (CURLOPT_AWS_SIGV4). Objects are private: no ACL header is ever sent, nothing is presigned.
// put_stream and get_stream keep one part (part_size) in memory at most: objects over
// multipart_threshold go up in parts as they are produced, and a GET hands its body over as it
// arrives, resuming with a Range request after a dropped connection.
#include <curl/curl.h>

#include <memory>
#include <mutex>
#include <string>

#include "comm/object_store.h"

namespace fedsilo::comm {

struct S3Options {
  std::string endpoint;  // e.g. http://127.0.0.1:4568; empty = AWS for `region`
  std::string bucket;
  std::string region = "us-east-1";
  std::string access_key;
  std::string secret_key;
  bool path_style = true;  // MinIO-like servers; AWS without an endpoint uses virtual hosts
  int64_t multipart_threshold = 64ll << 20;
  int64_t part_size = 16ll << 20;  // S3 needs >= 5 MiB for all parts but the last
  int retries = 3;                 // for connection errors and 5xx answers
};

// s3_config.yaml: FedML's BUCKET_NAME, CN_S3_AKI, CN_S3_SAK, CN_REGION_NAME plus S3_ENDPOINT,
// S3_PATH_STYLE, S3_MULTIPART_THRESHOLD_MB, S3_PART_SIZE_MB. The keys may come from the
// environment instead: FEDSILO_S3_ACCESS_KEY / FEDSILO_S3_SECRET_KEY (or AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY) override the file.
S3Options load_s3_options(const std::string& path);

class S3Store : public ObjectStore {
 public:
  explicit S3Store(S3Options options);
  ~S3Store() override;

  void put(const std::string& key, const std::string& bytes) override;
  using ObjectStore::get;
  std::string get(const std::string& key, int64_t max_bytes) override;
  void remove(const std::string& key) override;
  // One DeleteObjects request per 1,000 keys: a round's old blobs go in one request, not three
  // (each takes an s3rver 1.5-2 ms, and they queue in front of the silos' next requests).
  void remove_all(const std::vector<std::string>& keys) override;
  std::vector<std::string> list(const std::string& prefix) override;
  void put_stream(const std::string& key, int64_t size, const ByteProducer& produce) override;
  void get_stream(const std::string& key, int64_t max_bytes, const ByteSink& consume) override;
  // Creates the bucket when it does not exist yet.
  void ensure_bucket();

  // What streamed uploads cost: parts sent, and the largest part buffer held; and HTTP
  // requests sent (retries included).
  struct Stats {
    int64_t parts = 0;
    int64_t peak_part_buffer = 0;
    int64_t requests = 0;
  };
  Stats stats() const { return stats_; }

  struct Response {
    long status = 0;
    std::string body;
    std::string etag;
  };

 private:
  class Multipart;
  // A response body longer than `max_body` is cut off there and reported as TooLargeError.
  // With `stream`, a successful body goes there as it arrives instead of into the response.
  Response request(const std::string& method, const std::string& key, const std::string& query,
                   const std::string* body, const std::string& what,
                   int64_t max_body = kNoSizeLimit, const ByteSink* stream = nullptr,
                   const std::vector<std::string>& headers = {});
  std::string url(const std::string& key, const std::string& query) const;
  void put_multipart(const std::string& key, const std::string& bytes);

  S3Options o_;
  Stats stats_;
  std::mutex mu_;  // one easy handle, reused for connection keep-alive
  CURL* curl_ = nullptr;
};

}  // namespace fedsilo::comm
