// Secure-aggregation payloads (the `sa` field of SA_* messages): a silo or the server may be
// fed any JSON there by whoever can publish. Each side must reject it with fedsilo::Error.
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "protocol/secure_round.h"
#include "fedsilo/args.h"
#include "fedsilo/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedsilo;
  using nlohmann::json;
  if (size < 1) return 0;
  json sa = json::parse(data + 1, data + size, nullptr, /*allow_exceptions=*/false);
  if (sa.is_discarded()) return 0;
  static const Args args = [] {
    Args a;
    a.enable_sa = true;
    return a;
  }();
  static const StateDict layout = {{"w", torch::zeros({3})}};
  try {
    switch (data[0] % 4) {
      case 0: {  // the server, in its first phase, given a forged advert
        cross_silo::ServerSecureRound server(args, 0, {1, 2}, layout);
        server.on_advert(1, sa);
        break;
      }
      case 1: {  // a silo given a forged roster
        cross_silo::SiloSecureRound silo(args, 1, 0);
        silo.shares(sa);
        break;
      }
      case 2: {  // a silo that shared with a real peer, given a forged delivery
        cross_silo::SiloSecureRound silo(args, 1, 0), peer(args, 2, 0);
        json roster = {{"u1", {{"1", silo.advert()}, {"2", peer.advert()}}}};
        silo.shares(roster);
        silo.masked(layout, 1.0, sa);
        break;
      }
      default: {  // a silo given a forged unmask request before any round state
        cross_silo::SiloSecureRound silo(args, 1, 0);
        silo.reveal(sa);
        break;
      }
    }
  } catch (const Error&) {
  }
  return 0;
}
