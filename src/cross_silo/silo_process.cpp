// A silo's processes in the distributed mode: the launcher, the master (trainer 0, which speaks
// to the server) and the workers (which only follow the master's orders).
#include <torch/torch.h>

#include <dlfcn.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "client/silo_master.h"
#include "comm/store_factory.h"
#include "comm/transport_factory.h"
#include "core/args_checks.h"
#include "core/command_line.h"
#include "core/log.h"
#include "core/signals.h"
#include "fedsilo/aggregator.h"
#include "fedsilo/distributed.h"
#include "fedsilo/error.h"
#include "ml/attacks.h"
#include "ml/model_blob.h"
#include "protocol/driver_loop.h"
#include "silo/ddp_gradient_sync.h"
#include "silo/launcher.h"
#include "silo/round_channel.h"
#include "silo/silo_role.h"

namespace fedsilo {
using namespace std::chrono_literals;

namespace {

constexpr auto kFlushTimeout = 10s;  // for the transport to deliver the last messages

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(seconds_to_duration(seconds));
}

// The silo master: talks to the server, trains as silo rank 0, and hands each round to the
// workers through `group` (null when it is the silo's only trainer).
ExitCode run_silo_master(const Args& args, const FederatedDataset& dataset, Model model,
                         silo::SiloGroup* group, const TrainerFactory& make_trainer) {
  int64_t id = args.rank;
  auto log = logging::role_logger("Client", id);
  auto store = comm::make_object_store(args);
  auto transport = comm::make_transport(args, id, cross_silo::SiloMaster::last_will(args, id));
  transport->connect(to_ms(args.online_timeout_s));
  std::unique_ptr<silo::DdpGradientSync> ddp;
  if (group) ddp = std::make_unique<silo::DdpGradientSync>(*group);
  auto trainer = make_trainer(args, ddp.get());
  cross_silo::RoundStart hand_out = nullptr;
  if (group) {
    hand_out = [&](int64_t round, int64_t data_index, const StateDict& global,
                   const StateDict* correction) {
      silo::send_order(*group, {silo::SiloCommand::kTrain, round, data_index}, global, correction);
      FS_LOG_INFO(log, "round number {} broadcast to the {} trainers of silo {}", round,
                  group->world_size(), id);
    };
  }
  cross_silo::SiloMaster master(args, id, std::move(model), *trainer, dataset, *transport, *store,
                                hand_out);
  master.start();
  cross_silo::DriverOptions options;
  options.quiet_interval = seconds_to_duration(args.resend_interval_s);
  ExitCode code;
  try {
    code = cross_silo::drive(master, *transport, steady_clock(), options, *log);
  } catch (const std::exception& e) {
    master.leave(e.what());
    transport->flush(2s);
    throw;
  }
  if (group) {
    auto command =
        code == ExitCode::kCompleted ? silo::SiloCommand::kFinish : silo::SiloCommand::kAbort;
    silo::send_order(*group, {command}, layout_of(state_of(master.model().module())));
  }
  if (!transport->flush(kFlushTimeout))
    FS_LOG_WARN(log, "the transport did not deliver the last messages in time");
  return code;
}

// A silo worker: trains whatever round the master hands out, until FINISH or ABORT.
ExitCode run_silo_worker(const Args& args, const FederatedDataset& dataset, Model model,
                         silo::SiloGroup& group, const TrainerFactory& make_trainer) {
  auto log = logging::role_logger("Client", args.rank);
  silo::DdpGradientSync ddp(group);
  auto trainer = make_trainer(args, &ddp);
  // SCAFFOLD's correction arrives with each round's model, into this buffer.
  StateDict correction;
  if (registry::needs_of(args.federated_optimizer).control_variates)
    correction = clone_state(state_of(model.module()));
  StateDict* with = correction.empty() ? nullptr : &correction;
  while (true) {
    if (int sig = pending_signal()) {
      FS_LOG_WARN(log, "trainer {} interrupted by signal {}", group.rank(), sig);
      return ExitCode::kInterrupted;
    }
    FS_LOG_INFO(log, "process {} waiting for round number", group.rank());
    auto order = silo::receive_order(group, model.module(), with);
    if (order.command == silo::SiloCommand::kFinish) {
      FS_LOG_INFO(log, "Training finished for trainer rank {} in silo {}", group.rank(), args.rank);
      return ExitCode::kCompleted;
    }
    if (order.command == silo::SiloCommand::kAbort) {
      FS_LOG_ERROR(log, "trainer {}: the silo master aborted the run", group.rank());
      return ExitCode::kAborted;
    }
    FS_LOG_INFO(log, "process {} received round_number {}", group.rank(), order.round);
    auto it = dataset.train_data_local_dict.find(order.data_silo_index);
    if (it == dataset.train_data_local_dict.end()) {
      throw ProtocolError(fmt::format("trainer {}: data silo index {} does not exist", group.rank(),
                                      order.data_silo_index));
    }
    TrainContext ctx{order.round, args.rank, order.data_silo_index};
    ctx.correction = with;
    trainer->train(model, attacks::data_to_train_on(args, args.rank, it->second), ctx);
  }
}

ExitCode run_silo_trainer(const Args& args, const FederatedDataset& dataset, Model model,
                          const TrainerFactory& make_trainer, const silo::SiloRole& role) {
  ScopedSignalHandlers signals;
  torch::set_num_threads(static_cast<int>(args.num_threads));
  auto log = logging::role_logger("Client", args.rank);
  std::unique_ptr<silo::SiloGroup> group;
  if (role.world_size > 1) {
    silo::GroupOptions go;
    go.master_address = args.pg_master_address;
    go.master_port = static_cast<int>(args.pg_master_port);
    go.rank = role.silo_rank;
    go.world_size = role.world_size;
    go.store_file = role.rendezvous_file;
    go.rendezvous_timeout = to_ms(args.online_timeout_s);
    // A worker waits for the next round while the other silos train and the server evaluates.
    go.op_timeout = to_ms(args.online_timeout_s + 2 * args.round_timeout_s);
    group = silo::SiloGroup::connect(go);
    FS_LOG_INFO(log, "trainer {} of {} joined silo {}'s process group at {}", role.silo_rank,
                role.world_size, args.rank,
                role.rendezvous_file.empty()
                    ? args.pg_master_address + ":" + std::to_string(args.pg_master_port)
                    : role.rendezvous_file);
  }
  if (role.master())
    return run_silo_master(args, dataset, std::move(model), group.get(), make_trainer);
  return run_silo_worker(args, dataset, std::move(model), *group, make_trainer);
}

// This process's command line, exactly as it was started: a launcher's trainers run it again.
std::vector<std::string> own_command_line() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> argv;
  std::string arg;
  while (std::getline(in, arg, '\0')) argv.push_back(arg);
  if (argv.empty()) throw Error("launcher: cannot read /proc/self/cmdline");
  argv[0] = std::filesystem::read_symlink("/proc/self/exe").string();
  return argv;
}

