#include "core/heap_tunables.h"

#include <cstdlib>

namespace fedsilo {

std::string with_huge_page_heap(const std::string& current) {
  if (current.find("glibc.malloc.hugetlb=") != std::string::npos) return current;
  return current.empty() ? "glibc.malloc.hugetlb=1" : current + ":glibc.malloc.hugetlb=1";
}

void prefer_huge_page_heap_for_children() {
  const char* current = std::getenv("GLIBC_TUNABLES");
  ::setenv("GLIBC_TUNABLES", with_huge_page_heap(current ? current : "").c_str(), 1);
}

}  // namespace fedsilo
