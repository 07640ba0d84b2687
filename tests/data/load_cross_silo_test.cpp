#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/sha256.h"
#include "data/leaf_cache.h"
#include "fedsilo/dataset.h"
#include "fedsilo/error.h"
#include "test_util.h"

using namespace fedsilo;
using fedsilo::testutil::TempDir;

TEST(LoadCrossSilo, PartitionsIdxDataOverAllDataSilos) {
  TempDir dir;
  testutil::make_synthetic_mnist(dir.path(), 400, 100);
  auto args = testutil::small_args(dir.path(), dir / "log", {"train_args.client_num_in_total=8"});
  auto [ds, classes] = data::load_cross_silo(args);
  EXPECT_EQ(classes, 10);
  EXPECT_EQ(ds.train_data_num, 400);
  EXPECT_EQ(ds.test_data_num, 100);
  ASSERT_EQ(ds.train_data_local_dict.size(), 8u);
  int64_t total = 0;
  for (const auto& [c, n] : ds.train_data_local_num_dict) {
    EXPECT_GE(n, 10) << "data silo " << c;  // partition_min_size default
    total += n;
  }
  EXPECT_EQ(total, 400);
  EXPECT_EQ(ds.train_data_global.x.size(1), 784);
}

TEST(LoadCrossSilo, MissingDataNamesEveryPlaceLookedIn) {
  TempDir dir;
  auto args = testutil::small_args(dir / "nowhere", dir / "log");
  try {
    data::load_cross_silo(args);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(dir / "nowhere/MNIST"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("get-data.sh"), std::string::npos);
  }
}

TEST(LoadCrossSilo, ImageLabelCountMismatchIsNamed) {
  TempDir dir;
  auto mnist = testutil::make_synthetic_mnist(dir.path(), 50, 10);
  testutil::write_idx(mnist + "/train-labels-idx1-ubyte.gz", {49}, std::vector<uint8_t>(49, 1),
                      true);
  auto args = testutil::small_args(dir.path(), dir / "log");
  try {
    data::load_cross_silo(args);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("50 images but 49 labels"), std::string::npos) << e.what();
  }
}

// Expects load_cross_silo to throw E with a message containing `part`.
template <typename E>
void expect_load_error(const Args& args, const std::string& part) {
  try {
    data::load_cross_silo(args);
    FAIL() << "expected an error containing: " << part;
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(LoadCrossSilo, EmptyIdxDataIsNamedNotATorchError) {
  TempDir dir;
  auto mnist = testutil::make_synthetic_mnist(dir.path(), 50, 10);
  auto args = testutil::small_args(dir.path(), dir / "log");
  testutil::write_idx(mnist + "/t10k-images-idx3-ubyte.gz", {0, 28, 28}, {}, true);
  testutil::write_idx(mnist + "/t10k-labels-idx1-ubyte.gz", {0}, {}, true);
  expect_load_error<DataError>(args, "t10k-images-idx3-ubyte.gz: holds 0 samples");
  testutil::write_idx(mnist + "/t10k-images-idx3-ubyte.gz", {10, 0, 28}, {}, true);
  testutil::write_idx(mnist + "/t10k-labels-idx1-ubyte.gz", {10}, std::vector<uint8_t>(10, 1),
                      true);
  expect_load_error<DataError>(args, "samples have 0 features");
}

// Writes a LEAF JSON file with `n_users` users f_0.., user u having u + 1 samples of
// `features` features each, labels i % 10 (or `label` for the last sample of the last user).
void write_leaf(const std::string& file, int n_users, int features = 784, int64_t label = -1) {
  std::filesystem::create_directories(std::filesystem::path(file).parent_path());
  nlohmann::json doc = {{"users", nlohmann::json::array()},
                        {"num_samples", nlohmann::json::array()},
                        {"user_data", nlohmann::json::object()}};
  for (int u = 0; u < n_users; ++u) {
    std::string name = "f_" + std::to_string(u);
    doc["users"].push_back(name);
    doc["num_samples"].push_back(u + 1);
    nlohmann::json xs = nlohmann::json::array(), ys = nlohmann::json::array();
    for (int i = 0; i <= u; ++i) {
      xs.push_back(std::vector<double>(features, 0.5));
      ys.push_back(i % 10);
    }
    if (label >= 0 && u + 1 == n_users) ys.back() = label;
    doc["user_data"][name] = {{"x", xs}, {"y", ys}};
  }
  std::ofstream(file) << doc.dump();
}

TEST(LoadCrossSilo, LeafInputThatWouldMisbehaveIsRefused) {
  TempDir dir;
  auto train = dir / "MNIST/train/all_data.json", test = dir / "MNIST/test/all_data.json";
  auto args = testutil::small_args(
      dir.path(), dir / "log",
      {"data_args.partition_method=natural", "train_args.client_num_in_total=3"});
  write_leaf(test, 3);
  // More data silos than users: the server would select silos that do not exist.
  write_leaf(train, 2);
  expect_load_error<ConfigError>(args,
                                 "client_num_in_total = 3 but the natural partition has only 2");
  // A label of 1e6 would size a 3 GB output layer.
  write_leaf(train, 3, 784, 1000000);
  expect_load_error<DataError>(args, "label 1000000 is not below the limit");
  // Users with 0 samples, 0 features, or features that differ between users.
  write_leaf(train, 0);
  expect_load_error<DataError>(args, "no users");
  std::ofstream(train) << R"({"users": ["u"], "user_data": {"u": {"x": [], "y": []}}})";
  expect_load_error<DataError>(args, "user u: has 0 samples");
  std::ofstream(train) << R"({"users": ["u"], "user_data": {"u": {"x": [[]], "y": [1]}}})";
  expect_load_error<DataError>(args, "user u: sample 0 has 0 features");
  write_leaf(train, 3, 4);
  expect_load_error<DataError>(args, "train and test samples have different sizes");
  write_leaf(train, 3);
  std::ofstream(test) << R"({"users": ["a", "b"], "user_data": {"a": {"x": [[0.1]], "y": [1]},
                          "b": {"x": [[0.1, 0.2]], "y": [1]}}})";
  expect_load_error<DataError>(args, "user b has 2 features, user a has 1");
}

