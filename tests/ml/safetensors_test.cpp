#include "ml/safetensors.h"
#include "build_paths.h"

#include <gtest/gtest.h>

#include <fstream>

#include "protocol/model_exchange.h"
#include "fedsilo/error.h"
#include "ml/model_blob.h"

using namespace fedsilo;
using namespace fedsilo::comm;
using fedsilo::cross_silo::get_model;
using fedsilo::cross_silo::put_model;

namespace {
StateDict sample() {
  return {{"linear.weight", torch::arange(6, torch::kFloat32).reshape({2, 3})},
          {"linear.bias", torch::tensor({0.5f, -1.5f})},
          {"bn.num_batches_tracked", torch::tensor(7, torch::kInt64)}};
}

std::string error_of(const std::string& bytes) {
  try {
    safetensors_decode(bytes);
  } catch (const ProtocolError& e) {
    return e.what();
  }
  return "";
}

std::string with_header(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}
}  // namespace

TEST(Safetensors, RoundTripKeepsNamesDtypesShapesAndValues) {
  std::map<std::string, std::string> meta;
  auto bytes = safetensors_encode(sample(), {{"format", "pt"}});
  auto back = safetensors_decode(bytes, &meta);
  EXPECT_EQ(meta["format"], "pt");
  ASSERT_EQ(back.size(), 3u);
  auto orig = sample();
  for (size_t i = 0; i < back.size(); ++i) {
    EXPECT_EQ(back[i].first, orig[i].first);
    EXPECT_TRUE(torch::equal(back[i].second, orig[i].second));
  }
  // Header is padded to 8 bytes, as the format requires.
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(static_cast<unsigned char>(bytes[i])) << (8 * i);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes.substr(8, 1), "{");
}

TEST(Safetensors, RejectsMalformedBlobs) {
  auto good = safetensors_encode(sample());
  EXPECT_NE(error_of("abc").find("shorter than"), std::string::npos);
  EXPECT_NE(error_of(good.substr(0, good.size() - 4)).find("outside"),
            std::string::npos);  // truncated
  EXPECT_NE(error_of(good + "xxxx").find("belong to no tensor"), std::string::npos);
  EXPECT_NE(error_of(with_header("not json", "")).find("not a JSON object"), std::string::npos);
  EXPECT_NE(error_of(std::string(8, '\xff') + "{}").find("does not fit"), std::string::npos);
  EXPECT_NE(
      error_of(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", "xxxx"))
          .find("4 bytes for a shape that needs 8"),
      std::string::npos);
  EXPECT_NE(error_of(with_header(R"({"a":{"dtype":"Q9","shape":[1],"data_offsets":[0,1]}})", "x"))
                .find("dtype"),
            std::string::npos);
  EXPECT_NE(error_of(with_header(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                                 R"("b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}})",
                                 "xyz"))
                .find("overlaps"),
            std::string::npos);
}

TEST(ModelBlob, VerifiesSizeHashAndLayout) {
  MemoryStore store;
  auto ref = put_model(store, "k", sample());
  auto got = get_model(store, ref, sample(), "test");
  EXPECT_TRUE(torch::equal(got[0].second, sample()[0].second));

  auto bytes = store.get("k");
  auto flipped = bytes;
  flipped.back() ^= 1;
  try {
    verify_model(flipped, ref, sample(), "model from silo 2");
    FAIL();
  } catch (const ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find("model from silo 2: blob k has sha256"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(verify_model(bytes.substr(0, 100), ref, sample(), "x"),
               ProtocolError);  // truncated: size

  StateDict other = sample();
  other[0].second = torch::zeros({3, 2});
  auto ref2 = put_model(store, "k2", other);
  try {
    get_model(store, ref2, sample(), "model from silo 1");
    FAIL();
  } catch (const ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find("linear.weight has shape [3, 2], expected [2, 3]"),
              std::string::npos)
        << e.what();
  }
  auto full = sample();
  StateDict missing(full.begin(), full.begin() + 2);
  EXPECT_THROW(get_model(store, put_model(store, "k3", missing), sample(), "x"), ProtocolError);
}

TEST(Safetensors, AnIndependentReaderAgrees) {
  // Python's `safetensors` package is not installable here; this reader applies its rules.
  auto bytes = safetensors_encode(sample(), {{"format", "pt"}});
  std::string path = ::testing::TempDir() + "/fedsilo_blob.safetensors";
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  std::string cmd = "python3 " + std::string(fedsilo::build_paths::source_dir()) +
                    "/tests/ml/safetensors_reader.py " + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[1024];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ASSERT_EQ(pclose(p), 0) << out;
  EXPECT_NE(out.find("linear.weight F32 [2, 3] 15"), std::string::npos) << out;
  EXPECT_NE(out.find("linear.bias F32 [2] -1"), std::string::npos) << out;
  EXPECT_NE(out.find("bn.num_batches_tracked I64 [] 7"), std::string::npos) << out;
  EXPECT_NE(out.find("\"format\": \"pt\""), std::string::npos) << out;
}
