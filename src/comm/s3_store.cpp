// S3 over libcurl; long because one client holds the whole REST dialect it needs, around one
// reused handle: SigV4 requests with retries, streamed bodies both ways, multipart uploads,
// listing and the XML of answers and errors; split, each part would need the others' internals.
#include "comm/s3_store.h"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <regex>
#include <thread>

#include "core/key_file.h"
#include "core/markup_escape.h"
#include "core/sha256.h"
#include "fedsilo/error.h"

namespace fedsilo::comm {
namespace {

struct Reader {
  const std::string* data;
  size_t pos = 0;
};

size_t read_cb(char* buf, size_t size, size_t n, void* ud) {
  auto* r = static_cast<Reader*>(ud);
  size_t len = std::min(size * n, r->data->size() - r->pos);
  std::memcpy(buf, r->data->data() + r->pos, len);
  r->pos += len;
  return len;
}

struct Sink {
  std::string* out = nullptr;
  int64_t limit = kNoSizeLimit;  // for a successful response's body; error bodies are small XML
  CURL* curl = nullptr;
  bool overflow = false;
  // Streaming GET: a successful body goes to `stream` instead of `out`. `delivered` counts
  // what it got over all attempts (a retry asks for the rest with a Range header); `skip` is
  // what a server that ignored the Range sends again.
  const ByteSink* stream = nullptr;
  int64_t* delivered = nullptr;
  int64_t skip = 0;
  std::exception_ptr error;
};

size_t write_cb(char* buf, size_t size, size_t n, void* ud) {
  auto* s = static_cast<Sink*>(ud);
  long status = 0;
  curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
  size_t len = size * n;
  if (s->stream && status == 206) s->skip = 0;
  if (s->stream && status >= 200 && status < 300) {
    size_t dropped = static_cast<size_t>(std::min<int64_t>(s->skip, static_cast<int64_t>(len)));
    s->skip -= static_cast<int64_t>(dropped);
    if (*s->delivered + static_cast<int64_t>(len - dropped) > s->limit) {
      s->overflow = true;
      return 0;
    }
    try {
      if (len > dropped) (*s->stream)(buf + dropped, len - dropped);
    } catch (...) {
      s->error = std::current_exception();  // never through curl's C frames
      return 0;
    }
    *s->delivered += static_cast<int64_t>(len - dropped);
    return len;
  }
  bool body_limited = status < 300 || s->out->size() + len > (1u << 20);
  if (body_limited && static_cast<int64_t>(s->out->size() + len) > s->limit) {
    s->overflow = true;
    return 0;  // curl stops the transfer
  }
  s->out->append(buf, len);
  return len;
}

size_t header_cb(char* buf, size_t size, size_t n, void* ud) {
  std::string line(buf, size * n);
  if (line.size() > 5 && strncasecmp(line.c_str(), "etag:", 5) == 0) {
    auto v = line.substr(5);
    v.erase(0, v.find_first_not_of(" \t"));
    v.erase(v.find_last_not_of(" \t\r\n") + 1);
    *static_cast<std::string*>(ud) = v;
  }
  return size * n;
}

std::string xml_value(const std::string& body, const std::string& tag) {
  auto open = "<" + tag + ">", close = "</" + tag + ">";
  auto a = body.find(open);
  if (a == std::string::npos) return "";
  a += open.size();
  auto b = body.find(close, a);
  return b == std::string::npos ? "" : body.substr(a, b - a);
}

std::string xml_unescape(std::string s) {
  const std::pair<const char*, const char*> ents[] = {
      {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}, {"&amp;", "&"}};
  for (const auto& [from, to] : ents) {
    for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + 1))
      s.replace(p, std::strlen(from), to);
  }
  return s;
}

std::string escape_path(CURL* c, const std::string& key) {
  std::string out;
  size_t start = 0;
  while (true) {
    auto slash = key.find('/', start);
    auto part = key.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    char* e = curl_easy_escape(c, part.c_str(), static_cast<int>(part.size()));
    out += e;
    curl_free(e);
    if (slash == std::string::npos) break;
    out += '/';
    start = slash + 1;
  }
  return out;
}

}  // namespace

