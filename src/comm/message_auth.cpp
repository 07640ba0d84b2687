#include "comm/message_auth.h"

#include <fcntl.h>
#include <sodium.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <limits>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/file_write.h"
#include "fedsilo/error.h"

namespace fedsilo::comm {
namespace fs = std::filesystem;

namespace {

std::string to_hex(const unsigned char* p, size_t n) {
  std::string out(2 * n + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), p, n);
  out.pop_back();
  return out;
}

template <size_t N>
std::array<unsigned char, N> read_hex_key(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Error("signing key " + path.string() + ": cannot be read");
  std::string hex;
  in >> hex;
  std::array<unsigned char, N> key{};
  size_t len = 0;
  if (hex.size() != 2 * N ||
      sodium_hex2bin(key.data(), N, hex.data(), hex.size(), nullptr, &len, nullptr) != 0 ||
      len != N) {
    throw Error("signing key " + path.string() + ": expected " + std::to_string(2 * N) +
                " hex digits");
  }
  return key;
}

// Written under a temporary name and renamed: a reader never sees half a key.
}  // namespace

std::string MessageAuth::party_name(int64_t id) {
  return id == 0 ? "server" : "silo_" + std::to_string(id);
}

MessageAuth::MessageAuth(std::string key_dir, int64_t self_id)
    : dir_(std::move(key_dir)), self_(self_id) {
  if (sodium_init() < 0) throw Error("libsodium could not be initialised");
  fs::path secret_path = fs::path(dir_) / (party_name(self_) + ".secret");
  std::error_code ec;
  fs::path counter = fs::path(dir_) / (party_name(self_) + ".session");
  if (!fs::exists(secret_path, ec) && fs::exists(counter, ec)) {
    // The party ran from this folder before: a new key would be a new identity its peers do
    // not know, and every message it signs would be dropped.
    throw ConfigError("signing key " + secret_path.string() + " is missing, but " +
                      party_name(self_) + " has run from this key folder before (" +
                      counter.string() +
                      "); restore the key from a backup, or delete the counter to make a new "
                      "identity (its public key must then reach every peer)");
  }
  if (!fs::exists(secret_path, ec)) {
    fs::create_directories(dir_, ec);
    if (ec) throw Error("signing keys: cannot create the folder " + dir_ + ": " + ec.message());
    ::chmod(dir_.c_str(), 0700);
    std::array<unsigned char, 32> pub{};
    crypto_sign_keypair(pub.data(), secret_.data());
    write_file_atomically(secret_path, to_hex(secret_.data(), secret_.size()) + "\n", 0600);
    write_file_atomically(fs::path(dir_) / (party_name(self_) + ".pub"),
                          to_hex(pub.data(), pub.size()) + "\n", 0644);
    SPDLOG_INFO("made a signing key for {} in {} (first start)", party_name(self_), dir_);
  } else {
    secret_ = read_hex_key<64>(secret_path);
  }
}

int64_t MessageAuth::begin_session() const {
  std::string path = (fs::path(dir_) / (party_name(self_) + ".session")).string();
  auto fail = [&](const std::string& what) {
    return Error("session counter " + path + ": " + what + ": " + std::strerror(errno));
  };
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw fail("cannot be opened");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  // Two processes of one party (or two runs) starting at once still get distinct sessions.
  if (::flock(fd, LOCK_EX) != 0) throw fail("cannot be locked");
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  if (n < 0) throw fail("cannot be read");
  std::string text(buf, static_cast<size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  int64_t last = 0;
  if (text.empty()) {
    last = std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
    SPDLOG_INFO("no session counter for {} in {}: starting it (first start of this key folder)",
                party_name(self_), dir_);
  } else {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), last);
    if (ec != std::errc() || end != text.data() + text.size() || last < 0 ||
        last == std::numeric_limits<int64_t>::max()) {
      errno = EINVAL;
      throw fail("holds '" + text.substr(0, 24) + "', not a session number");
    }
  }
  int64_t next = last + 1;
  // Fixed width: the new number overwrites the old one whole, never leaving a longer tail.
  std::string out = fmt::format("{:019d}\n", next);
  if (::pwrite(fd, out.data(), out.size(), 0) != static_cast<ssize_t>(out.size()))
    throw fail("cannot be written");
  if (::fsync(fd) != 0) throw fail("cannot be synced");
  return next;
}

std::string MessageAuth::seal(const std::string& payload) const {
  std::string wire(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(wire.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(payload.data()), payload.size(),
                       secret_.data());
  return wire + payload;
}

const std::array<unsigned char, 32>& MessageAuth::public_key_of(int64_t sender) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peers_.find(sender);
  if (it != peers_.end()) return it->second;
  fs::path path = fs::path(dir_) / (party_name(sender) + ".pub");
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    throw ProtocolError("no public key for " + party_name(sender) + " (looked for " +
                        path.string() + "; provision it, or share the key folder)");
  }
  try {
    return peers_.emplace(sender, read_hex_key<32>(path)).first->second;
  } catch (const Error& e) {
    throw ProtocolError(e.what());
  }
}

std::string MessageAuth::open(const std::string& wire, int64_t sender) {
  if (wire.size() <= crypto_sign_BYTES)
    throw ProtocolError("message is too short to carry a signature (unsigned?)");
  const auto& key = public_key_of(sender);
  auto* p = reinterpret_cast<const unsigned char*>(wire.data());
  if (crypto_sign_verify_detached(p, p + crypto_sign_BYTES, wire.size() - crypto_sign_BYTES,
                                  key.data()) != 0) {
    throw ProtocolError("signature does not verify with " + party_name(sender) + "'s key");
  }
  return wire.substr(crypto_sign_BYTES);
}

}  // namespace fedsilo::comm
