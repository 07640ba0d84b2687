#pragma once
// A binary copy of a LEAF folder's users beside it, so its JSON (33 MB for FedML's MNIST) is
// parsed once rather than by every process of every run.
//
// The cache is <folder>/.fedsilo-cache/leaf-<key>.bin, where <key> is the SHA-256 of the
// folder's *.json names, sizes and contents. The file is an 8-byte little-endian header length,
// a JSON header (format, source key, the sources' stat, user names and sample counts, feature
// count, and the SHA-256 of the body), then the body: every user's pixels (uint8, n x features)
// and then every label (int64 little-endian). A cache whose header or body does not check out
// is reported and replaced, never used.
//
// Hashing the sources costs every process 30-50 ms for FedML's 33 MB, so a cache also records
// each source file's size, device, inode, mtime and ctime; while they are unchanged the sources
// are not hashed again. Any write to or replacement of a file changes its ctime, which no
// system call sets back; a stat taken within `racy_window` of a file's last change is not
// recorded, because a change in the same tick of the kernel's coarse file clock would leave
// the ctime as it was.
#include <chrono>
#include <string>
#include <vector>

#include "data/leaf_json_reader.h"

namespace fedsilo::data {

struct LeafCacheOptions {
  std::chrono::nanoseconds racy_window = std::chrono::seconds(2);
};

// read_leaf_folder(folder), through the cache. A folder that cannot be written to is read as
// JSON every time (with one log line saying so).
std::vector<LeafUser> read_leaf_folder_cached(const std::string& folder,
                                              const LeafCacheOptions& options = {});

}  // namespace fedsilo::data
