#include "core/folder_lock.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <string>

#include "fedsilo/error.h"

namespace fedsilo {
namespace fs = std::filesystem;

FolderLock::FolderLock(const std::string& folder) {
  std::string path = (fs::path(folder) / ".lock").string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw StoreError("run folder lock " + path + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {};
    ssize_t n = ::pread(fd_, buf, sizeof(buf) - 1, 0);
    std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "?";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    ::close(fd_);
    fd_ = -1;
    throw ConfigError("run folder " + folder + " is in use by another server (pid " + holder +
                      "); one run has one server: stop that one first, or use another --run_id");
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
    // The lock holds without the pid; only the message naming the holder is poorer.
  }
}

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);
}

int remove_stale_temporaries(const std::string& folder) {
  int removed = 0;
  auto sweep = [&](const fs::path& dir) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      std::string name = e.path().filename().string();
      auto at = name.rfind(".tmp.");
      if (at == std::string::npos || !e.is_regular_file(ec)) continue;
      const char* digits = name.c_str() + at + 5;
      const char* end = name.c_str() + name.size();
      int pid = 0;
      auto [p, err] = std::from_chars(digits, end, pid);
      if (err != std::errc() || p != end || pid <= 0) continue;
      if (::kill(pid, 0) == 0 || errno != ESRCH) continue;  // its writer may still be at work
      if (fs::remove(e.path(), ec)) ++removed;
    }
  };
  std::error_code ec;
  sweep(folder);
  for (const auto& e : fs::directory_iterator(folder, ec)) {
    if (e.is_directory(ec)) sweep(e.path());
  }
  return removed;
}

}  // namespace fedsilo
