#pragma once
// SHA-256 through OpenSSL's EVP interface, as lowercase hex: blob integrity in messages and
// S3's signed payload hash.
#include <string>

namespace fedsilo {

std::string sha256_hex(const std::string& bytes);

}  // namespace fedsilo
