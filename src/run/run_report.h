#pragma once
// report.html: one self-contained page (inline SVG and CSS, no scripts, no network) with
// accuracy and loss over rounds, the per-round time breakdown, per-silo samples and timings, and
// the configuration used.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace fedsilo::cross_silo {

std::string render_report(const nlohmann::json& config, const std::vector<nlohmann::json>& rounds,
                          const std::string& status);

}  // namespace fedsilo::cross_silo
