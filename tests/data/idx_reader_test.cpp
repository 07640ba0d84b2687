#include "data/idx_reader.h"

#include <gtest/gtest.h>

#include <fstream>

#include "fedsilo/error.h"
#include "test_util.h"

using namespace fedsilo;
using fedsilo::testutil::TempDir;

namespace {
std::string error_of(const std::string& path) {
  try {
    data::read_idx(path);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(IdxReader, ReadsPlainAndGzip) {
  TempDir dir;
  std::vector<uint8_t> px = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  for (bool gz : {false, true}) {
    auto path = dir / (gz ? "x.gz" : "x");
    testutil::write_idx(path, {3, 2, 2}, px, gz);
    auto t = data::read_idx(path);
    ASSERT_EQ(t.sizes(), torch::IntArrayRef({3, 2, 2}));
    EXPECT_EQ(t[2][1][1].item<int>(), 12);
    EXPECT_EQ(t[0][0][1].item<int>(), 2);
  }
}

TEST(IdxReader, RejectsCorruptFilesNamingThem) {
  TempDir dir;
  auto path = dir / "bad";
  std::ofstream(path) << "this is not an idx file";
  auto e = error_of(path);
  EXPECT_NE(e.find(path), std::string::npos) << e;
  EXPECT_NE(e.find("magic"), std::string::npos) << e;

  testutil::write_idx(path, {4, 2}, {1, 2, 3, 4, 5}, false);  // promises 8 bytes, has 5
  e = error_of(path);
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;

  testutil::write_idx(path, {2}, {1, 2, 3}, true);  // one byte too many
  e = error_of(path);
  EXPECT_NE(e.find("trailing bytes"), std::string::npos) << e;

  // A header promising 2^40 bytes in a 20-byte file is rejected without allocating for it (the
  // fuzzer's malloc limit caught the old reader allocating first).
  testutil::write_idx(path, {1 << 20, 1 << 20}, {1, 2, 3, 4}, false);
  e = error_of(path);
  EXPECT_NE(e.find("promises 1099511627776 bytes of data, file has 4"), std::string::npos) << e;

  // The message names the dimension at fault, or the shape whose product is.
  testutil::write_idx(path, {4, (int64_t(1) << 31) + 1}, {1}, false);
  e = error_of(path);
  EXPECT_NE(e.find("dimension 2 of 2 is 2147483649"), std::string::npos) << e;
  testutil::write_idx(path, {1 << 21, 1 << 20}, {1}, false);
  e = error_of(path);
  EXPECT_NE(e.find("dimensions 2097152 x 1048576 make more than 2^40"), std::string::npos) << e;

  EXPECT_NE(error_of(dir / "missing").find("cannot be opened"), std::string::npos);
  std::ofstream(path, std::ios::trunc);  // empty
  EXPECT_NE(error_of(path).find("empty or truncated"), std::string::npos);
}
