#include "silo/sibling_trainers.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "silo/silo_role.h"

namespace fedsilo::silo {
namespace {

int threads_of_this_process() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (auto* e = ::readdir(d)) n += e->d_name[0] != '.';
    ::closedir(d);
  }
  return n;
}

long env_long(const char* name, long fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  return end && *end == '\0' ? x : fallback;
}

// In the forked sibling: waits until the launcher has adopted it (the middle process exits at
// once), then dies with the launcher like the trainers it starts, and reports itself.
void become_sibling(int report_fd, pid_t launcher, long local_rank, long silo_rank) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (::getppid() != launcher && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != launcher) ::_exit(127);  // the launcher is gone: no orphan trainer
  ::setenv(kSiloRankVariable, std::to_string(silo_rank).c_str(), 1);
  ::setenv(kLocalRankVariable, std::to_string(local_rank).c_str(), 1);
  std::string line = std::to_string(local_rank) + " " + std::to_string(::getpid()) + "\n";
  if (::write(report_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    ::_exit(127);  // the launcher would start this rank a second time
  ::close(report_fd);
}

}  // namespace

void fork_sibling_trainers() {
  long siblings = env_long(kForkSiblingsVariable, 0);
  int report_fd = static_cast<int>(env_long(kForkReportFdVariable, -1));
  // Never inherited further: a trainer that starts processes of its own must not fork again.
  ::unsetenv(kForkSiblingsVariable);
  ::unsetenv(kForkReportFdVariable);
  long silo_rank = env_long(kSiloRankVariable, -1);
  // Whatever the variables say, never more trainers than the silo has ranks after this one,
  // and only onto a pipe this process really holds: a stray or forged value forks nothing.
  siblings = std::min(siblings, env_long(kWorldSizeVariable, 1) - 1 - silo_rank);
  if (siblings <= 0 || report_fd < 0 || ::fcntl(report_fd, F_GETFD) == -1) return;
  pid_t launcher = ::getppid();
  // fork() copies only the calling thread: with others running (a user's program that started
  // threads before fedsilo::init) the copies could deadlock, so the launcher starts them.
  if (silo_rank >= 0 && threads_of_this_process() == 1) {
    for (long i = 1; i <= siblings; ++i) {
      pid_t middle = ::fork();
      if (middle < 0) break;
      if (middle == 0) {
        pid_t sibling = ::fork();
        if (sibling != 0) ::_exit(sibling > 0 ? 0 : 1);
        become_sibling(report_fd, launcher, i, silo_rank + i);
        return;
      }
      int status = 0;
      while (::waitpid(middle, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }
  ::close(report_fd);
}

}  // namespace fedsilo::silo
