#pragma once
// What a resumed run may change in its config (docs/config.md, "Resuming a run"). A run's
// meaning — its data, model, rule, defenses, privacy, seed — is fixed when it starts; a restart
// may change how it is run: deadlines, retries, the broker and store addresses, logging, the
// dashboard, the silos' processes and devices.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace fedsilo {

// `section.key` may differ between a run's checkpoint and its resumed config.
bool may_change_on_resume(const std::string& section, const std::string& key);

// Each key of `saved` (args_to_json of the run's first config) whose value in `now` differs and
// may not change, as "section.key: <saved> -> <now>"; and train_args.comm_round when it is not
// above the rounds done (it may grow: the run goes on longer).
std::vector<std::string> refused_resume_changes(const nlohmann::json& saved,
                                                const nlohmann::json& now, int64_t rounds_done);

}  // namespace fedsilo
