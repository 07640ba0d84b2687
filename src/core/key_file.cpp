#include "core/key_file.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "core/config_values.h"
#include "fedsilo/error.h"

namespace fedsilo::config {

KeyFile::KeyFile(const std::string& path, const std::vector<std::string>& known) : file_(path) {
  dir_ = std::filesystem::absolute(path).parent_path().string();
  std::string content = read_file(path);
  try {
    root_ = YAML::Load(content);
  } catch (const YAML::Exception& e) {
    throw ConfigError("config file " + path + ": not valid YAML: " + e.what());
  }
  if (!root_.IsMap())
    throw ConfigError("config file " + path + ": must be a mapping of KEY: value");
  for (const auto& kv : root_) {
    const auto& k = kv.first.Scalar();
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      SPDLOG_WARN("config file {}: key {} is not known to fedsilo and is ignored", path, k);
    }
  }
}

template <typename F>
auto KeyFile::with_file(F&& read) const -> decltype(read()) {
  try {
    return read();
  } catch (const ConfigError& e) {
    throw ConfigError(file_ + ": " + e.what());
  }
}

YAML::Node KeyFile::node(const std::string& key) const { return root_[key]; }

std::string KeyFile::text(const std::string& key, const std::string& fallback) const {
  auto n = node(key);
  if (!n || n.IsNull()) return fallback;
  return with_file([&] { return config::text(n, key); });
}

int64_t KeyFile::integer(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) const {
  auto n = node(key);
  if (!n || n.IsNull()) return fallback;
  return with_file([&] { return config::integer(n, key, lo, hi); });
}

bool KeyFile::boolean(const std::string& key, bool fallback) const {
  auto n = node(key);
  if (!n || n.IsNull()) return fallback;
  return with_file([&] { return config::boolean(n, key); });
}

std::string KeyFile::path(const std::string& key) const {
  return resolve_path(text(key, ""), dir_);
}

}  // namespace fedsilo::config