S3Options load_s3_options(const std::string& path) {
  config::KeyFile y(path, {"BUCKET_NAME", "CN_S3_AKI", "CN_S3_SAK", "CN_REGION_NAME", "S3_ENDPOINT",
                           "S3_PATH_STYLE", "S3_MULTIPART_THRESHOLD_MB", "S3_PART_SIZE_MB"});
  S3Options o;
  o.bucket = y.text("BUCKET_NAME", "");
  if (o.bucket.empty()) throw ConfigError("config file " + path + ": BUCKET_NAME is required");
  o.access_key = y.text("CN_S3_AKI", "");
  o.secret_key = y.text("CN_S3_SAK", "");
  o.region = y.text("CN_REGION_NAME", o.region);
  o.endpoint = y.text("S3_ENDPOINT", "");
  o.path_style = y.boolean("S3_PATH_STYLE", !o.endpoint.empty());
  o.multipart_threshold = y.integer("S3_MULTIPART_THRESHOLD_MB", 64, 5, 5 * 1024 * 1024) << 20;
  o.part_size = y.integer("S3_PART_SIZE_MB", 16, 5, 5 * 1024) << 20;
  auto env = [](const char* a, const char* b) -> const char* {
    if (const char* v = std::getenv(a)) return v;
    return std::getenv(b);
  };
  if (const char* v = env("FEDSILO_S3_ACCESS_KEY", "AWS_ACCESS_KEY_ID")) o.access_key = v;
  if (const char* v = env("FEDSILO_S3_SECRET_KEY", "AWS_SECRET_ACCESS_KEY")) o.secret_key = v;
  if (o.access_key.empty() || o.secret_key.empty()) {
    throw ConfigError("config file " + path +
                      ": CN_S3_AKI and CN_S3_SAK (or FEDSILO_S3_ACCESS_KEY and "
                      "FEDSILO_S3_SECRET_KEY) are required");
  }
  return o;
}

S3Store::S3Store(S3Options options) : o_(std::move(options)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
  if (!curl_) throw StoreError("s3: cannot create a curl handle");
  if (o_.endpoint.empty()) {
    o_.endpoint = "https://s3." + o_.region + ".amazonaws.com";
  }
  while (!o_.endpoint.empty() && o_.endpoint.back() == '/') o_.endpoint.pop_back();
}

S3Store::~S3Store() { curl_easy_cleanup(curl_); }

std::string S3Store::url(const std::string& key, const std::string& query) const {
  std::string base = o_.endpoint;
  if (o_.path_style) {
    base += "/" + o_.bucket;
  } else {
    auto scheme = base.find("://");
    base.insert(scheme + 3, o_.bucket + ".");
  }
  std::string u = base + "/" + (key.empty() ? "" : escape_path(curl_, key));
  if (!query.empty()) u += "?" + query;
  return u;
}

