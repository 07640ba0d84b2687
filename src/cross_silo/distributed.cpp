#include "fedsilo/distributed.h"

#include <torch/torch.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "comm/mqtt_transport.h"
#include "comm/store_factory.h"
#include "core/log.h"
#include "cross_silo/server_evaluation.h"
#include "cross_silo/server_manager.h"
#include "cross_silo/silo_master.h"
#include "fedsilo/error.h"
#include "fedsilo/trainer.h"
#include "silo/ddp_gradient_sync.h"
#include "silo/launcher.h"
#include "silo/round_channel.h"

namespace fedsilo {
using namespace cross_silo;
using namespace std::chrono_literals;

namespace {

std::atomic<int> g_signal{0};
extern "C" void on_signal(int sig) { g_signal = sig; }

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

std::chrono::milliseconds ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

comm::MqttOptions mqtt_options(const Args& args) {
  if (args.mqtt_config_path.empty())
    throw ConfigError("config comm_args.mqtt_config_path is required for MQTT_S3");
  return comm::load_mqtt_options(args.resolve(args.mqtt_config_path));
}

constexpr auto kPoll = 200ms;        // how often a waiting loop checks for signals
constexpr auto kFlushTimeout = 10s;  // for the broker to acknowledge the last messages

}  // namespace

int run_server(const Args& args, const FederatedDataset& dataset, Model model,
               std::unique_ptr<Aggregator> aggregator,
               cross_silo::hierarchical::Evaluator evaluator) {
  install_signal_handlers();
  torch::set_num_threads(static_cast<int>(args.num_threads));
  auto log = logging::role_logger("Server", 0);
  auto store = comm::make_object_store(args);
  comm::MqttTransport mqtt(mqtt_options(args), args.run_id, 0);
  mqtt.wait_connected(ms(args.online_timeout_s));
  ServerManager server(args, std::move(model), mqtt, *store,
                       evaluator ? std::move(evaluator) : evaluate_on_server(dataset),
                       std::move(aggregator));
  server.start();
  auto last_progress = Clock::now();
  int code = 0;
  while (!server.done()) {
    if (int sig = g_signal.load()) {
      server.abort(fmt::format("interrupted by signal {}", sig));
      code = 130;
      break;
    }
    if (mqtt.take_reconnected()) server.resend();
    auto now = Clock::now();
    if (now >= server.deadline()) {
      try {
        server.on_deadline();
      } catch (const TimeoutError& e) {
        code = 3;
        break;
      }
    }
    auto wait = std::min<Clock::duration>(server.deadline() - now, kPoll);
    if (auto m = mqtt.receive(std::chrono::duration_cast<std::chrono::milliseconds>(wait))) {
      server.handle(*m);
      last_progress = Clock::now();
    } else if (Clock::now() - last_progress > ms(args.resend_interval_s)) {
      FS_LOG_INFO(log, "waiting for {} ({:.0f} s left)", server.waiting_for(),
                  std::chrono::duration<double>(server.deadline() - Clock::now()).count());
      server.resend();
      last_progress = Clock::now();
    }
  }
  if (!mqtt.flush(kFlushTimeout))
    FS_LOG_WARN(log, "the broker did not acknowledge the last messages in time");
  return code;
}

namespace {

void check_silo_rank(const Args& args) {
  if (std::find(args.client_id_list.begin(), args.client_id_list.end(), args.rank) ==
      args.client_id_list.end()) {
    throw ConfigError(fmt::format("--rank {} is not in train_args.client_id_list [{}]", args.rank,
                                  fmt::join(args.client_id_list, ", ")));
  }
}

// The silo master: talks to the server over MQTT, trains as silo rank 0, and hands each round
// to the workers through `group` (null when it is the silo's only trainer).
int run_silo_master(const Args& args, const FederatedDataset& dataset, Model model,
                    silo::SiloGroup* group,
                    const cross_silo::hierarchical::TrainerFactory& make_trainer) {
  int64_t id = args.rank;
  auto log = logging::role_logger("Client", id);
  auto store = comm::make_object_store(args);
  comm::MqttTransport mqtt(mqtt_options(args), args.run_id, id);
  mqtt.wait_connected(ms(args.online_timeout_s));
  std::unique_ptr<silo::DdpGradientSync> ddp;
  if (group) ddp = std::make_unique<silo::DdpGradientSync>(*group);
  auto trainer = make_trainer(args, ddp.get());
  std::unique_ptr<SiloMaster> master;
  RoundStart hand_out = nullptr;
  if (group) {
    hand_out = [&](int64_t round, int64_t data_index) {
      silo::send_order(*group, {silo::SiloCommand::kTrain, round, data_index},
                       master->model().module());
      FS_LOG_INFO(log, "round number {} broadcast to the {} trainers of silo {}", round,
                  group->world_size(), id);
    };
  }
  master = std::make_unique<SiloMaster>(args, id, std::move(model), *trainer, dataset, mqtt, *store,
                                        hand_out);
  auto leave = [&](const std::string& why) {
    // A clean disconnect sends no last will, so say OFFLINE ourselves.
    comm::Message off;
    off.type = comm::MsgType::kClientStatus;
    off.id = fmt::format("{}-offline-{}", id, comm::now_us());
    off.run_id = args.run_id;
    off.sender = id;
    off.status = "OFFLINE";
    off.metrics = {{"reason", why}};
    mqtt.send(off);
    mqtt.flush(2s);
  };
  master->start();
  // Before the first round a silo may wait as long as the server waits for everyone; later, a
  // round of the others plus evaluation.
  auto deadline = Clock::now() + ms(args.online_timeout_s);
  auto last_log = Clock::now();
  int code = 0;
  try {
    while (!master->done()) {
      if (int sig = g_signal.load()) {
        FS_LOG_WARN(log, "interrupted by signal {}; leaving the run", sig);
        code = 130;
        break;
      }
      if (mqtt.take_reconnected()) master->on_reconnect();
      if (Clock::now() >= deadline) {
        FS_LOG_ERROR(
            log, "deadline passed while waiting for {}; the server is gone or the network is down",
            master->waiting_for());
        code = 3;
        break;
      }
      if (auto m = mqtt.receive(kPoll)) {
        master->handle(*m);
        deadline = Clock::now() + ms(2 * args.round_timeout_s);
        last_log = Clock::now();
      } else if (Clock::now() - last_log > ms(args.resend_interval_s)) {
        FS_LOG_INFO(log, "waiting for {} ({:.0f} s left)", master->waiting_for(),
                    std::chrono::duration<double>(deadline - Clock::now()).count());
        last_log = Clock::now();
      }
    }
  } catch (const std::exception& e) {
    leave(e.what());
    throw;
  }
  if (master->aborted()) code = 4;
  if (group) {
    bool completed = code == 0;
    silo::send_order(*group, {completed ? silo::SiloCommand::kFinish : silo::SiloCommand::kAbort},
                     master->model().module());
  }
  if (code != 0 && !master->aborted()) leave(code == 130 ? "interrupted" : "deadline passed");
  if (!mqtt.flush(kFlushTimeout))
    FS_LOG_WARN(log, "the broker did not acknowledge the last messages in time");
  return code;
}

// A silo worker: trains whatever round the master hands out, until FINISH or ABORT.
int run_silo_worker(const Args& args, const FederatedDataset& dataset, Model model,
                    silo::SiloGroup& group,
                    const cross_silo::hierarchical::TrainerFactory& make_trainer) {
  auto log = logging::role_logger("Client", args.rank);
  silo::DdpGradientSync ddp(group);
  auto trainer = make_trainer(args, &ddp);
  while (true) {
    if (int sig = g_signal.load()) {
      FS_LOG_WARN(log, "trainer {} interrupted by signal {}", group.rank(), sig);
      return 130;
    }
    FS_LOG_INFO(log, "process {} waiting for round number", group.rank());
    auto order = silo::receive_order(group, model.module());
    if (order.command == silo::SiloCommand::kFinish) {
      FS_LOG_INFO(log, "Training finished for trainer rank {} in silo {}", group.rank(), args.rank);
      return 0;
    }
    if (order.command == silo::SiloCommand::kAbort) {
      FS_LOG_ERROR(log, "trainer {}: the silo master aborted the run", group.rank());
      return 4;
    }
    FS_LOG_INFO(log, "process {} received round_number {}", group.rank(), order.round);
    auto it = dataset.train_data_local_dict.find(order.data_silo_index);
    if (it == dataset.train_data_local_dict.end()) {
      throw ProtocolError(fmt::format("trainer {}: data silo index {} does not exist", group.rank(),
                                      order.data_silo_index));
    }
    trainer->train(model, it->second, TrainContext{order.round, args.rank, order.data_silo_index});
  }
}

}  // namespace

namespace {

int run_silo_trainer(const Args& args, const FederatedDataset& dataset, Model model,
                     const cross_silo::hierarchical::TrainerFactory& make_trainer,
                     int64_t silo_rank, int64_t world) {
  install_signal_handlers();
  torch::set_num_threads(static_cast<int>(args.num_threads));
  auto log = logging::role_logger("Client", args.rank);
  std::unique_ptr<silo::SiloGroup> group;
  if (world > 1) {
    silo::GroupOptions go;
    go.master_address = args.pg_master_address;
    go.master_port = static_cast<int>(args.pg_master_port);
    go.rank = silo_rank;
    go.world_size = world;
    go.rendezvous_timeout = ms(args.online_timeout_s);
    // A worker waits for the next round while the other silos train and the server evaluates.
    go.op_timeout = ms(args.online_timeout_s + 2 * args.round_timeout_s);
    group = silo::SiloGroup::connect(go);
    FS_LOG_INFO(log, "trainer {} of {} joined silo {}'s process group at {}:{}", silo_rank, world,
                args.rank, args.pg_master_address, args.pg_master_port);
  }
  if (silo_rank == 0)
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

}  // namespace

int run_silo(const Args& args, const FederatedDataset& dataset, Model model,
             const cross_silo::hierarchical::TrainerFactory& make_trainer) {
  check_silo_rank(args);
  int64_t world = args.n_proc_in_silo();
  if (const char* rank = std::getenv("FEDSILO_SILO_RANK")) {
    const char* size = std::getenv("FEDSILO_WORLD_SIZE");
    return run_silo_trainer(args, dataset, std::move(model), make_trainer, std::atoll(rank),
                            size ? std::atoll(size) : world);
  }
  if (world == 1) return run_silo_trainer(args, dataset, std::move(model), make_trainer, 0, 1);
  return run_silo_launcher(args);
}

bool is_silo_launcher(const Args& args) {
  return std::getenv("FEDSILO_SILO_RANK") == nullptr && args.n_proc_in_silo() > 1;
}

int run_silo_launcher(const Args& args) {
  check_silo_rank(args);
  return silo::launch_trainers(args, own_command_line());
}

}  // namespace fedsilo

namespace fedsilo {

std::string silo_log_name(const Args& args) {
  std::string base = "client-" + std::to_string(args.rank);
  if (const char* rank = std::getenv("FEDSILO_SILO_RANK")) {
    return std::atoll(rank) == 0 ? base + ".log" : base + "-trainer-" + rank + ".log";
  }
  if (args.n_proc_in_silo() == 1) return base + ".log";
  return base + "-node-" + std::to_string(args.node_rank_in_silo) + ".log";
}

}  // namespace fedsilo
