#include "fedsilo/simulate.h"

#include <torch/torch.h>

#include "comm/inproc_transport.h"
#include "core/log.h"
#include "server/server_evaluation.h"
#include "server/server_manager.h"
#include "client/silo_master.h"
#include "fedsilo/error.h"
#include "fedsilo/trainer.h"

namespace fedsilo {
using namespace cross_silo;

RunSummary simulate(const Args& args) {
  auto [dataset, output_dim] = data::load_cross_silo(args);
  int64_t input_dim = dataset.train_data_global.x[0].numel();
  int64_t classes = output_dim;
  return simulate(args, dataset, [&] { return model::create(args, classes, input_dim); });
}

RunSummary simulate(const Args& args, const FederatedDataset& dataset,
                    const std::function<Model()>& make_model, SimulateOptions options) {
  auto t0 = std::chrono::steady_clock::now();
  torch::set_num_threads(static_cast<int>(args.num_threads));
  if (!options.trainer) options.trainer = registry::trainer_for(args.federated_optimizer);
  if (!options.aggregator)
    options.aggregator = registry::aggregators().get(args.federated_optimizer);
  if (!options.evaluator) options.evaluator = evaluate_on_server(dataset);
  comm::InprocBus bus;
  comm::MemoryStore store;
  auto server_transport = bus.endpoint(0, args.run_id);
  ServerManager server(args, make_model(), *server_transport, store, options.evaluator,
                       options.aggregator(args));

  struct Silo {
    std::unique_ptr<comm::Transport> transport;
    std::unique_ptr<Trainer> trainer;
    std::unique_ptr<SiloMaster> master;
  };
  std::vector<Silo> silos;
  for (int id : args.client_id_list) {
    Silo s;
    s.transport = bus.endpoint(id, args.run_id);
    s.trainer = options.trainer(args, nullptr);
    s.master = std::make_unique<SiloMaster>(args, id, make_model(), *s.trainer, dataset,
                                            *s.transport, store);
    silos.push_back(std::move(s));
  }

  for (auto& s : silos) s.master->start();
  server.set_data_silo_sizes(dataset.train_data_local_num_dict);
  server.start();
  // One thread, endpoints served in a fixed order: a run is a pure function of the config.
  auto drain = [](comm::Transport& t, auto&& handle) {
    bool any = false;
    while (auto m = t.receive(std::chrono::milliseconds(0))) {
      handle(*m);
      any = true;
    }
    return any;
  };
  while (!server.done()) {
    bool progressed = drain(*server_transport, [&](const comm::Message& m) { server.handle(m); });
    for (auto& s : silos)
      progressed |= drain(*s.transport, [&](const comm::Message& m) { s.master->handle(m); });
    if (!progressed && !server.done()) {
      throw Error("simulate: no message in flight while the server waits for " +
                  server.waiting_for());
    }
  }
  for (auto& s : silos) drain(*s.transport, [&](const comm::Message& m) { s.master->handle(m); });

  server.monitoring().linger();
  RunSummary summary;
  summary.output_dir = server.output_dir();
  summary.final_metrics = server.last_metrics();
  summary.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return summary;
}

}  // namespace fedsilo
