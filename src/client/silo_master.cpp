// A silo master: the round protocol's silo side. long because the request handling (fetch,
// check, train, upload, answer again) and secure aggregation's steps share the master's state.
#include "client/silo_master.h"

#include <torch/torch.h>

#include <random>

#include "core/log.h"
#include "protocol/blob_keys.h"
#include "protocol/model_exchange.h"
#include "fedsilo/aggregator.h"
#include "fedsilo/error.h"
#include "ml/attacks.h"
#include "ml/model_blob.h"

namespace fedsilo::cross_silo {
using comm::Message;
using comm::MsgType;

SiloMaster::SiloMaster(const Args& args, int64_t silo_id, Model model, Trainer& trainer,
                       const FederatedDataset& dataset, comm::Transport& transport,
                       comm::ObjectStore& store, RoundStart on_round, Clock& clock)
    : args_(args),
      id_(silo_id),
      model_(std::move(model)),
      trainer_(trainer),
      dataset_(dataset),
      transport_(transport),
      store_(store),
      heartbeat_(transport, SiloHeartbeat::interval_for(args),
                 [this] { return store_.bytes_moved(); }),
      on_round_(std::move(on_round)),
      clock_(clock),
      log_(logging::role_logger("Client", silo_id)) {
  layout_ = layout_of(state_of(model_.module()));
  if (args_.enable_sa) secure_params(args_);  // a bad prime stops the run before it starts
  if (attacks::is_attacker(args_, id_)) {
    FS_LOG_WARN(log_, "ATTACK SIMULATION: this silo is an attacker (attack_args.attack_type {})",
                attacks::describe(args_));
  }
  filters_ = make_upload_filters(args_, id_);
}

namespace {
StateDict cpu_buffer(const StateDict& layout) {
  StateDict b;
  for (const auto& [name, t] : layout)
    b.emplace_back(name, torch::empty(t.sizes(), t.options().device(torch::kCPU)));
  return b;
}
}  // namespace

StateDict& SiloMaster::receive_buffer() {
  if (incoming_.empty()) incoming_ = cpu_buffer(layout_);
  return incoming_;
}

void SiloMaster::fetch_correction(const Message& m) {
  if (!registry::needs_of(args_.federated_optimizer).control_variates) {
    if (!m.control.empty())
      throw ProtocolError(
          fmt::format("it names a correction blob {}, which federated_optimizer {} "
                      "does not take",
                      m.control.key, args_.federated_optimizer));
    return;
  }
  auto key = control_blob_key(args_.run_id, id_, m.round);
  if (m.control.key != key) {
    throw ProtocolError(fmt::format("SCAFFOLD needs the correction {}, the request names '{}'", key,
                                    m.control.key));
  }
  if (correction_.empty()) correction_ = cpu_buffer(layout_);
  auto what = fmt::format("SCAFFOLD correction for round {}", m.round);
  get_model_into(store_, m.control, layout_, what, correction_);
  check_finite(correction_, what);
}

bool SiloMaster::keeps_global_for_upload() const { return !filters_.empty(); }

void SiloMaster::before_upload(int64_t round, const StateDict& global) {
  if (filters_.empty()) return;
  auto trained = state_of(model_.module());  // references: writes change the model
  for (auto& filter : filters_) filter->apply(round, global, trained);
}

double SiloMaster::ms_since(Clock::time_point t) const {
  return std::chrono::duration<double, std::milli>(clock_.now() - t).count();
}

Message SiloMaster::last_will(const Args& args, int64_t silo_id) {
  Message will;
  will.type = MsgType::kClientStatus;
  std::random_device rd;
  will.id = fmt::format("{}-will-{:08x}", silo_id, rd());
  will.run_id = args.run_id;
  will.sender = silo_id;
  will.receiver = 0;
  will.status = comm::Status::kOffline;
  return will;
}

void SiloMaster::leave(const std::string& why) {
  auto off = make(MsgType::kClientStatus);
  off.status = comm::Status::kOffline;
  off.metrics = {{"reason", why}};
  transport_.send(off);
}

void SiloMaster::on_deadline() {
  FS_LOG_ERROR(log_,
               "deadline passed while waiting for {}; the server is gone or the network is down",
               waiting_for());
  leave("deadline passed");
  done_ = true;
  exit_code_ = ExitCode::kDeadline;
}

ExitCode SiloMaster::on_signal(int sig) {
  FS_LOG_WARN(log_, "interrupted by signal {}; leaving the run", sig);
  leave("interrupted");
  done_ = true;
  exit_code_ = ExitCode::kInterrupted;
  return exit_code_;
}

Message SiloMaster::make(MsgType type) {
  Message m;
  m.type = type;
  m.id = ids_.next();
  m.run_id = args_.run_id;
  m.sender = id_;
  m.receiver = 0;
  m.sent_at_us = comm::now_us();
  return m;
}

void SiloMaster::on_reconnect() {
  if (done_) return;
  send_status(comm::Status::kOnline);
  if (last_reply_) send_again(*last_reply_);
}

void SiloMaster::send_again(Message m) {
  m.id = ids_.next();
  m.sent_at_us = comm::now_us();
  transport_.send(m);
}

std::string SiloMaster::waiting_for() const {
  if (done_) return "nothing (finished)";
  if (last_round_ < 0) return "the server's first round (INIT_CONFIG)";
  return fmt::format("the server's next request after round {} (SYNC_MODEL or FINISH)",
                     last_round_);
}

void SiloMaster::send_status(const std::string& status, bool answer) {
  auto m = make(MsgType::kClientStatus);
  m.status = status;
  if (answer) m.metrics["answer"] = true;
  transport_.send(m);
}

void SiloMaster::send_progress(const std::string& status, int64_t round) {
  auto m = make(MsgType::kClientStatus);
  m.status = status;
  m.round = round;
  transport_.send(m);
}

void SiloMaster::start() {
  FS_LOG_INFO(log_, "silo {} started (run {}); reporting ONLINE", id_, args_.run_id);
  deadline_ = clock_.now() + seconds_to_duration(args_.online_timeout_s);
  send_status(comm::Status::kOnline);
}

void SiloMaster::handle(const Message& m) {
  if (m.run_id != args_.run_id || m.sender != 0 || m.receiver != id_) {
    FS_LOG_WARN(log_,
                "dropping {} {}: addressed from {} to {} in run {}, this is silo {} of run {}",
                to_string(m.type), m.id, m.sender, m.receiver, m.run_id, id_, args_.run_id);
    return;
  }
  if (done_) {
    FS_LOG_INFO(log_, "dropping {} {}: this silo has finished", to_string(m.type), m.id);
    return;
  }
  deadline_ = clock_.now() + seconds_to_duration(2 * args_.round_timeout_s);
  switch (m.type) {
    case MsgType::kCheckClientStatus:
      // An answer, not news: the server must not take it for a silo that (re)started and may
      // have missed its request (that is what the ONLINE of start() and on_reconnect() says).
      send_status(comm::Status::kOnline, /*answer=*/true);
      break;
    case MsgType::kInitConfig:
    case MsgType::kSyncModel:
      on_train(m);
      break;
    case MsgType::kFinish:
      on_finish(m);
      break;
    case MsgType::kSaRoster:
    case MsgType::kSaDeliver:
    case MsgType::kSaUnmask:
      on_secure(m);
      break;
    default:
      FS_LOG_WARN(log_, "dropping {} {}: a silo does not take this message type", to_string(m.type),
                  m.id);
  }
}

void SiloMaster::on_train(const Message& m) {
  if (secure_ && m.round == secure_->round()) {
    // The server still waits for this round's keys: the same keys again, never new ones.
    FS_LOG_INFO(log_, "round {} asked again ({}); sending the same keys again", m.round, m.id);
    send_again(secure_replies_.at(MsgType::kSaAdvertise).second);
    return;
  }
  if (m.round == last_round_ && last_reply_ && last_reply_->round == m.round) {
    // The server asks again: our answer was lost (the broker or the server restarted) or the
    // server could not fetch the blob. Never retrain.
    FS_LOG_INFO(log_, "round {} asked again ({}); sending the same model again", m.round, m.id);
    send_again(*last_reply_);
    return;
  }
  if (unsent_reply_ && unsent_reply_->round == m.round) {
    FS_LOG_INFO(log_, "round {} asked again ({}); uploading the trained model again", m.round,
                m.id);
    upload_and_reply(*unsent_reply_);
    return;
  }
  if (m.round <= last_round_) {
    FS_LOG_INFO(log_, "dropping {} {} for round {}: round {} is already done (duplicate or stale)",
                to_string(m.type), m.id, m.round, last_round_);
    return;
  }
  if (m.round < 0 || m.round >= args_.comm_round) {
    FS_LOG_WARN(log_, "dropping {} {}: round {} cannot exist in a run of {} rounds",
                to_string(m.type), m.id, m.round, args_.comm_round);
    return;
  }
  if (m.model.key != global_blob_key(args_.run_id, m.round)) {
    FS_LOG_WARN(log_, "dropping {} {}: it names blob {}, round {}'s global model is {}",
                to_string(m.type), m.id, m.model.key, m.round,
                global_blob_key(args_.run_id, m.round));
    return;
  }
  auto it = dataset_.train_data_local_dict.find(m.data_silo_index);
  if (it == dataset_.train_data_local_dict.end()) {
    FS_LOG_ERROR(log_,
                 "round {}: data silo index {} does not exist here ({} data silos); the server and "
                 "this silo "
                 "disagree on train_args.client_num_in_total",
                 m.round, m.data_silo_index, dataset_.train_data_local_dict.size());
    return;
  }
  FS_LOG_INFO(log_, "#######training########### round_id = {}", m.round);
  auto alive = make(MsgType::kClientStatus);
  alive.status = comm::Status::kAlive;
  alive.round = m.round;
  BusySpell busy(heartbeat_, alive);  // until the model is sent or the round is given up
  auto t0 = clock_.now();
  StateDict start;
  try {
    auto what = fmt::format("global model for round {}", m.round);
    get_model_into(store_, m.model, layout_, what, receive_buffer());
    check_finite(incoming_, what);
    fetch_correction(m);
    load_state(model_.module(), incoming_, "global model");
    // Rules that upload a difference keep the start (the buffer is not touched again before
    // the next round's request).
    if (keeps_global_for_upload()) start = incoming_;
  } catch (const Error& e) {
    FS_LOG_ERROR(log_, "rejecting {} {}: {}", to_string(m.type), m.id, e.what());
    return;
  }
  double download_ms = ms_since(t0);
  double notify_ms = m.sent_at_us ? (comm::now_us() - m.sent_at_us) / 1000.0 - download_ms : 0.0;
  last_round_ = m.round;
  if (last_train_ms_ < 0 || last_train_ms_ >= kProgressWorthMs)
    send_progress(comm::Status::kTraining, m.round);
  const StateDict* correction = correction_.empty() ? nullptr : &correction_;
  if (on_round_) on_round_(m.round, m.data_silo_index, state_of(model_.module()), correction);
  if (args_.enable_sa) {
    // Keys first, so the server can gather everyone's while this silo trains.
    secure_ = std::make_unique<SiloSecureRound>(args_, id_, m.round);
    secure_replies_.clear();
    auto advert = make(MsgType::kSaAdvertise);
    advert.round = m.round;
    advert.sa = secure_->advert();
    secure_replies_[MsgType::kSaAdvertise] = {m.sa, advert};
    transport_.send(advert);
  }
  t0 = clock_.now();
  TrainContext ctx{m.round, id_, m.data_silo_index};
  ctx.correction = correction;
  TrainResult r = trainer_.train(model_, attacks::data_to_train_on(args_, id_, it->second), ctx);
  double train_ms = ms_since(t0);
  last_train_ms_ = train_ms;
  before_upload(m.round, start);
  auto reply = make(MsgType::kSendModel);
  reply.round = m.round;
  reply.num_samples = r.num_samples;
  reply.data_silo_index = m.data_silo_index;
  reply.metrics = {{"train_loss", r.loss},        {"train_acc", r.accuracy},
                   {"train_ms", train_ms},        {"download_ms", download_ms},
                   {"sync_notify_ms", notify_ms}, {"local_steps", r.local_steps},
                   {"system", system_.sample()}};
  ++rounds_trained_;
  if (secure_) {
    // Uploaded only masked, once the server has delivered the other silos' key shares.
    trained_ = clone_state(state_of(model_.module()));
    trained_reply_ = reply;
    return;
  }
  upload_and_reply(std::move(reply));
}

void SiloMaster::upload_and_reply(Message reply) {
  if (last_upload_ms_ < 0 || last_upload_ms_ >= kProgressWorthMs)
    send_progress(comm::Status::kUploading, reply.round);
  auto t0 = clock_.now();
  try {
    reply.model =
        put_model(store_, silo_blob_key(args_.run_id, id_, reply.round), state_of(model_.module()));
  } catch (const StoreError& e) {
    // The model stays trained in memory until the next round's request replaces it.
    FS_LOG_ERROR(log_,
                 "round {}: uploading the trained model failed ({}); it is uploaded again when "
                 "the server asks again",
                 reply.round, e.what());
    unsent_reply_ = std::move(reply);
    return;
  }
  unsent_reply_.reset();
  reply.metrics["upload_ms"] = last_upload_ms_ = ms_since(t0);
  reply.sent_at_us = comm::now_us();  // after the upload: the hop's latency excludes it
  last_reply_ = reply;
  transport_.send(reply);
}

comm::Message SiloMaster::secure_reply(const Message& m) {
  if (m.type == MsgType::kSaRoster) {
    auto reply = make(MsgType::kSaShares);
    reply.sa = secure_->shares(m.sa);
    return reply;
  }
  if (m.type == MsgType::kSaDeliver) {
    auto t0 = clock_.now();
    auto masked = secure_->masked(trained_, static_cast<double>(trained_reply_.num_samples), m.sa);
    Message reply = trained_reply_;
    reply.model = put_model(store_, silo_blob_key(args_.run_id, id_, m.round), masked);
    reply.metrics["upload_ms"] = ms_since(t0);
    reply.sent_at_us = comm::now_us();
    last_reply_ = reply;
    return reply;
  }
  auto reply = make(MsgType::kSaReveal);
  reply.sa = secure_->reveal(m.sa);
  return reply;
}

void SiloMaster::on_secure(const Message& m) {
  if (!secure_ || m.round != secure_->round() || trained_.empty()) {
    FS_LOG_INFO(log_, "dropping {} {} for round {}: not expected now", to_string(m.type), m.id,
                m.round);
    return;
  }
  auto it = secure_replies_.find(m.type);
  if (it != secure_replies_.end()) {
    // Asked again: the same answer. An unmask request that changed is refused: answering two
    // different ones could reveal both shares of one silo.
    if (it->second.first != m.sa) {
      FS_LOG_ERROR(log_, "refusing {} {}: it differs from the round's earlier request",
                   to_string(m.type), m.id);
      return;
    }
    send_again(it->second.second);
    return;
  }
  try {
    auto reply = secure_reply(m);
    reply.round = m.round;
    secure_replies_[m.type] = {m.sa, reply};
    transport_.send(reply);
  } catch (const Error& e) {
    FS_LOG_ERROR(log_, "round {}: secure aggregation step {} failed: {}", m.round,
                 to_string(m.type), e.what());
  }
}

void SiloMaster::on_finish(const Message& m) {
  if (m.status == comm::Status::kAborted) {
    FS_LOG_ERROR(log_, "the server aborted the run at round {}; stopping", m.round);
    exit_code_ = ExitCode::kAborted;
  } else if (!m.model.empty() && m.model.key != final_blob_key(args_.run_id)) {
    FS_LOG_ERROR(log_, "final model rejected: FINISH names blob {}, the run's final model is {}",
                 m.model.key, final_blob_key(args_.run_id));
  } else if (!m.model.empty()) {
    try {
      auto& buffer = receive_buffer();
      get_model_into(store_, m.model, layout_, "final model", buffer);
      load_state(model_.module(), buffer, "final model");
    } catch (const Error& e) {
      FS_LOG_ERROR(log_, "final model rejected: {}", e.what());
    }
  }
  done_ = true;
  FS_LOG_INFO(log_, "Training finished for master client rank 0 in silo {} ({} rounds trained)",
              id_, rounds_trained_);
}

}  // namespace fedsilo::cross_silo
