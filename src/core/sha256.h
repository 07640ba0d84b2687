#pragma once
// SHA-256 through OpenSSL's EVP interface, as lowercase hex: blob integrity in messages and
// S3's signed payload hash.
#include <string>
#include <string_view>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace fedsilo {

std::string sha256_hex(std::string_view bytes);

// The same digest over bytes that arrive in pieces: a streamed blob is hashed as it passes.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t n);
  // Ends the digest; the object is spent afterwards.
  std::string hex();

 private:
  evp_md_ctx_st* ctx_;
};

}  // namespace fedsilo
