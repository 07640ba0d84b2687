// ServerManager's answers to faults (docs/protocol.md "Quorum" and "Server restart"): silos that
// come and go, requests asked again, deadlines (the round exchange decides what a round's
// deadline does), store writes tried again, and the checkpoint a restarted server resumes from.
#include <thread>

#include "core/log.h"
#include "core/resume_config.h"
#include "fedsilo/error.h"
#include "protocol/blob_keys.h"
#include "protocol/model_exchange.h"
#include "server/server_manager.h"

namespace fedsilo::cross_silo {
using comm::MsgType;

namespace {
// An ONLINE that answers CHECK_CLIENT_STATUS (metrics {"answer": true}); anything else a silo
// put there is no answer.
bool is_answer(const comm::Message& m) {
  auto it = m.metrics.find("answer");
  return it != m.metrics.end() && it->is_boolean() && it->get<bool>();
}
}  // namespace

void ServerManager::on_status(const comm::Message& m) {
  if (m.status == comm::Status::kOnline) {
    FS_LOG_INFO(log_, "silo {} is ONLINE ({}/{})", m.sender, online_.size(),
                args_.client_id_list.size());
    if (state_ == State::kWaitingOnline && online_.size() == args_.client_id_list.size()) {
      start_round(round_ + 1);
    } else if (state_ == State::kTraining && exchange_->awaits(m.sender) &&
               (!is_answer(m) || !asked_.count(m.sender))) {
      // A silo that (re)starts or reconnects mid-round may have missed its request, and one
      // skipped or taken for offline may never have had it (or lost its answer). One that was
      // asked, and was not offline since, and answers CHECK_CLIENT_STATUS
      // only says it is there (in simulate every silo's answer to the first CHECK came after
      // round 0 had started, and round 0 was uploaded twice).
      FS_LOG_INFO(log_, "silo {} is ONLINE while round {} waits for it; sending its request again",
                  m.sender, round_);
      send_round_request(m.sender);
    }
  } else if (m.status == comm::Status::kOffline) {
    online_.erase(m.sender);
    asked_.erase(m.sender);  // whatever it had may be lost: when it is back, it is asked again
    events_.silo_offline(m.sender);
    if (state_ == State::kTraining) {
      exchange_->on_offline(m.sender);
    } else {
      log_offline(*log_, m.sender, false, round_);
    }
  } else {
    // TRAINING / UPLOADING: progress a silo reports while the round waits for it.
    FS_LOG_DEBUG(log_, "silo {} reports status {} for round {}", m.sender, m.status, m.round);
    events_.silo_progress(m.sender, m.round, m.status);
  }
}

ExitCode ServerManager::on_signal(int sig) {
  abort(fmt::format("interrupted by signal {}", sig), ExitCode::kInterrupted);
  return exit_code_;
}

void ServerManager::abort(const std::string& why, ExitCode code) {
  FS_LOG_ERROR(log_, "{}; telling every silo to stop", why);
  for (int id : args_.client_id_list) {
    auto m = make(MsgType::kFinish, id);
    m.status = comm::Status::kAborted;
    transport_.send(m);
  }
  state_ = State::kDone;
  exit_code_ = code;
  events_.set_state("aborted: " + why);
  try {
    events_.run_ended("aborted: " + why);
  } catch (const std::exception& e) {  // the silos are told; a full disk must not hide that
    FS_LOG_ERROR(log_, "report.html not written: {}", e.what());
  }
}

void ServerManager::resend(bool only_quiet) {
  if (state_ == State::kWaitingOnline) {
    for (int id : args_.client_id_list) {
      if (!online_.count(id)) transport_.send(make(MsgType::kCheckClientStatus, id));
    }
  } else if (state_ == State::kTraining) {
    exchange_->resend(only_quiet);
  }
}

void ServerManager::on_deadline() {
  if (state_ == State::kWaitingOnline) {
    if (static_cast<int64_t>(online_.size()) >= args_.min_clients_per_round) {
      FS_LOG_WARN(log_,
                  "{} s passed waiting for {}; starting with the {} online (quorum {}): the others "
                  "are asked when they come",
                  args_.online_timeout_s, waiting_for(), online_.size(),
                  args_.min_clients_per_round);
      start_round(round_ + 1);
      settle();
      return;
    }
    abort("deadline passed while waiting for " + waiting_for(), ExitCode::kDeadline);
    return;
  }
  if (state_ != State::kTraining) return;
  exchange_->on_deadline();
  settle();
}

void ServerManager::resume(const CheckpointFiles::Loaded& loaded) {
  const auto& c = loaded.meta;
  if (c.config.is_null()) {
    FS_LOG_WARN(log_,
                "{} does not record the run's config (written by an older fedsilo): the "
                "resumed config cannot be checked against it",
                checkpoint_.json_path());
  } else {
    auto refused = refused_resume_changes(c.config, run_config_, c.round + 1);
    if (!refused.empty()) {
      throw ConfigError(fmt::format(
          "run {} cannot resume with a changed meaning ({}): {}; restore those values, or start "
          "a new run with another --run_id (docs/config.md lists what a resume may change)",
          args_.run_id, checkpoint_.json_path(), fmt::join(refused, "; ")));
    }
    // The first run's config stays the reference: a key that may change is not made the rule.
    run_config_ = c.config;
  }
  load_state(model_.module(), loaded.model, "checkpoint model");
  strategy_->restore_state(loaded.aggregator);
  last_metrics_ = c.last_metrics;
  last_record_ = c.record;
  round_ = c.round;
  events_.resumed(c.round + 1);
  // Elapsed figures and the ETA go on from where the run was.
  run_start_ = clock_.now() - seconds_to_duration(c.elapsed_s);
  if (c.finished) {
    FS_LOG_INFO(log_,
                "run {} already finished ({} rounds; final model {}/final_model.safetensors); "
                "nothing to train. Telling the silos again; start a new run with another "
                "--run_id",
                args_.run_id, c.round + 1, recorder_.dir());
    global_ref_ = c.final_model;
    for (int id : args_.client_id_list) {
      auto m = make(MsgType::kFinish, id);
      m.model = c.final_model;
      m.status = comm::Status::kCompleted;
      transport_.send_retained(m);
    }
    state_ = State::kDone;
    events_.set_state("completed");
    return;
  }
  // The blobs the crashed server would have retired later: keys are derived, and removing a
  // key that is not there is no error.
  auto& keys = blobs_[c.round];
  keys.push_back(global_blob_key(args_.run_id, c.round));
  for (int id : args_.client_id_list) keys.push_back(silo_blob_key(args_.run_id, id, c.round));
  FS_LOG_INFO(log_, "run {}: resuming after round {} from {} ({} of {} rounds done)", args_.run_id,
              c.round, checkpoint_.json_path(), c.round + 1, args_.comm_round);
  // The crash came after the last round but before the run's end was recorded.
  if (round_ + 1 == args_.comm_round) finish_run();
}

BlobRef ServerManager::put_with_retries(const std::string& key, const StateDict& state) {
  constexpr int kAttempts = 6;
  for (int attempt = 1;; ++attempt) {
    try {
      return put_model(store_, key, state);
    } catch (const StoreError& e) {
      if (attempt == kAttempts) throw;
      auto wait = std::chrono::milliseconds(500) * (1 << (attempt - 1));
      FS_LOG_WARN(log_, "{}; trying again in {} ms (attempt {} of {})", e.what(), wait.count(),
                  attempt + 1, kAttempts);
      std::this_thread::sleep_for(wait);  // real time: the store's, not the protocol's
    }
  }
}

void ServerManager::save_checkpoint(bool finished, const BlobRef& final_model) {
  ServerCheckpoint c;
  c.run_id = args_.run_id;
  c.round = round_;
  c.finished = finished;
  c.elapsed_s = ms_since(run_start_) / 1000.0;
  c.record = last_record_;
  c.last_metrics = last_metrics_;
  c.final_model = final_model;
  c.config = run_config_;
  checkpoint_.save(c, state_of(model_.module()), strategy_->saved_state());
}

}  // namespace fedsilo::cross_silo
