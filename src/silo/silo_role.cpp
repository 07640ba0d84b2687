#include "silo/silo_role.h"

#include <charconv>
#include <cstdlib>
#include <optional>

#include "fedsilo/error.h"

namespace fedsilo::silo {
namespace {

constexpr const char* kSiloRank = kSiloRankVariable;
constexpr const char* kLocalRank = kLocalRankVariable;
constexpr const char* kWorldSize = kWorldSizeVariable;

std::optional<int64_t> read_int(const char* name, int64_t lo, int64_t hi) {
  const char* v = std::getenv(name);
  if (!v) return std::nullopt;
  int64_t out = 0;
  const char* end = v + std::char_traits<char>::length(v);
  auto [p, ec] = std::from_chars(v, end, out);
  if (ec != std::errc() || p != end || out < lo || out > hi) {
    throw ConfigError(std::string("environment ") + name + "=" + v + ": must be an integer in [" +
                      std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return out;
}

// The launcher's variables, read once per process.
struct LaunchEnvironment {
  std::optional<int64_t> silo_rank, local_rank, world_size;
};

const LaunchEnvironment& launch_environment() {
  static const LaunchEnvironment env = [] {
    LaunchEnvironment e;
    e.world_size = read_int(kWorldSize, 1, 1 << 20);
    e.silo_rank = read_int(kSiloRank, 0, (1 << 20) - 1);
    e.local_rank = read_int(kLocalRank, 0, (1 << 20) - 1);
    return e;
  }();
  return env;
}

}  // namespace

SiloRole SiloRole::of(const Args& args) {
  const auto& env = launch_environment();
  SiloRole r;
  r.world_size = args.n_proc_in_silo();
  if (env.silo_rank) {
    r.silo_rank = *env.silo_rank;
    r.local_rank = env.local_rank.value_or(0);
    if (env.world_size) r.world_size = *env.world_size;
    if (r.silo_rank >= r.world_size) {
      throw ConfigError("environment FEDSILO_SILO_RANK=" + std::to_string(r.silo_rank) +
                        " must be < FEDSILO_WORLD_SIZE (" + std::to_string(r.world_size) + ")");
    }
    r.kind = r.silo_rank == 0 ? Kind::kMaster : Kind::kWorker;
    if (const char* f = std::getenv(kRendezvousFileVariable)) r.rendezvous_file = f;
  } else {
    r.kind = r.world_size > 1 ? Kind::kLauncher : Kind::kMaster;
  }
  return r;
}

std::vector<std::pair<std::string, std::string>> SiloRole::trainer_environment(int64_t silo_rank,
                                                                               int64_t local_rank,
                                                                               int64_t world_size) {
  return {{kSiloRank, std::to_string(silo_rank)},
          {kLocalRank, std::to_string(local_rank)},
          {kWorldSize, std::to_string(world_size)}};
}

std::string SiloRole::log_name(const Args& args) const {
  std::string base = "client-" + std::to_string(args.rank);
  switch (kind) {
    case Kind::kLauncher:
      return base + "-node-" + std::to_string(args.node_rank_in_silo) + ".log";
    case Kind::kWorker:
      return base + "-trainer-" + std::to_string(silo_rank) + ".log";
    case Kind::kMaster:
      break;
  }
  return base + ".log";
}

}  // namespace fedsilo::silo
