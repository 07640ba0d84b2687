#include "core/config_values.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fedsilo/error.h"

namespace fedsilo::config {
namespace fs = std::filesystem;

std::string show(const YAML::Node& n) {
  YAML::Emitter out;
  out.SetMapFormat(YAML::Flow);
  out.SetSeqFormat(YAML::Flow);
  out << n;
  return out.c_str();
}

void bad(const std::string& key, const YAML::Node& value, const std::string& allowed) {
  throw ConfigError("config " + key + " = " + show(value) + ": " + allowed);
}

namespace {
template <typename T>
T scalar(const YAML::Node& n, const std::string& key, const std::string& what) {
  if (!n.IsScalar()) bad(key, n, "must be " + what);
  try {
    return n.as<T>();
  } catch (const YAML::Exception&) {
    bad(key, n, "must be " + what);
  }
}
}  // namespace

int64_t integer(const YAML::Node& n, const std::string& key, int64_t lo, int64_t hi) {
  std::string range = hi == INT64_MAX ? fmt::format("an integer >= {}", lo)
                                      : fmt::format("an integer in [{}, {}]", lo, hi);
  int64_t v = scalar<int64_t>(n, key, range);
  if (v < lo || v > hi) bad(key, n, "must be " + range);
  return v;
}

double real(const YAML::Node& n, const std::string& key, double lo, bool lo_open, double hi) {
  std::string range = fmt::format("a number {} {}{}", lo_open ? ">" : ">=", lo,
                                  hi < 1e300 ? fmt::format(" and <= {}", hi) : "");
  double v = scalar<double>(n, key, range);
  if (!(lo_open ? v > lo : v >= lo) || v > hi || std::isnan(v)) bad(key, n, "must be " + range);
  return v;
}

bool boolean(const YAML::Node& n, const std::string& key) {
  return scalar<bool>(n, key, "true or false");
}

std::string text(const YAML::Node& n, const std::string& key) {
  return scalar<std::string>(n, key, "a string");
}

std::string choice(const YAML::Node& n, const std::string& key,
                   const std::vector<std::string>& allowed) {
  auto v = text(n, key);
  for (const auto& ok : allowed) {
    if (v == ok) return v;
  }
  bad(key, n, fmt::format("must be one of: {}", fmt::join(allowed, ", ")));
}

std::string resolve_path(const std::string& path, const std::string& file_dir) {
  std::error_code ec;  // a name too long or not permitted simply does not exist here
  if (path.empty() || fs::path(path).is_absolute() || fs::exists(path, ec) || file_dir.empty())
    return path;
  return (fs::path(file_dir) / path).string();
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    throw ConfigError("config file " + path + ": is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("config file " + path + ": cannot be opened");
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw ConfigError("config file " + path + ": cannot be read");
  std::string text = ss.str();
  if (text.find_first_not_of(" \t\r\n") == std::string::npos)
    throw ConfigError("config file " + path + ": is empty");
  return text;
}

}  // namespace fedsilo::config
