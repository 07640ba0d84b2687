#pragma once
// A silo's side of the round protocol (DESIGN.md §2): the trainer with silo rank 0. It answers
// the server, trains each round through a Trainer, and uploads the silo's model. Like the server
// it is a state machine fed by a driver.
#include <spdlog/logger.h>
#include <chrono>
#include <memory>
#include <optional>

#include "comm/object_store.h"
#include "comm/transport.h"
#include "fedsilo/args.h"
#include "fedsilo/dataset.h"
#include "fedsilo/model.h"
#include "fedsilo/state_dict.h"
#include "fedsilo/trainer.h"

namespace fedsilo::cross_silo {

// Called before local training with (round, data silo index), so a hierarchical silo can hand
// the round and the freshly loaded global model to its workers.
using RoundStart = std::function<void(int64_t round, int64_t data_silo_index)>;

class SiloMaster {
 public:
  SiloMaster(const Args& args, int64_t silo_id, Model model, Trainer& trainer,
             const FederatedDataset& dataset, comm::Transport& transport, comm::ObjectStore& store,
             RoundStart on_round = nullptr);

  void start();
  void handle(const comm::Message& m);
  // After a reconnect to the broker: says ONLINE again and re-sends the last model it uploaded
  // (same message id, so a server that has it drops the repeat).
  void on_reconnect();
  // What the silo waits for, for log lines.
  std::string waiting_for() const;
  bool done() const { return done_; }
  bool aborted() const { return aborted_; }
  Model& model() { return model_; }

 private:
  void on_train(const comm::Message& m);
  void on_finish(const comm::Message& m);
  void send_status(const std::string& status);
  comm::Message make(comm::MsgType type);

  Args args_;
  int64_t id_;
  Model model_;
  Trainer& trainer_;
  const FederatedDataset& dataset_;
  comm::Transport& transport_;
  comm::ObjectStore& store_;
  RoundStart on_round_;
  std::shared_ptr<spdlog::logger> log_;
  StateDict layout_;
  int64_t last_round_ = -1;
  std::optional<comm::Message> last_reply_;
  int64_t rounds_trained_ = 0;
  bool done_ = false;
  bool aborted_ = false;
  int64_t seq_ = 0;
  std::string nonce_;
};

}  // namespace fedsilo::cross_silo
