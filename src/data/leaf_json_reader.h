#pragma once
#include <string>
#include <vector>

#include "fedsilo/dataset.h"

namespace fedsilo::data {

struct LeafUser {
  std::string name;
  TensorData data;  // x: uint8 [n, features] (LEAF stores pixels / 255), y: int64 [n]
};

// Reads every *.json file of a LEAF folder (FedML's MNIST/train, MNIST/test): keys `users`,
// `num_samples`, `user_data{user: {x, y}}`. Users come back sorted by file name, then in the
// order the file lists them. Throws DataError naming the file and the user on any mismatch.
std::vector<LeafUser> read_leaf_folder(const std::string& folder);

}  // namespace fedsilo::data
