// Reading a blob as it arrives gives what decoding it whole gives, however the bytes are cut,
// and refuses what verify_model refuses.
#include "ml/model_blob_reader.h"

#include <gtest/gtest.h>

#include <cstring>

#include "core/sha256.h"
#include "fedsilo/error.h"
#include "ml/model_blob.h"

using namespace fedsilo;

namespace {

StateDict sample() {
  torch::manual_seed(3);
  return {{"w", torch::randn({7, 5})},
          {"half", torch::randn({9}).to(torch::kFloat16)},
          {"bf", torch::randn({11}).to(torch::kBFloat16)},
          {"n", torch::tensor({int64_t{5}, int64_t{-2}})}};
}

// Feeds `bytes` in pieces of `piece` bytes into fresh tensors; returns them.
StateDict read_in_pieces(const std::string& bytes, const BlobRef& ref, const StateDict& like,
                         size_t piece, std::string* nonfinite = nullptr) {
  StateDict out;
  for (const auto& [name, t] : like) out.emplace_back(name, torch::zeros_like(t));
  ModelBlobReader reader(ref, like, "model from silo 3",
                         [&](size_t i, uint64_t offset, const char* p, size_t n) {
                           EXPECT_EQ(n % out[i].second.element_size(), 0u) << "split element";
                           std::memcpy(static_cast<char*>(out[i].second.data_ptr()) + offset, p, n);
                         });
  for (size_t off = 0; off < bytes.size(); off += piece)
    reader.feed(bytes.data() + off, std::min(piece, bytes.size() - off));
  reader.finish();
  if (nonfinite) *nonfinite = reader.nonfinite_tensor();
  return out;
}

}  // namespace

TEST(ModelBlobReader, AnyCutOfTheBytesGivesTheModel) {
  auto m = sample();
  auto bytes = encode_model(m);
  BlobRef ref{"k", static_cast<int64_t>(bytes.size()), sha256_hex(bytes)};
  for (size_t piece : {size_t{1}, size_t{3}, size_t{7}, size_t{64}, bytes.size()}) {
    auto got = read_in_pieces(bytes, ref, m, piece);
    for (size_t i = 0; i < m.size(); ++i)
      EXPECT_TRUE(torch::equal(got[i].second, m[i].second)) << m[i].first << " piece " << piece;
  }
}

TEST(ModelBlobReader, RefusesWhatVerifyModelRefuses) {
  auto m = sample();
  auto bytes = encode_model(m);
  BlobRef ref{"k", static_cast<int64_t>(bytes.size()), sha256_hex(bytes)};
  auto flipped = bytes;
  flipped[bytes.size() - 3] ^= 1;
  EXPECT_THROW(read_in_pieces(flipped, ref, m, 5), ProtocolError);
  EXPECT_THROW(read_in_pieces(bytes.substr(0, bytes.size() - 2), ref, m, 5), ProtocolError);
  auto longer = bytes + "xx";
  EXPECT_THROW(read_in_pieces(longer, ref, m, 5), ProtocolError);
  auto other = sample();
  other[0].second = torch::randn({5, 7});  // same size, other shape
  try {
    read_in_pieces(bytes, ref, other, 5);
    FAIL();
  } catch (const ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor w"), std::string::npos) << e.what();
  }
}

TEST(ModelBlobReader, NamesTheFirstNonFiniteTensor) {
  auto m = sample();
  m[2].second[4] = std::numeric_limits<float>::quiet_NaN();  // bfloat16
  auto bytes = encode_model(m);
  BlobRef ref{"k", static_cast<int64_t>(bytes.size()), sha256_hex(bytes)};
  std::string nonfinite;
  read_in_pieces(bytes, ref, m, 3, &nonfinite);
  EXPECT_EQ(nonfinite, "bf");
  EXPECT_THROW(check_finite(m, "x"), ProtocolError);
}
