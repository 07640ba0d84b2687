#include "build_paths.h"

namespace fedsilo::build_paths {

const char* source_dir() { return FEDSILO_SOURCE_DIR; }
const char* binary_dir() { return FEDSILO_BINARY_DIR; }
const char* cli() { return FEDSILO_CLI; }

}  // namespace fedsilo::build_paths
