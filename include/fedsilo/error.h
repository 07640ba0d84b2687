#pragma once
// Errors a user can act on. Every message names the thing that is wrong (a config key, a file,
// a peer) and what was expected, so the CLI can print it as one line and exit non-zero.
#include <stdexcept>
#include <string>

namespace fedsilo {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A config value or command-line option that is missing, malformed or out of range.
class ConfigError : public Error {
 public:
  using Error::Error;
};

// A data file that is missing, truncated or malformed.
class DataError : public Error {
 public:
  using Error::Error;
};

// A message or model blob that fails validation (size, hash, header, names, dtypes, shapes).
class ProtocolError : public Error {
 public:
  using Error::Error;
};

// The object store or a local output failed (I/O error, refused request, full disk): not the
// user's input, not a peer's message. Exit code 5 (ExitCode::kStoreFailed).
class StoreError : public Error {
 public:
  using Error::Error;
};

// This process's own disk failed (full, read-only, I/O error) while writing its outputs: unlike
// a peer's or the store's failure, asking the peer again cannot help. Exit code 5.
class OutputError : public StoreError {
 public:
  using StoreError::StoreError;
};

// A wait whose deadline passed: names what was awaited.
class TimeoutError : public Error {
 public:
  using Error::Error;
};

}  // namespace fedsilo
