#pragma once
// Writing a file whole, atomically and with its permissions set before anyone can read it:
// secret keys must never exist, even briefly, with a looser mode or half-written.
#include <sys/types.h>

#include <string>

#include "core/byte_stream.h"

namespace fedsilo {

// Writes `text` to a temporary file beside `path` with `mode`, then renames it over `path`.
// Throws Error naming the file when it cannot be written.
void write_file_atomically(const std::string& path, const std::string& text, mode_t mode);

// The same for bytes that `produce` writes in pieces (a model, tensor by tensor): nothing but a
// small buffer is held. When `produce` throws, the temporary file is removed and the old file
// stays.
void write_file_atomically(const std::string& path, const ByteProducer& produce, mode_t mode);

}  // namespace fedsilo
