#pragma once
#include <memory>
#include <optional>

#include "comm/transport.h"
#include "fedsilo/args.h"

namespace fedsilo::comm {

// The endpoint `self_id` (0 = server, k = silo k) of the transport comm_args.backend names.
// `last_will` is what peers receive if this endpoint vanishes without saying goodbye, where the
// transport can arrange that. Throws ConfigError for a backend the distributed mode cannot use.
std::unique_ptr<Transport> make_transport(const Args& args, int64_t self_id,
                                          const std::optional<Message>& last_will = std::nullopt);

}  // namespace fedsilo::comm
