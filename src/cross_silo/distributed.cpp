#include "fedsilo/distributed.h"

#include <torch/torch.h>

#include <atomic>
#include <csignal>

#include "comm/mqtt_transport.h"
#include "comm/store_factory.h"
#include "core/log.h"
#include "cross_silo/server_evaluation.h"
#include "cross_silo/server_manager.h"
#include "cross_silo/silo_master.h"
#include "fedsilo/error.h"
#include "fedsilo/trainer.h"

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

int run_server(const Args& args) {
  install_signal_handlers();
  torch::set_num_threads(static_cast<int>(args.num_threads));
  auto log = logging::role_logger("Server", 0);
  auto [dataset, output_dim] = data::load_cross_silo(args);
  int64_t input_dim = dataset.train_data_global.x[0].numel();
  auto store = comm::make_object_store(args);
  comm::MqttTransport mqtt(mqtt_options(args), args.run_id, 0);
  mqtt.wait_connected(ms(args.online_timeout_s));
  ServerManager server(args, model::create(args, output_dim, input_dim), mqtt, *store,
                       evaluate_on_server(dataset));
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

int run_silo(const Args& args) {
  install_signal_handlers();
  torch::set_num_threads(static_cast<int>(args.num_threads));
  int64_t id = args.rank;
  auto log = logging::role_logger("Client", id);
  if (std::find(args.client_id_list.begin(), args.client_id_list.end(), id) ==
      args.client_id_list.end()) {
    throw ConfigError(fmt::format("--rank {} is not in train_args.client_id_list [{}]", id,
                                  fmt::join(args.client_id_list, ", ")));
  }
  auto [dataset, output_dim] = data::load_cross_silo(args);
  int64_t input_dim = dataset.train_data_global.x[0].numel();
  auto store = comm::make_object_store(args);
  comm::MqttTransport mqtt(mqtt_options(args), args.run_id, id);
  mqtt.wait_connected(ms(args.online_timeout_s));
  ClassificationTrainer trainer(args);
  SiloMaster silo(args, id, model::create(args, output_dim, input_dim), trainer, dataset, mqtt,
                  *store);
  silo.start();
  // Before the first round a silo may wait as long as the server waits for everyone; later, a
  // round of the others plus evaluation.
  auto deadline = Clock::now() + ms(args.online_timeout_s);
  auto last_log = Clock::now();
  int code = 0;
  while (!silo.done()) {
    if (int sig = g_signal.load()) {
      FS_LOG_WARN(log, "interrupted by signal {}; leaving the run", sig);
      code = 130;
      break;
    }
    if (mqtt.take_reconnected()) silo.on_reconnect();
    if (Clock::now() >= deadline) {
      FS_LOG_ERROR(
          log, "deadline passed while waiting for {}; the server is gone or the network is down",
          silo.waiting_for());
      code = 3;
      break;
    }
    if (auto m = mqtt.receive(kPoll)) {
      silo.handle(*m);
      deadline = Clock::now() + ms(2 * args.round_timeout_s);
      last_log = Clock::now();
    } else if (Clock::now() - last_log > ms(args.resend_interval_s)) {
      FS_LOG_INFO(log, "waiting for {} ({:.0f} s left)", silo.waiting_for(),
                  std::chrono::duration<double>(deadline - Clock::now()).count());
      last_log = Clock::now();
    }
  }
  if (silo.aborted()) code = 4;
  if (!mqtt.flush(kFlushTimeout))
    FS_LOG_WARN(log, "the broker did not acknowledge the last messages in time");
  return code;
}

}  // namespace fedsilo
