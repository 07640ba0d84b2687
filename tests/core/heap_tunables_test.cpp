#include "core/heap_tunables.h"

#include <gtest/gtest.h>

using fedsilo::with_huge_page_heap;

TEST(HeapTunables, AddsTheHugePageHeapOnceAndKeepsTheUsersOwnSetting) {
  EXPECT_EQ(with_huge_page_heap(""), "glibc.malloc.hugetlb=1");
  EXPECT_EQ(with_huge_page_heap("glibc.malloc.arena_max=2"),
            "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1");
  EXPECT_EQ(with_huge_page_heap(with_huge_page_heap("")), "glibc.malloc.hugetlb=1");
  // A user who turned it off (or chose hugetlb=2) keeps that.
  EXPECT_EQ(with_huge_page_heap("glibc.malloc.hugetlb=0"), "glibc.malloc.hugetlb=0");
  EXPECT_EQ(with_huge_page_heap("glibc.malloc.hugetlb=2:glibc.malloc.arena_max=2"),
            "glibc.malloc.hugetlb=2:glibc.malloc.arena_max=2");
}
