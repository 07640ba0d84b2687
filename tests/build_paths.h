#pragma once
// Where the tests and benchmarks find this clone's sources, its build and the `fedsilo` tool.
// Only build_paths.cpp is compiled with the paths: any other object stays the same from clone to
// clone, so ccache hits for it in a fresh clone elsewhere (docs/benchmarks.md, "Build and test").

namespace fedsilo::build_paths {

const char* source_dir();  // the repository root
const char* binary_dir();  // the CMake build folder
const char* cli();         // build/fedsilo

}  // namespace fedsilo::build_paths
