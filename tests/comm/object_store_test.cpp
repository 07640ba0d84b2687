// The ObjectStore contract every store keeps (object_store.h); S3 is checked against s3rver in
// s3_store_test.cpp.
#include "comm/object_store.h"

#include <gtest/gtest.h>

#include "test_util.h"

using namespace fedsilo;
using namespace fedsilo::comm;

namespace {

void check_contract(ObjectStore& store) {
  store.put("a/b.bin", "xyz");
  EXPECT_EQ(store.get("a/b.bin"), "xyz");
  EXPECT_THROW(store.get("a/missing.bin"), NotFoundError);
  EXPECT_NO_THROW(store.remove("a/missing.bin")) << "removing a missing key is not an error";
  store.remove("a/b.bin");
  EXPECT_THROW(store.get("a/b.bin"), NotFoundError);
  for (std::string bad : {"", "/etc/passwd", "../x", "a/../../x", "a//b", "a/./b", "a/..", "."}) {
    EXPECT_THROW(store.put(bad, "x"), Error) << bad;
    EXPECT_THROW(store.get(bad), Error) << bad;
    EXPECT_THROW(store.remove(bad), Error) << bad;
  }
  EXPECT_NO_THROW(store.put("a/..b/c..d", "ok")) << "dots inside a name are fine";
}

}  // namespace

TEST(ObjectStore, MemoryStoreKeepsTheContract) {
  MemoryStore store;
  check_contract(store);
}

TEST(ObjectStore, DirectoryStoreKeepsTheContract) {
  testutil::TempDir dir;
  DirectoryStore store(dir / "blobs");
  check_contract(store);
}
