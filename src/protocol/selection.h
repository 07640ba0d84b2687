#pragma once
// Which silos train in a round, and on which data silo each one trains. Both depend only on
// (random_seed, round), never on arrival order or timing, so a rerun selects the same.
#include <cstdint>
#include <vector>

#include "fedsilo/args.h"

namespace fedsilo::cross_silo {

// client_num_per_round silo ids out of client_id_list, ascending.
std::vector<int64_t> select_silos(const Args& args, int64_t round);

// `count` distinct data-silo indices out of [0, client_num_in_total): all of them in order when
// count == client_num_in_total (as FedML), otherwise a seeded draw. Entry i goes to silo i.
std::vector<int64_t> select_data_silos(const Args& args, int64_t round, int64_t count);

}  // namespace fedsilo::cross_silo
