#pragma once
// Writing a file whole, atomically and with its permissions set before anyone can read it:
// secret keys must never exist, even briefly, with a looser mode or half-written.
#include <sys/types.h>

#include <cstdint>
#include <string>

#include "core/byte_stream.h"

namespace fedsilo {

// What a finished write survives. Either way readers see the old file or the new one whole,
// never a part.
enum class Durability {
  kPowerLoss,     // fsync before the rename: run outputs, checkpoints, keys
  kProcessCrash,  // rename only: object-store blobs, which the protocol asks for again when a
                  // crash loses them (fsync would cost seconds per large model)
};

// Writes `text` to a temporary file beside `path` with `mode`, then renames it over `path`.
// Throws OutputError naming the file (and the free space, when the disk is full) when it cannot
// be written.
void write_file_atomically(const std::string& path, const std::string& text, mode_t mode,
                           Durability durability = Durability::kPowerLoss);

// The same for bytes that `produce` writes in pieces (a model, tensor by tensor): small pieces
// are gathered in a 1 MiB buffer, large ones written from the caller's memory. When `produce`
// throws, the temporary file is removed and the old file stays. Returns the bytes written.
uint64_t write_file_atomically(const std::string& path, const ByteProducer& produce, mode_t mode,
                               Durability durability = Durability::kPowerLoss);

}  // namespace fedsilo
