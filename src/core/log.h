#pragma once
// Seed-shaped log lines: [FedSilo-Server(0) @host] [Sun, 01 May 2022 23:54:35] [INFO]
// [file.cpp:42:function] message. Each role gets its own named logger; all share the sinks.
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace fedsilo::logging {

// Console sink plus, when `log_file` is not empty, a file sink (the file is appended to).
// Safe to call again: later calls replace the sinks. `level` is spdlog's name (info, debug, ...).
void init(const std::string& log_file = "", const std::string& level = "info");

// Adds a sink to every logger, present and later ones, until remove_sink (the dashboard keeps
// the warnings this way). Call while no other thread logs: spdlog's sink lists are not locked.
void add_sink(spdlog::sink_ptr sink);
void remove_sink(const spdlog::sink_ptr& sink);

// Logger for a role, e.g. role_logger("Server", 0) -> "FedSilo-Server(0)".
std::shared_ptr<spdlog::logger> role_logger(const std::string& role, int64_t rank);

}  // namespace fedsilo::logging

#define FS_LOG_INFO(lg, ...) SPDLOG_LOGGER_INFO(lg, __VA_ARGS__)
#define FS_LOG_WARN(lg, ...) SPDLOG_LOGGER_WARN(lg, __VA_ARGS__)
#define FS_LOG_ERROR(lg, ...) SPDLOG_LOGGER_ERROR(lg, __VA_ARGS__)
#define FS_LOG_DEBUG(lg, ...) SPDLOG_LOGGER_DEBUG(lg, __VA_ARGS__)
