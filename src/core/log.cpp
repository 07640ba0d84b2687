#include "core/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <mutex>
#include <vector>

namespace fedsilo::logging {
namespace {

// spdlog prints "info"; the seed's lines say "INFO".
class UpperLevel : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    auto sv = spdlog::level::to_string_view(msg.level);
    for (char c : sv)
      dest.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<UpperLevel>();
  }
};

std::string host_name() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown-host";
  return buf;
}

std::mutex mu;
std::vector<spdlog::sink_ptr>& sinks() {
  static std::vector<spdlog::sink_ptr> s;
  return s;
}
spdlog::level::level_enum current_level = spdlog::level::info;

std::unique_ptr<spdlog::formatter> make_formatter() {
  auto f = std::make_unique<spdlog::pattern_formatter>();
  f->add_flag<UpperLevel>('*').set_pattern("[%n @" + host_name() +
                                           "] [%a, %d %b %Y %H:%M:%S] [%*] [%s:%#:%!] %v");
  return f;
}

void configure(spdlog::logger& lg) {
  lg.sinks() = sinks();
  lg.set_formatter(make_formatter());
  lg.set_level(current_level);
  // Every line reaches the file at once: a killed process's log ends with its last line, not
  // with whatever filled the last buffer.
  lg.flush_on(spdlog::level::trace);
}

}  // namespace

void init(const std::string& log_file, const std::string& level) {
  std::lock_guard<std::mutex> lock(mu);
  sinks().clear();
  sinks().push_back(std::make_shared<spdlog::sinks::stdout_sink_mt>());
  if (!log_file.empty()) {
    auto parent = std::filesystem::path(log_file).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
    sinks().push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(log_file));
  }
  current_level = spdlog::level::from_str(level);
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& lg) { configure(*lg); });
  auto def = spdlog::default_logger();
  if (def->name() != "FedSilo") {
    def = std::make_shared<spdlog::logger>("FedSilo");
    spdlog::set_default_logger(def);
  }
  configure(*def);
}

void add_sink(spdlog::sink_ptr sink) {
  std::lock_guard<std::mutex> lock(mu);
  if (sinks().empty()) sinks().push_back(std::make_shared<spdlog::sinks::stdout_sink_mt>());
  sinks().push_back(std::move(sink));
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& lg) { configure(*lg); });
}

void remove_sink(const spdlog::sink_ptr& sink) {
  std::lock_guard<std::mutex> lock(mu);
  auto& s = sinks();
  s.erase(std::remove(s.begin(), s.end(), sink), s.end());
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& lg) { configure(*lg); });
}

std::shared_ptr<spdlog::logger> role_logger(const std::string& role, int64_t rank) {
  std::string name = "FedSilo-" + role + "(" + std::to_string(rank) + ")";
  std::lock_guard<std::mutex> lock(mu);
  if (auto lg = spdlog::get(name)) return lg;
  if (sinks().empty()) sinks().push_back(std::make_shared<spdlog::sinks::stdout_sink_mt>());
  auto lg = std::make_shared<spdlog::logger>(name);
  configure(*lg);
  spdlog::register_logger(lg);
  return lg;
}

}  // namespace fedsilo::logging
