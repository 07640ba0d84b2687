#pragma once
// The flat KEY: value files FedML uses for broker and store settings (mqtt_config.yaml,
// s3_config.yaml). Values are read and checked by the same functions as fedml_config.yaml
// (config_values.h), and errors are worded the same way, prefixed with the file.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fedsilo::config {

class KeyFile {
 public:
  // Throws ConfigError when the file is missing, a directory, empty or not a mapping; warns
  // about keys not in `known`.
  KeyFile(const std::string& path, const std::vector<std::string>& known);
  std::string text(const std::string& key, const std::string& fallback) const;
  int64_t integer(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) const;
  bool boolean(const std::string& key, bool fallback) const;
  // A path value by the one path rule (resolve_path); empty when absent.
  std::string path(const std::string& key) const;
  const std::string& file() const { return file_; }

 private:
  // Runs `read` on the key's node, prefixing a ConfigError with the file name.
  template <typename F>
  auto with_file(F&& read) const -> decltype(read());
  YAML::Node node(const std::string& key) const;

  std::string file_, dir_;
  YAML::Node root_;
};

}  // namespace fedsilo::config
