// The server's bounded-memory FedAvg: same bits as FedAvgAggregator, in any arrival order, with
// fold buffers that do not grow with the number of silos; a blob that fails a check leaves
// nothing behind.
#include "server/update_spool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "protocol/model_exchange.h"
#include "fedsilo/aggregator.h"
#include "fedsilo/error.h"
#include "test_util.h"

using namespace fedsilo;
using fedsilo::cross_silo::put_model;
using fedsilo::cross_silo::UpdateSpool;

namespace {

// Every dtype a model carries; `big` crosses a slice boundary (kSliceElements).
StateDict model_like(int64_t seed, int64_t big = 1000) {
  torch::manual_seed(seed);
  return {{"w", torch::randn({big})},
          {"h", torch::randn({33}).to(torch::kFloat16)},
          {"b", torch::randn({17}).to(torch::kBFloat16)},
          {"d", torch::randn({5}, torch::kFloat64)},
          {"steps", torch::randint(0, 1000, {3}, torch::kInt64)},
          {"mask", torch::randint(0, 2, {4}).to(torch::kBool)}};
}

std::string spool_of(UpdateSpool& spool, comm::ObjectStore& store, int64_t silo,
                     const StateDict& m) {
  auto ref = put_model(store, "u/" + std::to_string(silo), m);
  return spool.receive(store, ref, silo, "model from silo " + std::to_string(silo));
}

void expect_bitwise_equal(const StateDict& a, const StateDict& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].second.scalar_type(), b[i].second.scalar_type()) << a[i].first;
    EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
  }
}

}  // namespace

TEST(UpdateSpool, FoldsLikeFedAvgBitForBitWhateverTheArrivalOrder) {
  testutil::TempDir dir;
  comm::MemoryStore store;
  const int64_t big = UpdateSpool::kSliceElements + 123;
  std::vector<StateDict> models;
  std::vector<double> weights = {600, 300, 1100};
  for (int64_t s = 0; s < 3; ++s) models.push_back(model_like(s + 1, big));

  FedAvgAggregator reference;
  reference.reset(models[0]);
  for (int64_t s = 0; s < 3; ++s) reference.accumulate(models[s], weights[s]);
  auto expected = reference.report();

  for (std::vector<int64_t> order : {std::vector<int64_t>{0, 1, 2}, {2, 0, 1}}) {
    UpdateSpool spool(dir / "spool");
    spool.reset(models[0]);
    for (int64_t s : order) {
      EXPECT_EQ(spool_of(spool, store, s + 1, models[s]), "");
      spool.accept(s + 1, weights[s]);
    }
    EXPECT_DOUBLE_EQ(spool.total_weight(), 2000);
    expect_bitwise_equal(spool.report(), expected);
  }
}

TEST(UpdateSpool, FoldBuffersDoNotGrowWithTheNumberOfSilos) {
  testutil::TempDir dir;
  comm::MemoryStore store;
  const int64_t big = 8 * UpdateSpool::kSliceElements;  // a 32 MiB float32 tensor
  auto peak_with = [&](int64_t silos) {
    UpdateSpool spool(dir / ("spool" + std::to_string(silos)));
    spool.reset(model_like(0, big));
    for (int64_t s = 1; s <= silos; ++s) {
      spool_of(spool, store, s, model_like(s, big));
      spool.accept(s, 10.0 * s);
    }
    spool.report();
    return spool.peak_fold_bytes();
  };
  int64_t two = peak_with(2), eight = peak_with(8);
  EXPECT_GT(two, 0);
  EXPECT_EQ(eight, two) << "the accumulator must not grow with the number of silos";
  // One slice of float64 sums and one slice of the widest dtype read: far below the model.
  EXPECT_LE(two, UpdateSpool::kSliceElements * (8 + 8));
  EXPECT_LT(two, big * 4 / 2) << "the fold holds less than half the model besides its result";
}

TEST(UpdateSpool, ABlobThatFailsACheckLeavesNothingAndNonFiniteValuesAreNamed) {
  testutil::TempDir dir;
  comm::MemoryStore store;
  UpdateSpool spool(dir / "spool");
  auto m = model_like(1);
  spool.reset(m);
  auto ref = put_model(store, "u/1", m);
  auto bytes = store.get(ref.key);

  store.put(ref.key, bytes.substr(0, bytes.size() - 8));  // truncated
  EXPECT_THROW(spool.receive(store, ref, 1, "model from silo 1"), ProtocolError);
  bytes[bytes.size() - 20] ^= 0x40;  // altered
  store.put(ref.key, bytes);
  try {
    spool.receive(store, ref, 1, "model from silo 1");
    FAIL() << "an altered blob was accepted";
  } catch (const ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find("sha256"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir / "spool")) << "a rejected blob left a file";

  auto poisoned = model_like(1);
  poisoned[1].second[7] = std::numeric_limits<float>::infinity();  // in the float16 tensor
  EXPECT_EQ(spool_of(spool, store, 2, poisoned), "h");
  spool.discard(2);
  EXPECT_TRUE(std::filesystem::is_empty(dir / "spool"));
  EXPECT_EQ(spool.total_weight(), 0);
}
