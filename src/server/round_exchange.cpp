#include "server/round_exchange.h"

#include "core/log.h"
#include "fedsilo/error.h"
#include "server/plain_exchange.h"
#include "server/secure_exchange.h"

namespace fedsilo::cross_silo {

double RoundContext::ms_since(Clock::time_point t) const {
  return std::chrono::duration<double, std::milli>(clock.now() - t).count();
}

void RoundContext::keep_waiting(const std::set<int64_t>& awaited) const {
  for (int id : args.client_id_list) {
    if (online.count(id) && !awaited.count(id)) ask_status(id);
  }
}

void RoundContext::check_sample_count(int64_t data_silo_index, int64_t num_samples) const {
  if (num_samples < 0) throw ProtocolError(fmt::format("num_samples {} is negative", num_samples));
  if (args.max_samples_per_silo > 0 && num_samples > args.max_samples_per_silo) {
    throw ProtocolError(fmt::format("num_samples {} exceeds train_args.max_samples_per_silo ({})",
                                    num_samples, args.max_samples_per_silo));
  }
  auto it = data_sizes.find(data_silo_index);
  if (it != data_sizes.end() && num_samples > it->second) {
    throw ProtocolError(fmt::format("num_samples {} exceeds the {} samples of data silo {}",
                                    num_samples, it->second, it->first));
  }
}

std::unique_ptr<RoundExchange> make_round_exchange(const RoundContext& ctx,
                                                   RoundStrategy& strategy) {
  if (ctx.args.enable_sa) return std::make_unique<SecureExchange>(ctx);
  return std::make_unique<PlainExchange>(ctx, strategy);
}

void log_no_update(spdlog::logger& log, int64_t round) {
  FS_LOG_WARN(&log,
              "round {}: no update was accepted (every one rejected, or trained on 0 samples); "
              "the global model stays as it was",
              round);
}

void log_offline(spdlog::logger& log, int64_t silo, bool awaited, int64_t round) {
  FS_LOG_WARN(&log, "silo {} went OFFLINE{}", silo,
              awaited ? fmt::format(" before sending its model for round {}", round) : "");
}

}  // namespace fedsilo::cross_silo
