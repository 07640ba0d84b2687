#pragma once
// Writing a file whole, atomically and with its permissions set before anyone can read it:
// secret keys must never exist, even briefly, with a looser mode or half-written.
#include <sys/types.h>

#include <string>

namespace fedsilo {

// Writes `text` to a temporary file beside `path` with `mode`, then renames it over `path`.
// Throws Error naming the file when it cannot be written.
void write_file_atomically(const std::string& path, const std::string& text, mode_t mode);

}  // namespace fedsilo
