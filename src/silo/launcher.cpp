#include "silo/launcher.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "core/clock.h"
#include "core/log.h"
#include "core/net_address.h"
#include "core/signals.h"
#include "core/subprocess.h"
#include "fedsilo/error.h"
#include "fedsilo/exit_code.h"
#include "silo/silo_role.h"

namespace fedsilo::silo {
using namespace std::chrono_literals;

namespace {

std::string describe(int code) {
  if (code > 128)
    return "was killed by signal " + std::to_string(code - 128) + " (" + strsignal(code - 128) +
           ")";
  return "exited with code " + std::to_string(code);
}
// Exit codes that say how the run ended rather than that a trainer broke.
bool ends_the_run(int code) {
  return code == to_int(ExitCode::kDeadline) || code == to_int(ExitCode::kAborted) ||
         code == to_int(ExitCode::kStoreFailed);
}

constexpr auto kMasterGrace = std::chrono::seconds(10);
constexpr auto kSiblingGrace = std::chrono::seconds(1);

template <typename Children>
std::optional<int> master_exit(Children& children, std::chrono::milliseconds grace) {
  for (auto& c : children) {
    if (c.silo_rank != 0) continue;
    auto code = c.done ? std::nullopt : c.proc->wait_for(grace);
    if (code) c.done = true;
    return code;
  }
  return std::nullopt;  // the master runs on another node
}

// A trainer whose collective broke because a sibling died often exits first, with an error of
// its own; the sibling killed by a signal (OOM killer, an operator) is the cause worth naming.
// Waits up to `grace` in all for such a sibling.
template <typename Children, typename Log>
void name_killed_siblings(Children& children, const Log& log, int silo,
                          std::chrono::milliseconds grace) {
  auto deadline = std::chrono::steady_clock::now() + grace;
  for (auto& c : children) {
    if (c.done) continue;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto code = c.proc->wait_for(std::max(left, std::chrono::milliseconds(0)));
    if (!code) continue;
    c.done = true;
    if (*code <= 128) continue;
    FS_LOG_ERROR(log, "launcher: trainer {} of silo {} (pid {}) {}", c.silo_rank, silo,
                 c.proc->pid(), describe(*code));
  }
}

// The pipe on which the node's first trainer reports the siblings it forked
// (sibling_trainers.h). Closed (-1) when the launcher starts every trainer itself:
// FEDSILO_FORK_TRAINERS=0, one trainer per node, or no subreaper.
struct SiblingReports {
  int fd = -1;
  std::string pending;
  ~SiblingReports() {
    if (fd >= 0) ::close(fd);
  }
  // Opens the pipe; returns its write end for the first trainer, or -1.
  int open(int64_t trainers) {
    const char* off = std::getenv("FEDSILO_FORK_TRAINERS");
    if (trainers < 2 || (off && std::string(off) == "0")) return -1;
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) return -1;
    int p[2];
    if (::pipe(p) != 0) return -1;
    ::fcntl(p[0], F_SETFD, FD_CLOEXEC);
    ::fcntl(p[0], F_SETFL, O_NONBLOCK);
    fd = p[0];
    return p[1];
  }
  // Reports that arrived: (local rank, pid). Sets `closed` when the first trainer and every
  // sibling are done reporting.
  std::vector<std::pair<int64_t, pid_t>> read(bool& closed) {
    std::vector<std::pair<int64_t, pid_t>> out;
    closed = false;
    if (fd < 0) return out;
    char buf[256];
    while (true) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        pending.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) closed = true;
      break;  // EAGAIN: more may come
    }
    for (size_t eol; (eol = pending.find('\n')) != std::string::npos;) {
      std::istringstream line(pending.substr(0, eol));
      pending.erase(0, eol + 1);
      int64_t local = 0;
      pid_t pid = 0;
      if (line >> local >> pid && pid > 0) out.emplace_back(local, pid);
    }
    if (closed) {
      ::close(fd);
      fd = -1;
    }
    return out;
  }
};

// A silo on one node whose master address is loopback meets through a file in a private folder
// instead of c10d's TCPStore, which would listen on every interface of the machine.
class RendezvousFolder {
 public:
  explicit RendezvousFolder(const Args& args) {
    if (args.n_node_in_silo != 1 || !is_loopback_address(args.pg_master_address)) return;
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "fedsilo-pg-XXXXXX").string();  // mode 0700
    if (!::mkdtemp(tmpl.data()))
      throw StoreError("silo process group: cannot make a folder in " +
                       std::filesystem::temp_directory_path().string() + ": " +
                       std::strerror(errno));
    dir_ = tmpl;
    file_ = dir_ + "/rendezvous";
  }
  ~RendezvousFolder() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  const std::string& file() const { return file_; }

 private:
  std::string dir_, file_;
};

}  // namespace

