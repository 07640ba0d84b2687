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

  // remove_all: every key goes, a missing one is no error, the others stay; a bad key among
  // them is an error.
  store.put("r/1.bin", "1");
  store.put("r/2.bin", "2");
  store.put("r/keep.bin", "k");
  store.remove_all({"r/1.bin", "r/missing.bin", "r/2.bin"});
  EXPECT_THROW(store.get("r/1.bin"), NotFoundError);
  EXPECT_THROW(store.get("r/2.bin"), NotFoundError);
  EXPECT_EQ(store.get("r/keep.bin"), "k");
  EXPECT_THROW(store.remove_all({"r/keep.bin", "../x"}), Error);

  // Streams: what a producer writes in pieces comes back in order; a producer that writes
  // other than the size it announced stores nothing; a read stops at max_bytes.
  std::string big(3 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 4096);
  store.put_stream("s/big.bin", static_cast<int64_t>(big.size()), [&](const ByteSink& out) {
    for (size_t off = 0; off < big.size(); off += 100000)
      out(big.data() + off, std::min<size_t>(100000, big.size() - off));
  });
  std::string back;
  store.get_stream("s/big.bin", kNoSizeLimit, [&](const char* p, size_t n) { back.append(p, n); });
  EXPECT_EQ(back, big);
  EXPECT_THROW(store.put_stream("s/short.bin", 10, [](const ByteSink& out) { out("abc", 3); }),
               StoreError);
  EXPECT_THROW(store.get("s/short.bin"), NotFoundError);
  EXPECT_THROW(store.get_stream("s/big.bin", 1000, [](const char*, size_t) {}), TooLargeError);
  EXPECT_THROW(store.get_stream("s/none.bin", 1000, [](const char*, size_t) {}), NotFoundError);
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