S3Store::Response S3Store::request(const std::string& method, const std::string& key,
                                   const std::string& query, const std::string* body,
                                   const std::string& what, int64_t max_body,
                                   const ByteSink* stream,
                                   const std::vector<std::string>& extra_headers) {
  if (!key.empty()) check_key(key);  // bucket-level requests have no key
  std::lock_guard<std::mutex> lock(mu_);
  std::string error;
  int64_t delivered = 0;
  for (int attempt = 0; attempt <= o_.retries; ++attempt) {
    if (attempt > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(200 << attempt));  // back off
    Response r;
    Reader reader{body};
    ++stats_.requests;
    curl_easy_reset(curl_);
    std::string target = url(key, query);
    curl_easy_setopt(curl_, CURLOPT_URL, target.c_str());
    curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
    std::string sigv4 = "aws:amz:" + o_.region + ":s3";
    curl_easy_setopt(curl_, CURLOPT_AWS_SIGV4, sigv4.c_str());
    curl_easy_setopt(curl_, CURLOPT_USERNAME, o_.access_key.c_str());
    curl_easy_setopt(curl_, CURLOPT_PASSWORD, o_.secret_key.c_str());
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(curl_, CURLOPT_LOW_SPEED_LIMIT, 1024L);  // abort a stalled transfer
    curl_easy_setopt(curl_, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, write_cb);
    Sink sink;
    sink.out = &r.body;
    sink.limit = max_body;
    sink.curl = curl_;
    sink.stream = stream;
    sink.delivered = &delivered;
    sink.skip = delivered;  // dropped unless the server honours the Range (206)
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &r.etag);
    if (method == "HEAD") curl_easy_setopt(curl_, CURLOPT_NOBODY, 1L);
    curl_slist* headers = nullptr;
    // The payload hash is part of the signature, so a body altered in transit is refused.
    std::string payload_hash = "x-amz-content-sha256: " + sha256_hex(body ? *body : std::string());
    headers = curl_slist_append(headers, payload_hash.c_str());
    headers = curl_slist_append(headers, "Expect:");
    std::string range = "Range: bytes=" + std::to_string(delivered) + "-";
    if (stream && delivered > 0) headers = curl_slist_append(headers, range.c_str());
    for (const auto& h : extra_headers) headers = curl_slist_append(headers, h.c_str());
    if (body) {
      curl_easy_setopt(curl_, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(curl_, CURLOPT_READFUNCTION, read_cb);
      curl_easy_setopt(curl_, CURLOPT_READDATA, &reader);
      curl_easy_setopt(curl_, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body->size()));
      bool typed = false;
      for (const auto& h : extra_headers) typed = typed || h.rfind("Content-Type:", 0) == 0;
      if (!typed) headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
    }
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    CURLcode rc = curl_easy_perform(curl_);
    curl_slist_free_all(headers);
    if (sink.error) std::rethrow_exception(sink.error);
    if (sink.overflow) {
      throw TooLargeError("s3: " + what + ": the object is larger than the " +
                          std::to_string(max_body) + " bytes allowed");
    }
    if (rc != CURLE_OK) {
      error = std::string(curl_easy_strerror(rc));
      continue;
    }
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
    if (stream && r.status == 206) r.status = 200;  // the rest of a streamed body
    if (r.status >= 500) {
      error = "HTTP " + std::to_string(r.status);
      continue;
    }
    return r;
  }
  throw StoreError("s3: " + what + " at " + o_.endpoint + " failed after " +
                   std::to_string(o_.retries + 1) + " attempts: " + error);
}

namespace {
[[noreturn]] void fail(const std::string& what, const S3Store::Response& r) {
  std::string code = xml_value(r.body, "Code"), message = xml_value(r.body, "Message");
  throw StoreError("s3: " + what + ": HTTP " + std::to_string(r.status) +
                   (code.empty() ? "" : " " + code) +
                   (message.empty() ? "" : " (" + message + ")"));
}
}  // namespace

void S3Store::put(const std::string& key, const std::string& bytes) {
  if (static_cast<int64_t>(bytes.size()) > o_.multipart_threshold) return put_multipart(key, bytes);
  auto what = "PUT " + o_.bucket + "/" + key;
  auto r = request("PUT", key, "", &bytes, what);
  if (r.status != 200) fail(what, r);
}

