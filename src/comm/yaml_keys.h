#pragma once
// Reads the flat KEY: value files FedML uses for broker and store settings (mqtt_config.yaml,
// s3_config.yaml), with errors that name the file, the key and what is allowed.
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace fedsilo::comm {

class YamlKeys {
 public:
  YamlKeys(const std::string& path, const std::vector<std::string>& known);
  std::string text(const std::string& key, const std::string& fallback) const;
  int64_t integer(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) const;
  bool boolean(const std::string& key, bool fallback) const;
  // A path value; relative ones resolve against the file's folder. Empty when absent.
  std::string path(const std::string& key) const;

 private:
  std::string file_, dir_;
  YAML::Node root_;
};

}  // namespace fedsilo::comm
