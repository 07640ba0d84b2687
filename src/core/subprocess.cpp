#include "core/subprocess.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "fedsilo/error.h"

extern char** environ;

namespace fedsilo {

Subprocess::Subprocess(const std::vector<std::string>& argv, const Options& options)
    : group_(options.own_process_group) {
  if (argv.empty()) throw Error("subprocess: empty command");
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto key = kv.substr(0, kv.find('='));
    if (!options.env.count(key)) env_store.push_back(kv);
  }
  for (const auto& [k, v] : options.env) env_store.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (auto& s : env_store) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);

  int out_fd = -1;
  if (!options.output_file.empty()) {
    out_fd = ::open(options.output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out_fd < 0)
      throw Error("subprocess: cannot open " + options.output_file + ": " + std::strerror(errno));
  }
  pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) throw Error(std::string("subprocess: fork failed: ") + std::strerror(errno));
  if (pid_ == 0) {
    if (group_) ::setpgid(0, 0);
    if (options.die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
    }
    if (out_fd >= 0) {
      ::dup2(out_fd, STDOUT_FILENO);
      ::dup2(out_fd, STDERR_FILENO);
    }
    ::execve(args[0], args.data(), envp.data());
    // PATH lookup for bare names (mosquitto, node).
    ::execvpe(args[0], args.data(), envp.data());
    std::fprintf(stderr, "subprocess: cannot run %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  if (group_) ::setpgid(pid_, pid_);  // also from the parent: no race with an early signal
  if (out_fd >= 0) ::close(out_fd);
}

std::unique_ptr<Subprocess> Subprocess::adopt(pid_t pid) {
  std::unique_ptr<Subprocess> p(new Subprocess());
  p->pid_ = pid;
  p->group_ = false;
  return p;
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && !status_) stop(std::chrono::milliseconds(2000));
}

namespace {
int decode_status(int st) {
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return -1;
}
}  // namespace

std::optional<int> Subprocess::poll() {
  if (status_) return status_;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) status_ = decode_status(st);
  return status_;
}

std::optional<int> Subprocess::wait_for(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(1);
  while (!poll()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(pause);  // polling a child's exit: no fd to wait on portably
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
  return status_;
}

void Subprocess::signal(int sig) {
  if (status_ || pid_ <= 0) return;
  if (group_) {
    ::kill(-pid_, sig);
  } else {
    ::kill(pid_, sig);
  }
}

int Subprocess::stop(std::chrono::milliseconds grace) {
  if (poll()) return *status_;
  signal(SIGTERM);
  if (!wait_for(grace)) {
    signal(SIGKILL);
    wait_for(std::chrono::milliseconds(5000));
  }
  if (group_ && pid_ > 0) ::kill(-pid_, SIGKILL);  // grandchildren left in the group
  return status_.value_or(-1);
}

int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw Error(std::string("cannot find a free loopback port: ") + std::strerror(errno));
  }
  int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

bool wait_for_port(const std::string& host, int port, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(2);
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(pause);  // nothing to wait on until the server listens
    pause = std::min(pause * 2, std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace fedsilo