int launch_trainers(const Args& args, const std::vector<std::string>& trainer_argv) {
  auto log = logging::role_logger("Client", args.rank);
  ScopedSignalHandlers forward_signals;

  int64_t world = args.n_proc_in_silo();
  int64_t first = args.node_rank_in_silo * args.n_proc_per_node;
  FS_LOG_INFO(
      log,
      "launcher: silo {} node {} of {}: starting trainers {}..{} of {} (process group at {}:{})",
      args.rank, args.node_rank_in_silo, args.n_node_in_silo, first,
      first + args.n_proc_per_node - 1, world, args.pg_master_address, args.pg_master_port);
  struct Child {
    int64_t silo_rank;
    std::unique_ptr<Subprocess> proc;
    bool done = false;
  };
  std::vector<Child> children;
  RendezvousFolder rendezvous(args);
  auto start = [&](int64_t i, std::map<std::string, std::string> extra = {}) {
    Subprocess::Options o;
    for (auto& [k, v] : SiloRole::trainer_environment(first + i, i, world)) o.env[k] = v;
    if (!rendezvous.file().empty()) o.env[kRendezvousFileVariable] = rendezvous.file();
    o.env.insert(extra.begin(), extra.end());
    o.own_process_group = false;  // in the launcher's group: stopping the group stops them too
    o.die_with_parent = true;
    children.push_back({first + i, std::make_unique<Subprocess>(trainer_argv, o)});
  };
  // The first trainer forks the others, which then skip libtorch's start-up; any it could not
  // fork are started here when its report ends. All start at once either way: each trainer
  // spends most of its start-up loading its data, and a worker waits for the master's
  // rendezvous port itself (SiloGroup::connect).
  SiblingReports reports;
  int report_fd = reports.open(args.n_proc_per_node);
  if (report_fd >= 0) {
    start(0, {{kForkSiblingsVariable, std::to_string(args.n_proc_per_node - 1)},
              {kForkReportFdVariable, std::to_string(report_fd)}});
    ::close(report_fd);
  } else {
    for (int64_t i = 0; i < args.n_proc_per_node; ++i) start(i);
  }
  std::vector<bool> running(args.n_proc_per_node, report_fd < 0);
  running[0] = true;
  auto adopt_reported = [&] {
    bool closed = false;
    for (auto [local, pid] : reports.read(closed)) {
      if (local < 1 || local >= args.n_proc_per_node || running[local]) continue;
      running[local] = true;
      children.push_back({first + local, Subprocess::adopt(pid)});
      FS_LOG_INFO(log, "launcher: trainer {} of silo {} forked from trainer {} (pid {})",
                  first + local, args.rank, first, pid);
    }
    if (!closed) return;
    for (int64_t i = 1; i < args.n_proc_per_node; ++i) {
      if (running[i]) continue;
      FS_LOG_WARN(log, "launcher: trainer {} of silo {} was not forked; starting it", first + i,
                  args.rank);
      running[i] = true;
      start(i);
    }
  };
  auto stop_all = [&](int sig) {
    for (auto& c : children) {
      if (!c.done) c.proc->signal(sig);
    }
    auto deadline = std::chrono::steady_clock::now() + 10s;
    for (auto& c : children) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (!c.done && !c.proc->wait_for(std::max(left, std::chrono::milliseconds(0))))
        c.proc->stop(0ms);
      c.done = true;
    }
  };
  size_t finished = 0;
  while (finished < children.size() || reports.fd >= 0) {
    adopt_reported();
    if (int sig = pending_signal()) {
      FS_LOG_WARN(log, "launcher: signal {}; stopping the trainers", sig);
      stop_all(sig);
      return to_int(ExitCode::kInterrupted);
    }
    for (auto& c : children) {
      if (c.done) continue;
      auto code = c.proc->poll();
      if (!code) continue;
      c.done = true;
      ++finished;
      if (*code != 0) {
        FS_LOG_ERROR(log, "launcher: trainer {} of silo {} (pid {}) {}", c.silo_rank, args.rank,
                     c.proc->pid(), describe(*code));
        int result = *code;
        if (ends_the_run(result) && c.silo_rank != 0) {
          // A worker that saw the run end was told so by the silo master, which is exiting with
          // the reason (deadline, abort, store failure): one situation, one exit code, whichever
          // trainer is polled first.
          if (auto master = master_exit(children, kMasterGrace)) result = *master;
        } else if (result <= 128) {
          name_killed_siblings(children, log, args.rank, kSiblingGrace);
        }
        FS_LOG_ERROR(log, "launcher: stopping the other trainers of silo {}", args.rank);
        stop_all(SIGTERM);
        // A trainer that saw the run end passes that on, and so does one refused its input (the
        // same config and data for every trainer); anything else is a failure of this silo.
        bool passed_on = ends_the_run(result) || result == to_int(ExitCode::kBadInput);
        return passed_on ? result : to_int(ExitCode::kFailed);
      }
    }
    std::this_thread::sleep_for(20ms);  // polling children; waitpid cannot also wait for signals
  }
  FS_LOG_INFO(log, "launcher: all {} trainers of silo {} on node {} finished", children.size(),
              args.rank, args.node_rank_in_silo);
  return 0;
}

}  // namespace fedsilo::silo