TEST(LoadCrossSilo, LeafJsonNaturalPartition) {
  TempDir dir;
  write_leaf(dir / "MNIST/train/all_data.json", 3);
  write_leaf(dir / "MNIST/test/all_data.json", 3);
  auto args = testutil::small_args(
      dir.path(), dir / "log",
      {"data_args.partition_method=natural", "train_args.client_num_in_total=3"});
  auto [ds, classes] = data::load_cross_silo(args);
  ASSERT_EQ(ds.train_data_local_dict.size(), 3u);
  EXPECT_EQ(ds.train_data_local_num_dict[2], 3);
  EXPECT_EQ(ds.train_data_global.size(), 6);
  EXPECT_EQ(ds.train_data_local_dict[1].x[0][0].item<int>(), 128);  // 0.5 * 255, rounded

  // A user whose num_samples disagrees with its data is named.
  std::ofstream(dir / "MNIST/train/all_data.json")
      << R"({"users": ["u"], "num_samples": [2], "user_data": {"u": {"x": [[0.1]], "y": [1]}}})";
  try {
    data::load_cross_silo(args);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("user u: num_samples says 2 but has 1"), std::string::npos)
        << e.what();
  }
}

namespace {
// The one cache file of a LEAF folder, split into its header and body.
struct CacheFile {
  std::string path;
  nlohmann::json header;
  std::string body;
  explicit CacheFile(const std::string& folder) {
    for (const auto& e : std::filesystem::directory_iterator(folder + "/.fedsilo-cache"))
      path = e.path().string();
    auto bytes = testutil::read_file(path);
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= uint64_t(static_cast<uint8_t>(bytes[i])) << (8 * i);
    header = nlohmann::json::parse(bytes.substr(8, n));
    body = bytes.substr(8 + n);
  }
  void write(bool fix_hash) {
    if (fix_hash) header["sha256"] = sha256_hex(body);
    auto h = header.dump();
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((h.size() >> (8 * i)) & 0xff);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << out + h + body;
  }
};
}  // namespace

