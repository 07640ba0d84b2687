#include "comm/s3_store.h"

#include <gtest/gtest.h>

#include "protocol/model_exchange.h"
#include "fedsilo/error.h"
#include "test_services.h"

using namespace fedsilo;
using namespace fedsilo::comm;
using fedsilo::cross_silo::get_model;
using fedsilo::cross_silo::put_model;

namespace {
S3Options options_for(const testutil::S3Server& s) {
  S3Options o;
  o.endpoint = s.endpoint();
  o.bucket = "fedsilo";
  o.access_key = "S3RVER";
  o.secret_key = "S3RVER";
  return o;
}

// Multipart from 6 MiB, in parts of 5 MiB (S3's smallest): small objects take several parts.
S3Options small_parts(const testutil::S3Server& s) {
  auto o = options_for(s);
  o.multipart_threshold = 6 << 20;
  o.part_size = 5 << 20;
  return o;
}
}  // namespace

TEST(S3Store, PutGetListRemove) {
  testutil::S3Server s3;
  S3Store store(options_for(s3));
  store.put("fedsilo/run/a.bin", std::string("\0\1\2abc", 6));
  store.put("fedsilo/run/b c.bin", "spaces in keys");
  store.put("fedsilo/other/c.bin", "x");
  EXPECT_EQ(store.get("fedsilo/run/a.bin"), std::string("\0\1\2abc", 6));
  EXPECT_EQ(store.get("fedsilo/run/b c.bin"), "spaces in keys");
  EXPECT_EQ(store.list("fedsilo/run/"),
            (std::vector<std::string>{"fedsilo/run/a.bin", "fedsilo/run/b c.bin"}));
  store.remove("fedsilo/run/a.bin");
  try {
    store.get("fedsilo/run/a.bin");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no object fedsilo/run/a.bin"), std::string::npos)
        << e.what();
  }
  store.remove("fedsilo/run/a.bin");  // removing twice is fine
}

TEST(S3Store, RemoveAllTakesAThousandKeysPerRequest) {
  testutil::S3Server s3;
  S3Store store(options_for(s3));
  // Names that XML must escape, a space, and a key that is not there.
  std::vector<std::string> odd = {"fedsilo/x/a&b<c>.bin", "fedsilo/x/it's \"q\".bin",
                                  "fedsilo/x/sp ace.bin"};
  for (const auto& k : odd) store.put(k, "x");
  // A key stays in every folder: s3rver removes a folder left empty, and its deletes of one
  // request race to do so (a 500, then our retry), which S3, without folders, never does.
  store.put("fedsilo/x/stays.bin", "s");
  store.put("fedsilo/keep/k.bin", "k");
  auto before = store.stats().requests;
  std::vector<std::string> keys = odd;
  keys.push_back("fedsilo/x/missing.bin");
  store.remove_all(keys);
  EXPECT_EQ(store.stats().requests - before, 1) << "one DeleteObjects request";
  EXPECT_EQ(store.list("fedsilo/x/"), std::vector<std::string>{"fedsilo/x/stays.bin"});
  EXPECT_EQ(store.get("fedsilo/keep/k.bin"), "k");

  // 1,001 keys: two requests (S3 takes at most 1,000 per request).
  std::vector<std::string> many;
  for (int i = 0; i < 1001; ++i) many.push_back("fedsilo/many/" + std::to_string(i) + ".bin");
  for (const auto& k : many) store.put(k, "m");
  store.put("fedsilo/many/stays.bin", "s");
  before = store.stats().requests;
  store.remove_all(many);
  EXPECT_EQ(store.stats().requests - before, 2);
  EXPECT_EQ(store.list("fedsilo/many/"), std::vector<std::string>{"fedsilo/many/stays.bin"});
  EXPECT_THROW(store.remove_all({"fedsilo/keep/k.bin", "../escape"}), Error);
  EXPECT_EQ(store.get("fedsilo/keep/k.bin"), "k") << "a bad key stops the request before it";
}

TEST(S3Store, LargeObjectsGoUpInParts) {
  testutil::S3Server s3;
  S3Store store(small_parts(s3));
  std::string big(13 << 20, '\0');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>(i / 4096);
  store.put("big.bin", big);
  EXPECT_EQ(store.get("big.bin"), big);
}

TEST(S3Store, CreatesAMissingBucketAndCarriesVerifiedModels) {
  testutil::S3Server s3;
  auto o = options_for(s3);
  o.bucket = "fresh-bucket";
  S3Store store(o);
  store.ensure_bucket();
  StateDict model = {{"linear.weight", torch::randn({10, 784})},
                     {"linear.bias", torch::randn({10})}};
  auto ref = put_model(store, "fedsilo/r/global/round_0.safetensors", model);
  auto back = get_model(store, ref, model, "test");
  EXPECT_TRUE(torch::equal(back[0].second, model[0].second));
}

TEST(S3Store, UnreachableEndpointNamesIt) {
  S3Options o;
  o.endpoint = "http://127.0.0.1:" + std::to_string(free_loopback_port());
  o.bucket = "b";
  o.access_key = o.secret_key = "k";
  o.retries = 1;
  S3Store store(o);
  try {
    store.get("x");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(o.endpoint), std::string::npos) << e.what();
  }
}

// A model larger than a part streams up part by part (one part buffer, never the blob) and
// streams down into fresh tensors; a truncated or altered copy is refused by size or sha256.
TEST(S3Store, ModelsLargerThanAPartStreamUpInPartsAndAreVerifiedOnTheWayDown) {
  testutil::S3Server s3;
  auto o = small_parts(s3);
  S3Store store(o);
  StateDict model = {{"a.weight", torch::randn({1000, 3000})},  // 12 MB: three parts
                     {"a.bias", torch::randn({1000})},
                     {"steps", torch::tensor({int64_t{42}})}};
  auto ref = put_model(store, "fedsilo/r/big.safetensors", model);
  EXPECT_EQ(store.stats().parts, 3);
  EXPECT_LE(store.stats().peak_part_buffer, o.part_size);
  auto back = get_model(store, ref, model, "model from silo 1");
  for (size_t i = 0; i < model.size(); ++i)
    EXPECT_TRUE(torch::equal(back[i].second, model[i].second)) << model[i].first;

  std::string bytes = store.get(ref.key);
  store.put(ref.key, bytes.substr(0, bytes.size() - 1000));
  try {
    get_model(store, ref, model, "model from silo 1");
    FAIL() << "a truncated blob was accepted";
  } catch (const ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find("the message says " + std::to_string(ref.size)),
              std::string::npos)
        << e.what();
  }
  bytes[bytes.size() / 2] ^= 1;
  store.put(ref.key, bytes);
  try {
    get_model(store, ref, model, "model from silo 1");
    FAIL() << "an altered blob was accepted";
  } catch (const ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find("sha256"), std::string::npos) << e.what();
  }
}
