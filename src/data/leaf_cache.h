#pragma once
// A binary copy of a LEAF folder's users beside it, so its JSON (33 MB for FedML's MNIST) is
// parsed once rather than by every process of every run.
//
// The cache is <folder>/.fedsilo-cache/leaf-<key>.bin, where <key> is the SHA-256 of the
// folder's *.json names, sizes and contents: a changed source has another key and is parsed
// again. The file is an 8-byte little-endian header length, a JSON header (format, source key,
// user names and sample counts, feature count, and the SHA-256 of the body), then the body:
// every user's pixels (uint8, n x features) and then every label (int64 little-endian). A cache
// whose header or body does not check out is reported and replaced, never used.
#include <string>
#include <vector>

#include "data/leaf_json_reader.h"

namespace fedsilo::data {

// read_leaf_folder(folder), through the cache. A folder that cannot be written to is read as
// JSON every time (with one log line saying so).
std::vector<LeafUser> read_leaf_folder_cached(const std::string& folder);

}  // namespace fedsilo::data
