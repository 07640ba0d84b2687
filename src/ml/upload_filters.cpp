#include "core/log.h"
#include "ml/attacks.h"
#include "ml/local_dp.h"
#include "ml/upload_filter.h"

namespace fedsilo {
namespace {

class ModelAttack : public UploadFilter {
 public:
  ModelAttack(const Args& args, int64_t silo)
      : args_(args), silo_(silo), log_(logging::role_logger("Client", silo)) {}
  void apply(int64_t round, const StateDict& global, StateDict& trained) override {
    FS_LOG_WARN(log_, "ATTACK SIMULATION: round {}: replacing the trained model ({} mode)", round,
                args_.attack_mode);
    attacks::corrupt_model(args_, round, silo_, global, trained);
  }

 private:
  Args args_;
  int64_t silo_;
  std::shared_ptr<spdlog::logger> log_;
};

class LocalDp : public UploadFilter {
 public:
  LocalDp(const Args& args, int64_t silo)
      : calibration_(dp::calibrate(args)), log_(logging::role_logger("Client", silo)) {}
  void apply(int64_t round, const StateDict& global, StateDict& trained) override {
    const auto& c = calibration_;
    double norm = dp::privatize_update(c, noise_, global, trained);
    FS_LOG_INFO(log_,
                "round {}: local DP: update norm {:.4g} clipped to {:.4g}, noise scale {:.4g}",
                round, norm, c.clip, c.scale);
  }

 private:
  dp::Calibration calibration_;
  dp::NoiseSource noise_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace

std::vector<std::unique_ptr<UploadFilter>> make_upload_filters(const Args& args, int64_t silo) {
  std::vector<std::unique_ptr<UploadFilter>> filters;
  if (attacks::replaces_model(args, silo))
    filters.push_back(std::make_unique<ModelAttack>(args, silo));
  if (dp::is_local(args)) filters.push_back(std::make_unique<LocalDp>(args, silo));
  return filters;
}

}  // namespace fedsilo