TEST(LoadCrossSilo, LeafJsonIsParsedOnceThenReadFromAVerifiedCache) {
  TempDir dir;
  write_leaf(dir / "MNIST/train/all_data.json", 3);
  write_leaf(dir / "MNIST/test/all_data.json", 3);
  auto args = testutil::small_args(
      dir.path(), dir / "log",
      {"data_args.partition_method=natural", "train_args.client_num_in_total=3"});
  auto first = data::load_cross_silo(args).first.train_data_global;
  CacheFile cache(dir / "MNIST/train");
  EXPECT_EQ(cache.header["counts"], nlohmann::json({1, 2, 3}));
  // A cache that checks out is what the next run reads: change a pixel (hash fixed) and see it.
  cache.body[0] = 7;
  cache.write(/*fix_hash=*/true);
  auto cached = data::load_cross_silo(args).first.train_data_global;
  EXPECT_EQ(cached.x[0][0].item<int>(), 7) << "the cache was not used";
  EXPECT_TRUE(cached.y.equal(first.y));
  // A corrupt cache (body changed, hash not) is never used: the JSON is read again.
  cache.body[0] = 9;
  cache.write(/*fix_hash=*/false);
  auto reread = data::load_cross_silo(args).first.train_data_global;
  EXPECT_TRUE(reread.x.equal(first.x));
  EXPECT_EQ(static_cast<uint8_t>(CacheFile(dir / "MNIST/train").body[0]),
            first.x[0][0].item<uint8_t>())
      << "and the cache is replaced";
  // A changed source has another key: parsed again, whatever the old cache says.
  write_leaf(dir / "MNIST/train/all_data.json", 3, 784, 4);
  auto changed = data::load_cross_silo(args).first.train_data_global;
  EXPECT_EQ(changed.y[changed.size() - 1].item<int64_t>(), 4);
}

TEST(LoadCrossSilo, LeafCacheTrustsAnUnchangedStatAndHashesAChangedSource) {
  using namespace std::chrono_literals;
  TempDir dir;
  std::string folder = dir / "MNIST/train", file = folder + "/all_data.json";
  write_leaf(file, 3);
  data::LeafCacheOptions settled;
  settled.racy_window = 0ns;  // every source counts as settled: its stat is recorded at once
  data::read_leaf_folder_cached(folder, settled);
  CacheFile cache(folder);
  ASSERT_TRUE(cache.header["stat"].is_array()) << cache.header.dump();
  int64_t recorded_ctime = cache.header["stat"][0][5].get<int64_t>();
  // While the stat is the recorded one the sources are not hashed: even a cache naming another
  // source key (body changed, its hash fixed) is what is read.
  cache.header["source"] = std::string(64, '0');
  cache.body[0] = 7;
  cache.write(/*fix_hash=*/true);
  EXPECT_EQ(data::read_leaf_folder_cached(folder, settled)[0].data.x[0][0].item<int>(), 7);

  // The same size and the mtime put back: only the ctime tells, and no call sets it back. A
  // rewrite within the same tick of the kernel's file clock keeps the ctime, so rewrite until
  // it moved (what racy_window guards against outside tests).
  struct stat before {};
  ASSERT_EQ(::stat(file.c_str(), &before), 0);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  struct stat after {};
  do {
    write_leaf(file, 3, 784, /*label=*/4);
    struct timespec times[2] = {{0, UTIME_OMIT}, before.st_mtim};
    ASSERT_EQ(::utimensat(AT_FDCWD, file.c_str(), times, 0), 0);
    ASSERT_EQ(::stat(file.c_str(), &after), 0);
  } while (int64_t(after.st_ctim.tv_sec) * 1'000'000'000 + after.st_ctim.tv_nsec ==
               recorded_ctime &&
           std::chrono::steady_clock::now() < deadline);
  ASSERT_EQ(after.st_size, before.st_size);
  auto changed = data::read_leaf_folder_cached(folder, settled);
  EXPECT_EQ(changed.back().data.y[2].item<int64_t>(), 4) << "the changed source was not read";
  EXPECT_EQ(changed[0].data.x[0][0].item<int>(), 128) << "the stale cache was used";

  // A source changed too recently for its ctime to tell gets no stat in the cache: its hash
  // decides every time, so a cache naming another key is not used.
  data::LeafCacheOptions wary;
  wary.racy_window = 1h;
  write_leaf(file, 3);
  data::read_leaf_folder_cached(folder, wary);
  CacheFile fresh(folder);
  EXPECT_TRUE(fresh.header["stat"].is_null()) << fresh.header.dump();
  fresh.header["source"] = std::string(64, '0');
  fresh.body[0] = 7;
  fresh.write(/*fix_hash=*/true);
  EXPECT_EQ(data::read_leaf_folder_cached(folder, wary)[0].data.x[0][0].item<int>(), 128);
  // Once the sources have settled, a cache their hash vouches for gains their stat.
  data::read_leaf_folder_cached(folder, settled);
  EXPECT_TRUE(CacheFile(folder).header["stat"].is_array());
}