// One multipart upload: begin, parts in order, complete; aborted when dropped unfinished, so
// no orphaned parts are billed.
class S3Store::Multipart {
 public:
  Multipart(S3Store& s3, const std::string& key)
      : s3_(s3), key_(key), what_("multipart upload of " + s3.o_.bucket + "/" + key) {
    auto init = s3_.request("POST", key, "uploads=", nullptr, what_);
    if (init.status != 200) fail(what_, init);
    std::string upload_id = xml_value(init.body, "UploadId");
    if (upload_id.empty()) throw StoreError("s3: " + what_ + ": no UploadId in the answer");
    char* esc = curl_easy_escape(s3_.curl_, upload_id.c_str(), static_cast<int>(upload_id.size()));
    id_q_ = std::string("uploadId=") + esc;
    curl_free(esc);
  }
  ~Multipart() {
    if (done_) return;
    try {
      s3_.request("DELETE", key_, id_q_, nullptr, "abort " + what_);
    } catch (const std::exception& e) {
      SPDLOG_WARN("s3: {}: abort failed: {}", what_, e.what());
    }
  }
  void add(const std::string& chunk) {
    auto part = std::to_string(++parts_);
    auto r = s3_.request("PUT", key_, "partNumber=" + part + "&" + id_q_, &chunk,
                         what_ + ", part " + part);
    if (r.status != 200 || r.etag.empty()) fail(what_ + ", part " + part, r);
    ++s3_.stats_.parts;
    s3_.stats_.peak_part_buffer =
        std::max(s3_.stats_.peak_part_buffer, static_cast<int64_t>(chunk.capacity()));
    complete_ += "<Part><PartNumber>" + part + "</PartNumber><ETag>" + r.etag + "</ETag></Part>";
  }
  void complete() {
    std::string body = "<CompleteMultipartUpload>" + complete_ + "</CompleteMultipartUpload>";
    auto done = s3_.request("POST", key_, id_q_, &body, what_);
    // S3 may answer 200 with an <Error> body when completion fails late.
    if (done.status != 200 || done.body.find("<Error>") != std::string::npos) fail(what_, done);
    done_ = true;
  }

 private:
  S3Store& s3_;
  std::string key_, what_, id_q_, complete_;
  int parts_ = 0;
  bool done_ = false;
};

void S3Store::put_multipart(const std::string& key, const std::string& bytes) {
  Multipart upload(*this, key);
  for (size_t off = 0; off < bytes.size(); off += o_.part_size)
    upload.add(bytes.substr(off, o_.part_size));
  upload.complete();
}

void S3Store::put_stream(const std::string& key, int64_t size, const ByteProducer& produce) {
  check_key(key);
  auto short_by = [&](int64_t got) {
    return StoreError("s3: " + key + " was to have " + std::to_string(size) + " bytes and got " +
                      std::to_string(got));
  };
  if (size <= o_.multipart_threshold) return ObjectStore::put_stream(key, size, produce);
  // One part in memory at a time: it is signed (its sha256 is in the request) and sent while
  // the producer waits, so a model of any size costs part_size bytes here.
  Multipart upload(*this, key);
  std::string part;
  part.reserve(static_cast<size_t>(o_.part_size));
  int64_t total = 0;
  produce([&](const char* p, size_t n) {
    total += static_cast<int64_t>(n);
    if (total > size) throw short_by(total);
    while (n > 0) {
      size_t take = std::min(n, static_cast<size_t>(o_.part_size) - part.size());
      part.append(p, take);
      p += take;
      n -= take;
      if (static_cast<int64_t>(part.size()) == o_.part_size) {
        upload.add(part);
        part.clear();
      }
    }
  });
  if (total != size) throw short_by(total);
  if (!part.empty()) upload.add(part);
  upload.complete();
}

void S3Store::get_stream(const std::string& key, int64_t max_bytes, const ByteSink& consume) {
  auto what = "GET " + o_.bucket + "/" + key;
  auto r = request("GET", key, "", nullptr, what, max_bytes, &consume);
  if (r.status == 404)
    throw NotFoundError("object store: no object " + key + " in bucket " + o_.bucket);
  if (r.status != 200) fail(what, r);
}

std::string S3Store::get(const std::string& key, int64_t max_bytes) {
  auto what = "GET " + o_.bucket + "/" + key;
  auto r = request("GET", key, "", nullptr, what, max_bytes);
  if (r.status == 404)
    throw NotFoundError("object store: no object " + key + " in bucket " + o_.bucket);
  if (r.status != 200) fail(what, r);
  return std::move(r.body);
}

