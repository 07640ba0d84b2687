#pragma once
// FedAvg for models of any size, in memory that does not grow with the model count. Each
// silo's blob is streamed from the store into a private spool file while it is verified (size,
// sha256, layout, finite values); at the round's end the new global model is folded slice by
// slice (kSliceElements at a time) over the spool files, in ascending silo order.
//
// Why at the round's end and not as bytes arrive: a running sum that does not depend on arrival
// order needs float64, twice a float32 model in memory, while the spool costs disk and the page
// cache; and folding in silo order gives the same bits whatever order models arrive in. The
// server then holds the global model, the new one, and the slice buffers (about 24 MiB).
//
// The arithmetic is FedAvgAggregator's: float64 sums of value x weight, divided by the total,
// integers rounded back to their type, so both give the same bits for the same order.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "comm/object_store.h"
#include "core/blob_ref.h"
#include "fedsilo/state_dict.h"

namespace fedsilo::cross_silo {

class UpdateSpool {
 public:
  static constexpr int64_t kSliceElements = 1 << 20;

  // Spool files go in `dir` (created; emptied of this spool's files on reset and destruction).
  explicit UpdateSpool(std::string dir);
  ~UpdateSpool();
  UpdateSpool(const UpdateSpool&) = delete;
  UpdateSpool& operator=(const UpdateSpool&) = delete;

  // A new round over models of `layout` (names, dtypes, shapes; values unused).
  void reset(const StateDict& layout);

  // Streams silo `silo`'s blob into the spool, verified against `ref` and the layout. Throws as
  // get_model does, keeping nothing. Returns the first tensor holding NaN or infinity (empty
  // when none): the blob is the silo's, and the caller decides whether to accept() it.
  std::string receive(comm::ObjectStore& store, const BlobRef& ref, int64_t silo,
                      const std::string& what);
  void accept(int64_t silo, double weight);
  void discard(int64_t silo);

  double total_weight() const { return total_; }
  // The weighted mean of the accepted updates, in the layout's dtypes, on the CPU. The tensors
  // are the spool's result buffer, reused by the next report() (fresh 512 MiB costs 1.6 s of
  // page faults on this VM): copy them out (load_state) before the next round ends.
  // Precondition: total_weight() > 0.
  StateDict report();

  // The most bytes report() has held besides its result (slice sums and one read buffer).
  int64_t peak_fold_bytes() const { return peak_fold_bytes_; }

 private:
  struct Update {
    std::string path;
    std::vector<uint64_t> offsets;  // where each tensor's data starts in the file
    double weight = 0;
    bool accepted = false;
  };
  std::string key_of(int64_t silo) const;
  void remove_files();

  std::string dir_;
  StateDict layout_;
  StateDict result_;
  std::map<int64_t, Update> updates_;  // ascending silo order: the fold order
  double total_ = 0;
  int64_t peak_fold_bytes_ = 0;
};

}  // namespace fedsilo::cross_silo