// The lean `fedsilo` program: $FEDSILO_LAUNCHER, else beside libfedsilo.so (build tree) or in
// the bin/ of its install prefix.
std::optional<std::string> lean_launcher() {
  if (const char* env = std::getenv("FEDSILO_LAUNCHER"); env && *env) return std::string(env);
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(&run_silo_launcher), &info) || !info.dli_fname)
    return std::nullopt;
  auto lib = std::filesystem::path(info.dli_fname).parent_path();
  for (auto p : {lib / "fedsilo", lib.parent_path() / "bin/fedsilo",
                 lib.parent_path().parent_path() / "bin/fedsilo"}) {
    if (access(p.c_str(), X_OK) == 0) return p.string();
  }
  return std::nullopt;
}

}  // namespace

int run_silo(const Args& args, const FederatedDataset& dataset, Model model,
             const TrainerFactory& make_trainer) {
  check_silo_rank(args);
  auto role = silo::SiloRole::of(args);
  if (role.launcher()) return run_silo_launcher(args);
  return to_int(run_silo_trainer(args, dataset, std::move(model), make_trainer, role));
}

bool is_silo_launcher(const Args& args) { return silo::SiloRole::of(args).launcher(); }

int run_silo_launcher(const Args& args) {
  check_silo_rank(args);
  auto argv = own_command_line();
  // The launcher only starts and watches processes: the lean `fedsilo launch` does it without
  // the libtorch this program has loaded (about 150 MiB for the whole run).
  if (auto lean = lean_launcher()) {
    // The program's words (the interpreter and the script for a Python program), then its
    // fedsilo options.
    int options = program_option_count();
    size_t first_option = options < 0 || static_cast<size_t>(options) >= argv.size()
                              ? 1
                              : argv.size() - static_cast<size_t>(options);
    std::vector<std::string> a = {*lean, "launch", "--exe"};
    a.insert(a.end(), argv.begin(), argv.begin() + static_cast<std::ptrdiff_t>(first_option));
    a.push_back("--");
    a.insert(a.end(), argv.begin() + static_cast<std::ptrdiff_t>(first_option), argv.end());
    std::vector<char*> c;
    for (auto& x : a) c.push_back(x.data());
    c.push_back(nullptr);
    execv(c[0], c.data());
    FS_LOG_WARN(logging::role_logger("Client", args.rank),
                "launcher: cannot run {} ({}); starting the trainers from this process", *lean,
                std::strerror(errno));
  }
  return silo::launch_trainers(args, argv);
}

}  // namespace fedsilo