void S3Store::remove(const std::string& key) {
  auto what = "DELETE " + o_.bucket + "/" + key;
  auto r = request("DELETE", key, "", nullptr, what);
  if (r.status != 204 && r.status != 200 && r.status != 404) fail(what, r);
}

namespace {
// S3 refuses a DeleteObjects body without its MD5 (base64) in Content-MD5.
std::string content_md5(const std::string& body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(body.data(), body.size(), digest, &n, EVP_md5(), nullptr) != 1)
    throw StoreError("s3: cannot compute Content-MD5");
  unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  int len = EVP_EncodeBlock(b64, digest, static_cast<int>(n));
  return "Content-MD5: " + std::string(reinterpret_cast<char*>(b64), static_cast<size_t>(len));
}
}  // namespace

void S3Store::remove_all(const std::vector<std::string>& keys) {
  constexpr size_t kPerRequest = 1000;  // S3's limit
  for (const auto& key : keys) check_key(key);
  for (size_t begin = 0; begin < keys.size(); begin += kPerRequest) {
    size_t end = std::min(keys.size(), begin + kPerRequest);
    // Quiet: the answer lists only the keys that could not be removed.
    std::string body =
        "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>";
    for (size_t i = begin; i < end; ++i)
      body += "<Object><Key>" + escape_markup(keys[i]) + "</Key></Object>";
    body += "</Delete>";
    auto what = "DeleteObjects " + o_.bucket + " (" + std::to_string(end - begin) + " keys, " +
                keys[begin] + " ...)";
    auto r = request("POST", "", "delete=", &body, what, kNoSizeLimit, nullptr,
                     {content_md5(body), "Content-Type: application/xml"});
    if (r.status != 200) fail(what, r);
    // A 200 may still name keys it could not remove.
    auto error = r.body.find("<Error>");
    if (error != std::string::npos) {
      std::string rest = r.body.substr(error);
      throw StoreError("s3: " + what + ": could not remove " + xml_value(rest, "Key") + ": " +
                       xml_value(rest, "Code") + " (" + xml_value(rest, "Message") + ")");
    }
  }
}

std::vector<std::string> S3Store::list(const std::string& prefix) {
  std::vector<std::string> keys;
  std::string token;
  while (true) {
    char* p = curl_easy_escape(curl_, prefix.c_str(), static_cast<int>(prefix.size()));
    std::string q = std::string("list-type=2&prefix=") + p;
    curl_free(p);
    if (!token.empty()) {
      char* t = curl_easy_escape(curl_, token.c_str(), static_cast<int>(token.size()));
      q = std::string("continuation-token=") + t + "&" + q;  // query parameters in sorted order
      curl_free(t);
    }
    auto what = "LIST " + o_.bucket + "/" + prefix;
    auto r = request("GET", "", q, nullptr, what);
    if (r.status != 200) fail(what, r);
    static const std::regex key_re("<Key>([^<]*)</Key>");
    for (auto it = std::sregex_iterator(r.body.begin(), r.body.end(), key_re);
         it != std::sregex_iterator(); ++it) {
      keys.push_back(xml_unescape((*it)[1].str()));
    }
    if (xml_value(r.body, "IsTruncated") != "true") break;
    token = xml_unescape(xml_value(r.body, "NextContinuationToken"));
    if (token.empty()) break;
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

void S3Store::ensure_bucket() {
  auto head = request("HEAD", "", "", nullptr, "HEAD bucket " + o_.bucket);
  if (head.status == 200) return;
  if (head.status != 404) fail("HEAD bucket " + o_.bucket, head);
  std::string empty;
  auto r = request("PUT", "", "", &empty, "create bucket " + o_.bucket);
  if (r.status != 200) fail("create bucket " + o_.bucket, r);
  SPDLOG_INFO("s3: created bucket {} at {}", o_.bucket, o_.endpoint);
}

}  // namespace fedsilo::comm
