#include <cstdlib>
#include <filesystem>

#include "core/seed.h"
#include "data/idx_reader.h"
#include "data/leaf_cache.h"
#include "data/partition.h"
#include "fedsilo/dataset.h"
#include "fedsilo/error.h"

namespace fedsilo::data {
namespace fs = std::filesystem;

namespace {

constexpr int64_t kMaxClasses = 1 << 16;

const char* dataset_folder(const std::string& dataset) {
  return dataset == "fashion_mnist" ? "FashionMNIST" : "MNIST";
}

// First existing file among name and name.gz.
std::string find_idx(const fs::path& dir, const std::string& name) {
  for (const auto& candidate : {dir / name, dir / (name + ".gz")}) {
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return candidate.string();
  }
  return "";
}

struct Located {
  fs::path dir;  // <root>/MNIST
  bool idx = false;
  bool leaf = false;
};

// FedML resolves data_cache_dir against the working directory, and the seed's example path
// ("./../../../data") only makes sense from its own folder; so look in a short, logged list of
// places and name them all if none has the data.
Located locate(const Args& args) {
  std::vector<fs::path> roots;
  fs::path given(args.data_cache_dir);
  roots.push_back(given);
  if (given.is_relative() && !args.config_dir.empty())
    roots.push_back(fs::path(args.config_dir) / given);
  if (const char* env = std::getenv("FEDSILO_DATA_DIR")) roots.emplace_back(env);
  roots.emplace_back("data");
  std::string tried;
  for (const auto& root : roots) {
    Located l;
    l.dir = root / dataset_folder(args.dataset);
    l.idx = !find_idx(l.dir, "train-images-idx3-ubyte").empty();
    std::error_code ec;  // an unusable path is simply not where the data is
    l.leaf = fs::is_directory(l.dir / "train", ec) && fs::is_directory(l.dir / "test", ec);
    if (l.idx || l.leaf) return l;
    tried += (tried.empty() ? "" : ", ") + l.dir.string();
  }
  throw DataError("dataset " + args.dataset +
                  " not found; looked for IDX files or LEAF train/ and test/ folders in: " + tried +
                  ". Run scripts/get-data.sh or set data_args.data_cache_dir");
}

TensorData read_idx_pair(const fs::path& dir, const std::string& images,
                         const std::string& labels) {
  std::string ip = find_idx(dir, images), lp = find_idx(dir, labels);
  if (ip.empty()) throw DataError("IDX file " + (dir / images).string() + "[.gz]: not found");
  if (lp.empty()) throw DataError("IDX file " + (dir / labels).string() + "[.gz]: not found");
  auto x = read_idx(ip);
  auto y = read_idx(lp);
  if (x.dim() < 2)
    throw DataError("IDX file " + ip + ": expected images with at least 2 dimensions");
  if (y.dim() != 1) throw DataError("IDX file " + lp + ": expected a 1-dimensional label file");
  if (x.size(0) != y.size(0)) {
    throw DataError("IDX files " + ip + " and " + lp + " disagree: " + std::to_string(x.size(0)) +
                    " images but " + std::to_string(y.size(0)) + " labels");
  }
  if (x.size(0) == 0) throw DataError("IDX file " + ip + ": holds 0 samples");
  if (x.numel() == 0) throw DataError("IDX file " + ip + ": samples have 0 features");
  return {x.reshape({x.size(0), -1}), y.to(torch::kInt64)};
}

TensorData concat(const std::vector<LeafUser>& users, const fs::path& folder) {
  if (users.empty()) throw DataError("LEAF folder " + folder.string() + ": no users");
  std::vector<torch::Tensor> xs, ys;
  for (const auto& u : users) {
    if (u.data.x.size(1) != users[0].data.x.size(1)) {
      throw DataError("LEAF folder " + folder.string() + ": user " + u.name + " has " +
                      std::to_string(u.data.x.size(1)) + " features, user " + users[0].name +
                      " has " + std::to_string(users[0].data.x.size(1)));
    }
    xs.push_back(u.data.x);
    ys.push_back(u.data.y);
  }
  return {torch::cat(xs), torch::cat(ys)};
}

TensorData take(const TensorData& d, const std::vector<int64_t>& idx) {
  auto i = torch::tensor(idx, torch::kInt64);
  return {d.x.index_select(0, i), d.y.index_select(0, i)};
}

}  // namespace

std::pair<FederatedDataset, int64_t> load_cross_silo(const Args& args) {
  Located where = locate(args);
  SPDLOG_INFO("load_cross_silo: dataset = {}, from {} ({})", args.dataset, where.dir.string(),
              where.idx ? "IDX" : "LEAF JSON");
  FederatedDataset ds;
  std::vector<LeafUser> leaf_train, leaf_test;
  if (where.idx) {
    ds.train_data_global =
        read_idx_pair(where.dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte");
    ds.test_data_global =
        read_idx_pair(where.dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");
  } else {
    leaf_train = read_leaf_folder_cached((where.dir / "train").string());
    leaf_test = read_leaf_folder_cached((where.dir / "test").string());
    ds.train_data_global = concat(leaf_train, where.dir / "train");
    ds.test_data_global = concat(leaf_test, where.dir / "test");
  }
  const auto& train = ds.train_data_global;
  const auto& test = ds.test_data_global;
  if (train.size() == 0 || test.size() == 0) {
    throw DataError("dataset " + args.dataset + " in " + where.dir.string() + " has no " +
                    (train.size() == 0 ? "training" : "test") + " samples");
  }
  if (train.x.size(1) == 0)
    throw DataError("dataset " + args.dataset + " in " + where.dir.string() + ": 0 features");
  if (train.x.size(1) != test.x.size(1)) {
    throw DataError("dataset " + args.dataset + " in " + where.dir.string() +
                    ": train and test samples have different sizes");
  }
  ds.train_data_num = train.size();
  ds.test_data_num = ds.test_data_global.size();
  int64_t top_label = std::max(train.y.max().item<int64_t>(), test.y.max().item<int64_t>());
  // The class count sizes the model's output layer; a forged or corrupt label would otherwise
  // make a model of gigabytes (label 1e6 x 784 features = 3 GB).
  if (top_label >= kMaxClasses) {
    throw DataError("dataset " + args.dataset + " in " + where.dir.string() + ": label " +
                    std::to_string(top_label) + " is not below the limit of " +
                    std::to_string(kMaxClasses) + " classes");
  }
  ds.class_num = top_label + 1;

  int64_t k = args.client_num_in_total;
  uint64_t seed = derive_seed({static_cast<uint64_t>(args.random_seed), 0x9a27});
  if (args.partition_method == "natural") {
    if (where.idx) {
      throw ConfigError(
          "config data_args.partition_method = natural needs LEAF JSON data (users); " +
          where.dir.string() + " holds IDX files: use homo or hetero");
    }
    // The server draws data silos from 0..client_num_in_total-1, so every one must exist.
    if (static_cast<int64_t>(leaf_train.size()) < k) {
      throw ConfigError("config train_args.client_num_in_total = " + std::to_string(k) +
                        " but the natural partition has only " + std::to_string(leaf_train.size()) +
                        " LEAF users in " + (where.dir / "train").string() +
                        ": set it to at most " + std::to_string(leaf_train.size()));
    }
    if (static_cast<int64_t>(leaf_train.size()) > k) {
      SPDLOG_WARN(
          "natural partition: the data has {} users; only the first "
          "train_args.client_num_in_total = {} are data silos",
          leaf_train.size(), k);
    }
    std::map<std::string, const TensorData*> tests;
    for (const auto& u : leaf_test) tests[u.name] = &u.data;
    for (int64_t c = 0; c < k; ++c) {
      ds.train_data_local_dict[c] = leaf_train[c].data;
      auto it = tests.find(leaf_train[c].name);
      ds.test_data_local_dict[c] = it != tests.end() ? *it->second : ds.test_data_global;
    }
  } else {
    Partition parts;
    if (args.partition_method == "homo") {
      parts = partition_homo(ds.train_data_num, k, seed);
    } else {
      auto r = partition_hetero(train.y, k, args.partition_alpha, args.partition_min_size, seed);
      if (r.min_size_met) {
        SPDLOG_INFO(
            "hetero partition: alpha = {}, {} data silos, smallest has {} samples ({} draw(s))",
            args.partition_alpha, k, r.min_size, r.attempts);
      } else {
        SPDLOG_WARN(
            "hetero partition: data_args.partition_min_size = {} cannot be met by drawing for {} "
            "data "
            "silos ({} samples{}); best of {} draw(s) had a smallest silo of {}; silos below {} "
            "samples "
            "were topped up from the largest ones",
            args.partition_min_size, k, ds.train_data_num,
            ds.train_data_num < k * args.partition_min_size ? ", fewer than silos x minimum" : "",
            r.attempts, r.min_size, r.topped_up_to);
      }
      parts = std::move(r.parts);
    }
    for (int64_t c = 0; c < k; ++c) {
      ds.train_data_local_dict[c] = take(train, parts[c]);
      ds.test_data_local_dict[c] = ds.test_data_global;  // shares storage
    }
  }
  for (const auto& [c, d] : ds.train_data_local_dict) ds.train_data_local_num_dict[c] = d.size();
  int64_t classes = ds.class_num;
  return {std::move(ds), classes};
}

}  // namespace fedsilo::data
