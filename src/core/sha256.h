#pragma once
// SHA-256 through OpenSSL's EVP interface, as lowercase hex: blob integrity in messages and
// S3's signed payload hash.
#include <string>
#include <string_view>

namespace fedsilo {

std::string sha256_hex(std::string_view bytes);

}  // namespace fedsilo
