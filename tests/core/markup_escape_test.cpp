#include "core/markup_escape.h"

#include <gtest/gtest.h>

TEST(MarkupEscape, EveryCharacterWithMeaningInMarkupBecomesAReference) {
  EXPECT_EQ(fedsilo::escape_markup(R"(<a href="x">Tom & 'Jerry'</a>)"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;");
  EXPECT_EQ(fedsilo::escape_markup("fedsilo/run 1/round_0.safetensors"),
            "fedsilo/run 1/round_0.safetensors");
  EXPECT_EQ(fedsilo::escape_markup(""), "");
}
