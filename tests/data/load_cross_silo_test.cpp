#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

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

TEST(LoadCrossSilo, LeafJsonNaturalPartition) {
  TempDir dir;
  auto write = [&](const std::string& sub, int n_users) {
    std::filesystem::create_directories(dir / ("MNIST/" + sub));
    nlohmann::json doc = {{"users", nlohmann::json::array()},
                          {"num_samples", nlohmann::json::array()},
                          {"user_data", nlohmann::json::object()}};
    for (int u = 0; u < n_users; ++u) {
      std::string name = "f_" + std::to_string(u);
      doc["users"].push_back(name);
      doc["num_samples"].push_back(u + 1);
      nlohmann::json xs = nlohmann::json::array(), ys = nlohmann::json::array();
      for (int i = 0; i <= u; ++i) {
        xs.push_back(std::vector<double>(784, 0.5));
        ys.push_back(i % 10);
      }
      doc["user_data"][name] = {{"x", xs}, {"y", ys}};
    }
    std::ofstream(dir / ("MNIST/" + sub + "/all_data.json")) << doc.dump();
  };
  write("train", 3);
  write("test", 3);
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
