#include "core/file_write.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "fedsilo/error.h"

namespace fedsilo {
namespace {

// What a full disk needs said: how much was being written and how much room there is.
std::string write_failure(const std::string& file, int err, uint64_t written) {
  std::string why = std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) {
    struct statvfs st {};
    auto dir = std::filesystem::path(file).parent_path().string();
    if (::statvfs(dir.c_str(), &st) == 0) {
      why += " (" + std::to_string(written) + " bytes written before it; " +
             std::to_string(static_cast<uint64_t>(st.f_bavail) * st.f_frsize) + " bytes free in " +
             dir + ")";
    }
  }
  return "file " + file + ": cannot be written: " + why;
}

}  // namespace

void write_file_atomically(const std::string& path, const std::string& text, mode_t mode) {
  write_file_atomically(
      path, [&](const ByteSink& out) { out(text.data(), text.size()); }, mode);
}

void write_file_atomically(const std::string& path, const ByteProducer& produce, mode_t mode) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  // O_EXCL with the final mode: the bytes are never readable under another mode.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw OutputError(write_failure(tmp, errno, 0));
  uint64_t written = 0;
  auto write_all = [&](const char* p, size_t left) {
    while (left > 0) {
      // 1 MiB per call: one huge write() is several times slower (see directory_store.cpp).
      ssize_t n = ::write(fd, p, std::min<size_t>(left, 1 << 20));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw OutputError(write_failure(tmp, n < 0 ? errno : ENOSPC, written));
      written += static_cast<uint64_t>(n);
      p += n;
      left -= static_cast<size_t>(n);
    }
  };
  try {
    produce(write_all);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  // fchmod: the umask may have narrowed `mode` at creation (never widened). fsync before the
  // rename: after a crash or power loss the path holds the old bytes or the new, never a hole.
  if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0 || ::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw OutputError(write_failure(tmp, err, written));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    ::unlink(tmp.c_str());
    throw OutputError("file " + path + ": cannot be replaced: " + ec.message());
  }
}

}  // namespace fedsilo
