#pragma once
// A silo's side of the round protocol (docs/protocol.md): the trainer with silo rank 0. It
// answers the server, trains each round through a Trainer, and uploads the silo's model. Like
// the server it is a state machine fed by a driver, reading time only through its Clock.
#include <spdlog/logger.h>

#include <functional>
#include <memory>
#include <optional>

#include "comm/counting_store.h"
#include "comm/object_store.h"
#include "comm/transport.h"
#include "core/clock.h"
#include "protocol/driver_loop.h"
#include "protocol/secure_round.h"
#include "client/silo_heartbeat.h"
#include "fedsilo/args.h"
#include "fedsilo/dataset.h"
#include "fedsilo/model.h"
#include "fedsilo/state_dict.h"
#include "fedsilo/trainer.h"
#include "ml/upload_filter.h"
#include "monitor/system_metrics.h"

namespace fedsilo::cross_silo {

// Called before local training with the round, the data silo index and the global model
// (verified, and loaded: references to the master's own tensors), so a hierarchical silo can
// hand all three to its workers.
// `correction` is SCAFFOLD's (null with other rules), for the workers' trainers too.
using RoundStart = std::function<void(int64_t round, int64_t data_silo_index,
                                      const StateDict& global, const StateDict* correction)>;

class SiloMaster : public DrivenMachine {
 public:
  SiloMaster(const Args& args, int64_t silo_id, Model model, Trainer& trainer,
             const FederatedDataset& dataset, comm::Transport& transport, comm::ObjectStore& store,
             RoundStart on_round = nullptr, Clock& clock = steady_clock());

  void start();
  void handle(const comm::Message& m) override;
  bool done() const override { return done_; }
  ExitCode exit_code() const override { return exit_code_; }
  bool aborted() const { return exit_code_ == ExitCode::kAborted; }
  // Before the first round a silo waits as long as the server waits for everyone to come
  // online; later, two rounds' time (the others' training plus evaluation).
  Clock::time_point deadline() const override { return deadline_; }
  void on_deadline() override;
  // After a reconnect to the broker: says ONLINE again and re-sends the last model it uploaded.
  void on_reconnect() override;
  void on_quiet() override {}
  ExitCode on_signal(int sig) override;
  std::string waiting_for() const override;
  // Says OFFLINE to the server (a clean disconnect sends no last will) with `why`.
  void leave(const std::string& why);
  // The OFFLINE message the transport should publish if this silo vanishes.
  static comm::Message last_will(const Args& args, int64_t silo_id);

  Model& model() { return model_; }

 private:
  void on_train(const comm::Message& m);
  void on_finish(const comm::Message& m);
  // Secure aggregation (args.enable_sa): the server's SA_* requests of the current round.
  void on_secure(const comm::Message& m);
  comm::Message secure_reply(const comm::Message& request);
  // `answer`: it answers CHECK_CLIENT_STATUS (metrics {"answer": true}).
  void send_status(const std::string& status, bool answer = false);
  // TRAINING / UPLOADING for `round`: the server's dashboard shows what the silo is doing.
  void send_progress(const std::string& status, int64_t round);
  // Sends an answer again as a new message (new id and sequence number): the first may have
  // reached a server that could not use it (a failed blob fetch) or one that restarted, and a
  // repeated id would be dropped as a duplicate. The server ignores a second copy it has used.
  void send_again(comm::Message m);
  // Uploads the trained model and sends SEND_MODEL; on a store error keeps `reply` to try again
  // when the server asks again.
  void upload_and_reply(comm::Message reply);
  comm::Message make(comm::MsgType type);
  // The upload filters, on the trained model.
  void before_upload(int64_t round, const StateDict& global);
  bool keeps_global_for_upload() const;
  StateDict& receive_buffer();  // incoming_, allocated on first use
  // SCAFFOLD: reads the request's correction into correction_; any other rule refuses a request
  // that names one. Throws what get_model_into throws.
  void fetch_correction(const comm::Message& m);
  double ms_since(Clock::time_point t) const;

  Args args_;
  int64_t id_;
  Model model_;
  Trainer& trainer_;
  const FederatedDataset& dataset_;
  comm::Transport& transport_;
  comm::CountingStore store_;  // counts the bytes the heartbeat reports as progress
  SiloHeartbeat heartbeat_;
  RoundStart on_round_;
  // What happens to the trained model before it leaves: attack simulation, local DP.
  std::vector<std::unique_ptr<UploadFilter>> filters_;
  Clock& clock_;
  std::shared_ptr<spdlog::logger> log_;
  StateDict layout_;
  // The global model is received here, checked, then copied into the model: a blob that fails a
  // check leaves the model as it was, and the buffer's pages stay mapped from round to round.
  StateDict incoming_;
  StateDict correction_;  // SCAFFOLD's c - c_i for the round, received like incoming_
  int64_t last_round_ = -1;
  std::optional<comm::Message> last_reply_;
  std::optional<comm::Message> unsent_reply_;  // trained, upload failed: retried when asked
  int64_t rounds_trained_ = 0;
  monitor::SystemSampler system_;  // CPU and memory figures sent with each update
  // Progress reports cost about 0.5 ms of a 3 ms round (two more messages through the broker):
  // sent in the first round and when last round's phase took long enough for a person to see.
  static constexpr double kProgressWorthMs = 200;
  double last_train_ms_ = -1, last_upload_ms_ = -1;
  // Secure aggregation: this round's keys, the trained update (uploaded only masked), and the
  // reply to each request type, so a repeated request gets the same answer.
  std::unique_ptr<SiloSecureRound> secure_;
  StateDict trained_;
  comm::Message trained_reply_;
  std::map<comm::MsgType, std::pair<nlohmann::json, comm::Message>> secure_replies_;
  bool done_ = false;
  ExitCode exit_code_ = ExitCode::kCompleted;
  Clock::time_point deadline_;
  comm::MessageIds ids_{id_};
};

}  // namespace fedsilo::cross_silo
