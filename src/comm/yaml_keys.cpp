#include "comm/yaml_keys.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "fedsilo/error.h"

namespace fedsilo::comm {

YamlKeys::YamlKeys(const std::string& path, const std::vector<std::string>& known) : file_(path) {
  dir_ = std::filesystem::absolute(path).parent_path().string();
  try {
    root_ = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw ConfigError("config file " + path + ": cannot be opened");
  } catch (const YAML::Exception& e) {
    throw ConfigError("config file " + path + ": not valid YAML: " + e.what());
  }
  if (root_.IsNull()) root_ = YAML::Node(YAML::NodeType::Map);
  if (!root_.IsMap())
    throw ConfigError("config file " + path + ": must be a mapping of KEY: value");
  for (const auto& kv : root_) {
    auto k = kv.first.as<std::string>();
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      SPDLOG_WARN("config file {}: key {} is not known to fedsilo and is ignored", path, k);
    }
  }
}

std::string YamlKeys::text(const std::string& key, const std::string& fallback) const {
  auto n = root_[key];
  if (!n || n.IsNull()) return fallback;
  if (!n.IsScalar()) throw ConfigError("config file " + file_ + ": " + key + " must be a string");
  return n.as<std::string>();
}

int64_t YamlKeys::integer(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) const {
  auto n = root_[key];
  if (!n || n.IsNull()) return fallback;
  int64_t v = 0;
  try {
    v = n.as<int64_t>();
  } catch (const YAML::Exception&) {
    throw ConfigError("config file " + file_ + ": " + key + " = " + n.as<std::string>() +
                      ": must be an integer");
  }
  if (v < lo || v > hi) {
    throw ConfigError("config file " + file_ + ": " + key + " = " + std::to_string(v) +
                      ": must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return v;
}

bool YamlKeys::boolean(const std::string& key, bool fallback) const {
  auto n = root_[key];
  if (!n || n.IsNull()) return fallback;
  try {
    return n.as<bool>();
  } catch (const YAML::Exception&) {
    throw ConfigError("config file " + file_ + ": " + key + " = " + n.as<std::string>() +
                      ": must be true or false");
  }
}

std::string YamlKeys::path(const std::string& key) const {
  auto v = text(key, "");
  if (v.empty() || std::filesystem::path(v).is_absolute()) return v;
  return (std::filesystem::path(dir_) / v).string();
}

}  // namespace fedsilo::comm
