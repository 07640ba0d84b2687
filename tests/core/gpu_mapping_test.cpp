#include "core/gpu_mapping.h"

#include <gtest/gtest.h>

#include <fstream>

#include "fedsilo/error.h"
#include "test_util.h"

using namespace fedsilo;

TEST(GpuMapping, ProcessesAreNumberedThroughTheHostsInFileOrder) {
  testutil::TempDir dir;
  std::string file = dir / "gpu_mapping.yaml";
  std::ofstream(file) << "mapping_default:\n  host1: [2, 1]\n  host2: [0, 1]\n"
                         "mapping_one:\n  me: [0, 0, 1]\n";
  std::vector<std::pair<std::string, int64_t>> want = {
      {"host1", 0}, {"host1", 0}, {"host1", 1}, {"host2", 1}};
  for (int64_t i = 0; i < 4; ++i) {
    auto slot = gpu_slot_from_mapping(file, "", i);
    EXPECT_EQ(slot.host, want[i].first) << i;
    EXPECT_EQ(slot.gpu, want[i].second) << i;
  }
  EXPECT_EQ(gpu_slot_from_mapping(file, "mapping_one", 0).gpu, 2);
  auto error_of = [&](const std::string& key, int64_t index) -> std::string {
    try {
      gpu_slot_from_mapping(file, key, index);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error_of("", 4).find("places 4 processes; process 4 has no GPU"), std::string::npos);
  EXPECT_NE(error_of("mapping_none", 0).find("no mapping 'mapping_none'"), std::string::npos);
  std::ofstream(file, std::ios::trunc) << "mapping_default:\n  host1: [one]\n";
  EXPECT_NE(error_of("", 0).find("a process count must be an integer"), std::string::npos);
  EXPECT_NE(error_of("", 0).find(file), std::string::npos);
}
