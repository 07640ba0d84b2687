#include "core/file_write.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "fedsilo/error.h"

namespace fedsilo {

void write_file_atomically(const std::string& path, const std::string& text, mode_t mode) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  // O_EXCL with the final mode: the bytes are never readable under another mode.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw StoreError("file " + tmp + ": cannot be created: " + std::strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      throw StoreError("file " + tmp + ": cannot be written: " + why);
    }
    done += static_cast<size_t>(n);
  }
  // fchmod: the umask may have narrowed `mode` at creation (never widened). fsync before the
  // rename: after a crash or power loss the path holds the old bytes or the new, never a hole.
  if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    throw StoreError("file " + tmp + ": cannot be written: " + std::strerror(errno));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    ::unlink(tmp.c_str());
    throw StoreError("file " + path + ": cannot be replaced: " + ec.message());
  }
}

}  // namespace fedsilo
