// report.html is one self-contained page that a browser renders with its plots.
#include <gtest/gtest.h>

#include <filesystem>

#include "build_paths.h"
#include "core/subprocess.h"
#include "fedsilo/simulate.h"
#include "test_util.h"

using namespace fedsilo;
using namespace std::chrono_literals;

TEST(RunReport, SelfContainedWithPlotsTimingsSilosAndConfig) {
  testutil::TempDir dir;
  testutil::make_synthetic_mnist(dir.path(), 300, 60);
  auto summary = simulate(testutil::small_args(dir.path(), dir / "log"));
  auto html = testutil::read_file(summary.output_dir + "/report.html");
  ASSERT_FALSE(html.empty());
  EXPECT_NE(html.find("fedsilo run 0 — completed"), std::string::npos);
  size_t charts = 0;
  for (size_t p = html.find("<svg"); p != std::string::npos; p = html.find("<svg", p + 1)) ++charts;
  EXPECT_EQ(charts, 3u) << "accuracy, loss, time per round";
  EXPECT_NE(html.find("<polyline points=\""), std::string::npos);
  EXPECT_NE(html.find("time per round (ms)"), std::string::npos);
  EXPECT_NE(html.find("<td>1</td><td>6</td>"), std::string::npos) << "silo 1 trained 6 rounds";
  EXPECT_NE(html.find("&quot;comm_round&quot;: 6"), std::string::npos)
      << "the configuration is shown";
  // Opens offline: no scripts and nothing fetched from elsewhere.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  EXPECT_EQ(html.find("href=\"http"), std::string::npos);
}

TEST(RunReport, RendersInHeadlessChromium) {
  testutil::TempDir dir;
  testutil::make_synthetic_mnist(dir.path(), 300, 60);
  auto summary = simulate(testutil::small_args(dir.path(), dir / "log"));
  std::string png = dir / "report.png";
  Subprocess::Options o;
  o.output_file = dir / "chromium.log";
  Subprocess chromium(
      {"chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
       "--no-first-run", "--disable-background-networking", "--disable-component-update",
       "--disable-sync", "--user-data-dir=" + (dir / "profile"), "--window-size=1200,1400",
       "--screenshot=" + png, "file://" + summary.output_dir + "/report.html"},
      o);
  auto code = chromium.wait_for(120s);
  ASSERT_TRUE(code.has_value()) << "chromium did not finish";
  ASSERT_EQ(*code, 0) << testutil::read_file(dir / "chromium.log");
  ASSERT_TRUE(std::filesystem::exists(png)) << testutil::read_file(dir / "chromium.log");
  auto bytes = testutil::read_file(png);
  EXPECT_EQ(bytes.substr(1, 3), "PNG");
  // A blank page compresses to a few KB; charts, tables and text make it much larger.
  EXPECT_GT(bytes.size(), 30000u);
  std::filesystem::copy_file(
      png, std::string(fedsilo::build_paths::binary_dir()) + "/report_screenshot.png",
      std::filesystem::copy_options::overwrite_existing);
}
