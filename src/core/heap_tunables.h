#pragma once
// The malloc settings fedsilo's own programs run libtorch under. glibc reads GLIBC_TUNABLES once,
// in the dynamic loader, so they are set in the environment of the lean `fedsilo` program before
// it exec's fedsilo-engine or starts trainers (docs/architecture.md, "Processes").
#include <string>

namespace fedsilo {

// `current` (GLIBC_TUNABLES as found, may be empty) with glibc.malloc.hugetlb=1 added: libtorch's
// static initialisers grow the heap by ~40 MiB in small steps, and on transparent huge pages that
// costs 7,000 page faults instead of 17,000. A value the user set for hugetlb is kept.
std::string with_huge_page_heap(const std::string& current);

// Applies with_huge_page_heap to this process's environment, for the processes it starts.
void prefer_huge_page_heap_for_children();

}  // namespace fedsilo
