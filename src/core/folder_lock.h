#pragma once
// One writer per run folder: a second server started on the same run (same run_id and output
// folder) would interleave its checkpoints, spool and metrics with the live one's. The lock is
// flock(2) on <folder>/.lock, held for the process's life and released by the kernel when it
// dies, so a crash never leaves a stale lock.
#include <string>

namespace fedsilo {

class FolderLock {
 public:
  // Throws ConfigError naming the folder and the holder's pid when another process holds it,
  // StoreError when the lock file cannot be made.
  explicit FolderLock(const std::string& folder);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_ = -1;
};

// Removes `<name>.tmp.<pid>` files (write_file_atomically's) in `folder` and its direct
// subfolders whose writer process no longer exists: what a writer killed mid-write leaves.
// Returns how many were removed.
int remove_stale_temporaries(const std::string& folder);

}  // namespace fedsilo
