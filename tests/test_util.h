#pragma once
// Helpers shared by the tests: temporary folders, small generated data sets, small configs.
#include <torch/types.h>

#include <string>
#include <vector>

#include "fedsilo/args.h"

namespace fedsilo::testutil {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Writes an IDX file of unsigned bytes; gzip-compressed when `gz`.
void write_idx(const std::string& path, const std::vector<int64_t>& dims,
               const std::vector<uint8_t>& data, bool gz);

// A learnable 10-class stand-in for MNIST in <root>/MNIST: class k lights a 4x4 block at a
// class-specific place, plus noise. Returns the folder. `faint` > 0 lights the block only that
// much above the noise, a task hard enough that an attack shows in the accuracy.
std::string make_synthetic_mnist(const std::string& root, int64_t n_train, int64_t n_test,
                                 uint64_t seed = 1, bool gz = true, int faint = 0);

// A small valid config for the synthetic data; extra YAML lines are appended per section via
// `overrides` ("section.key=value").
Args small_args(const std::string& data_root, const std::string& out_dir,
                const std::vector<std::string>& overrides = {});
// The YAML text behind small_args, for tests that run the command-line tool.
std::string small_config_yaml(const std::string& data_root, const std::string& out_dir);

std::string read_file(const std::string& path);

}  // namespace fedsilo::testutil
