// A signed silo's figures are the only part of metrics.jsonl it writes: whatever JSON it puts
// there must not crash the server, the report or a resume, nor overwrite the server's fields.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "run/round_stats.h"
#include "run/run_report.h"

namespace fedsilo::cross_silo {
namespace {

TEST(SiloFigures, OnlyKnownFiniteFiguresInTheirRangeAreKept) {
  nlohmann::json sent = {{"train_ms", "12"},
                         {"train_loss", std::numeric_limits<double>::quiet_NaN()},
                         {"train_acc", 0.5},
                         {"upload_ms", 1e308},
                         {"download_ms", 12.5},
                         {"sync_notify_ms", nullptr},
                         {"local_steps", 3.5},
                         {"silo", 99},
                         {"num_samples", "lots"},
                         {"data_silo_index", 7},
                         {"evil", {{"nested", {1, 2, 3}}}}};
  auto kept = checked_silo_figures(sent);
  EXPECT_EQ(kept, (nlohmann::json{{"train_acc", 0.5}, {"download_ms", 12.5}})) << kept.dump();

  auto good = checked_silo_figures(
      {{"train_ms", 3.0}, {"train_loss", 0.25}, {"local_steps", 40}, {"upload_ms", 0}});
  EXPECT_EQ(good["train_ms"], 3.0);
  EXPECT_EQ(good["train_loss"], 0.25);
  EXPECT_EQ(good["local_steps"], 40);
  EXPECT_EQ(good["upload_ms"], 0.0);
  EXPECT_EQ(checked_silo_figures({{"train_acc", 1.5}}), nlohmann::json::object());
  EXPECT_EQ(checked_silo_figures({{"train_ms", -1}}), nlohmann::json::object());
  for (auto odd : {nlohmann::json(nullptr), nlohmann::json("x"), nlohmann::json::array({1, 2})})
    EXPECT_EQ(checked_silo_figures(odd), nlohmann::json::object()) << odd.dump();
}

TEST(SiloFigures, TheSystemFiguresAreSanitizedNotCopied) {
  auto kept = checked_silo_figures({{"system", {{"rss_mib", "a lot"}, {"made_up", 1}}}});
  ASSERT_TRUE(kept.contains("system"));
  EXPECT_FALSE(kept["system"].contains("made_up")) << kept.dump();
  EXPECT_FALSE(kept["system"].contains("rss_mib")) << kept.dump();
}

TEST(SiloFigures, TheServersOwnFieldsWinOverWhatASiloReported) {
  RoundStats stats;
  stats.round = 3;
  // Even figures that bypassed the check cannot overwrite the server's fields.
  stats.silos.push_back({1, 0, 120, 1.5, 0.5, 0.25, {{"silo", 99}, {"num_samples", -5}}, ""});
  auto line = stats.to_json();
  EXPECT_EQ(line["silos"][0]["silo"], 1);
  EXPECT_EQ(line["silos"][0]["num_samples"], 120);
  EXPECT_EQ(line["silos"][0]["data_silo_index"], 0);
}

TEST(SiloFigures, AReportOfOldLinesWithStringsAndNullsStillRenders) {
  // metrics.jsonl lines as an older server wrote them, which kept a silo's figures verbatim, and
  // a NaN loss saved as null.
  std::vector<nlohmann::json> rounds = {
      {{"round", 0},
       {"silos",
        {{{"silo", 1}, {"num_samples", 10}, {"train_ms", "soon"}, {"upload_ms", nullptr}}}},
       {"dropped", nlohmann::json::array()},
       {"selected", {1}},
       {"test_acc", 0.5},
       {"train_acc", 0.4},
       {"test_loss", nullptr},
       {"train_loss", 1.0}}};
  std::string html;
  ASSERT_NO_THROW(html = render_report(nlohmann::json::object(), rounds, "finished"));
  EXPECT_NE(html.find("<svg"), std::string::npos);
}

}  // namespace
}  // namespace fedsilo::cross_silo
