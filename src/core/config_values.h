#pragma once
// Reading one config value, for every config file fedsilo reads (fedml_config.yaml and the flat
// mqtt/s3 files): the same conversions, the same range checks, the same wording of errors
// ("config <key> = <value>: must be ...") and the same rule for relative paths.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fedsilo::config {

// The value as YAML flow text, for messages.
std::string show(const YAML::Node& value);

[[noreturn]] void bad(const std::string& key, const YAML::Node& value, const std::string& allowed);

// Each throws ConfigError naming `key`, the value and what is allowed.
int64_t integer(const YAML::Node& n, const std::string& key, int64_t lo, int64_t hi);
double real(const YAML::Node& n, const std::string& key, double lo, bool lo_open, double hi);
bool boolean(const YAML::Node& n, const std::string& key);
std::string text(const YAML::Node& n, const std::string& key);
std::string choice(const YAML::Node& n, const std::string& key,
                   const std::vector<std::string>& allowed);

// The one path rule (docs/config.md): a relative path from a config file is taken as given when
// it exists relative to the working directory (FedML's rule), otherwise relative to the folder
// of the file that names it. Absolute and empty paths are returned unchanged.
std::string resolve_path(const std::string& path, const std::string& file_dir);

// Reads a config file whole; throws ConfigError naming it when it is missing, a directory,
// unreadable or empty.
std::string read_file(const std::string& path);

}  // namespace fedsilo::config
