// The distributed server: the ServerManager over the configured transport and object store.
#include <torch/torch.h>

#include "comm/store_factory.h"
#include "comm/transport_factory.h"
#include "core/log.h"
#include "core/signals.h"
#include "protocol/driver_loop.h"
#include "server/server_evaluation.h"
#include "server/server_manager.h"
#include "fedsilo/distributed.h"
#include "fedsilo/error.h"

namespace fedsilo {
using namespace std::chrono_literals;

namespace {
constexpr auto kFlushTimeout = 10s;  // for the transport to deliver the last messages
}

int run_server(const Args& args, const FederatedDataset& dataset, Model model,
               std::unique_ptr<Aggregator> aggregator, cross_silo::Evaluator evaluator) {
  ScopedSignalHandlers signals;
  torch::set_num_threads(static_cast<int>(args.num_threads));
  auto log = logging::role_logger("Server", 0);
  auto store = comm::make_object_store(args);
  auto transport = comm::make_transport(args, 0);
  transport->connect(std::chrono::duration_cast<std::chrono::milliseconds>(
      seconds_to_duration(args.online_timeout_s)));
  cross_silo::ServerManager server(
      args, std::move(model), *transport, *store,
      evaluator ? std::move(evaluator) : cross_silo::evaluate_on_server(dataset),
      std::move(aggregator));
  server.set_data_silo_sizes(dataset.train_data_local_num_dict);
  server.monitoring().count_dropped_messages([&t = *transport] { return t.dropped_messages(); });
  // A checkpoint that cannot be used stops the server before it says anything: the silos keep
  // waiting (within their deadline) while the operator restores it.
  server.start();
  cross_silo::DriverOptions options;
  options.quiet_interval = seconds_to_duration(args.resend_interval_s);
  ExitCode code;
  try {
    code = cross_silo::drive(server, *transport, steady_clock(), options, *log);
  } catch (const std::exception& e) {
    // Whatever stops the server mid-run (a store that stays down, a full disk) tells the silos
    // first, so they stop at once instead of waiting out their deadline.
    code = dynamic_cast<const StoreError*>(&e) ? ExitCode::kStoreFailed : ExitCode::kFailed;
    server.abort(std::string("the server failed: ") + e.what(), code);
  }
  if (!transport->flush(kFlushTimeout))
    FS_LOG_WARN(log, "the transport did not deliver the last messages in time");
  server.monitoring().linger();
  return to_int(code);
}

}  // namespace fedsilo
