#include "monitor/tensorboard_writer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fedsilo/error.h"
#include "monitor/tfevents.h"
#include "test_util.h"

namespace fedsilo::monitor {
namespace {

TEST(TensorBoard, Crc32cMatchesTheStandardCheckValue) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c("", 0), 0u);
}

TEST(TensorBoard, AnIndependentReaderGetsTheScalarsBack) {
  testutil::TempDir dir;
  std::string path;
  {
    TensorBoardWriter w(dir / "tb");
    path = w.path();
    w.scalar("test/accuracy", 0.25, 0);
    w.scalar("test/accuracy", 0.75, 3);
    w.scalar("silo_1/train_seconds", 1.5, 3);
  }
  EXPECT_EQ(std::filesystem::path(path).filename().string().rfind("events.out.tfevents.", 0), 0u);
  auto events = testutil::read_tfevents(path);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]["tag"], "test/accuracy");
  EXPECT_EQ(events[0]["step"], 0);
  EXPECT_DOUBLE_EQ(events[0]["value"].get<double>(), 0.25);
  EXPECT_EQ(events[1]["step"], 3);
  EXPECT_DOUBLE_EQ(events[1]["value"].get<double>(), 0.75);
  EXPECT_EQ(events[2]["tag"], "silo_1/train_seconds");
  EXPECT_GT(events[2]["wall_time"].get<double>(), 1.7e9);
}

TEST(TensorBoard, TheReaderRejectsAFlippedBit) {
  testutil::TempDir dir;
  std::string path;
  {
    TensorBoardWriter w(dir / "tb");
    path = w.path();
    w.scalar("loss", 2.0, 1);
  }
  auto bytes = testutil::read_file(path);
  bytes[bytes.size() - 7] ^= 0x10;  // inside the last record's data
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  auto [code, text] = testutil::run_tfevents_reader(path);
  EXPECT_EQ(code, 1);
  EXPECT_NE(text.find("CRC mismatch"), std::string::npos) << text;
}

TEST(TensorBoard, AnUnwritableFolderIsNamed) {
  testutil::TempDir dir;
  std::ofstream(dir / "file") << "x";
  try {
    TensorBoardWriter w(dir / "file/tb");
    FAIL() << "no error";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("tensorboard_dir"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fedsilo::monitor
