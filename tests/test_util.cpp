#include "test_util.h"

#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace fedsilo::testutil {
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "fedsilo-test-XXXXXX").string();
  path_ = mkdtemp(tmpl.data());
}

TempDir::~TempDir() {
  if (std::getenv("FEDSILO_KEEP_TEST_DIRS")) return;  // for reading what a test left behind
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void write_idx(const std::string& path, const std::vector<int64_t>& dims,
               const std::vector<uint8_t>& data, bool gz) {
  std::string bytes = {0, 0, 8, static_cast<char>(dims.size())};
  for (int64_t d : dims) {
    for (int s = 24; s >= 0; s -= 8) bytes.push_back(static_cast<char>((d >> s) & 0xff));
  }
  bytes.append(reinterpret_cast<const char*>(data.data()), data.size());
  if (gz) {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
  } else {
    std::ofstream(path, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
}

std::string make_synthetic_mnist(const std::string& root, int64_t n_train, int64_t n_test,
                                 uint64_t seed, bool gz, int faint) {
  std::string dir = root + "/MNIST";
  fs::create_directories(dir);
  std::mt19937_64 rng(seed);
  auto make = [&](int64_t n, const std::string& images, const std::string& labels) {
    std::vector<uint8_t> x(n * 784), y(n);
    for (int64_t i = 0; i < n; ++i) {
      int k = static_cast<int>(rng() % 10);
      y[i] = static_cast<uint8_t>(k);
      for (int p = 0; p < 784; ++p) x[i * 784 + p] = static_cast<uint8_t>(rng() % 60);
      int r0 = 2 + (k / 5) * 12 + static_cast<int>(rng() % 3), c0 = 2 + (k % 5) * 5;
      for (int r = r0; r < r0 + 4; ++r) {
        for (int c = c0; c < c0 + 4; ++c) {
          auto& px = x[i * 784 + r * 28 + c];
          px = faint > 0 ? static_cast<uint8_t>(std::min(255, px + faint)) : 255;
        }
      }
    }
    std::string ext = gz ? ".gz" : "";
    write_idx(dir + "/" + images + ext, {n, 28, 28}, x, gz);
    write_idx(dir + "/" + labels + ext, {n}, y, gz);
  };
  make(n_train, "train-images-idx3-ubyte", "train-labels-idx1-ubyte");
  make(n_test, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");
  return dir;
}

std::string small_config_yaml(const std::string& data_root, const std::string& out_dir) {
  return

      "common_args: {training_type: cross_silo, random_seed: 0}\n"
      "data_args: {dataset: mnist, data_cache_dir: '" +
      data_root +
      "', partition_method: hetero, partition_alpha: 0.5}\n"
      "model_args: {model: lr}\n"
      "train_args: {federated_optimizer: FedAvg, client_id_list: '[1, 2]', client_num_in_total: "
      "4,\n"
      "             client_num_per_round: 2, comm_round: 6, epochs: 1, batch_size: 10, "
      "client_optimizer: sgd,\n"
      "             learning_rate: 0.1, weight_decay: 0.001}\n"
      "validation_args: {frequency_of_the_test: 2}\n"
      "comm_args: {backend: INPROC}\n"
      "tracking_args: {log_file_dir: '" +
      out_dir + "'}\n";
}

Args small_args(const std::string& data_root, const std::string& out_dir,
                const std::vector<std::string>& overrides) {
  return parse_args_yaml(small_config_yaml(data_root, out_dir), overrides);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace fedsilo::testutil
