#include "monitor/dashboard_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include "fedsilo/error.h"

namespace fedsilo::monitor {
namespace {

TEST(Dashboard, ServesThePageTheStatusAndTheMetrics) {
  auto status = std::make_shared<RunStatus>("run-a", 3, std::vector<int>{1, 2});
  status->silo_seen(2);
  DashboardServer server(status, {});
  ASSERT_GT(server.port(), 0);
  EXPECT_EQ(server.url(), "http://127.0.0.1:" + std::to_string(server.port()) + "/");
  httplib::Client client("127.0.0.1", server.port());
  auto page = client.Get("/");
  ASSERT_TRUE(page) << "no answer";
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("api/status"), std::string::npos);
  EXPECT_EQ(page->get_header_value("Cache-Control"), "no-store");
  auto api = client.Get("/api/status");
  ASSERT_TRUE(api);
  auto j = nlohmann::json::parse(api->body);
  EXPECT_EQ(j["run_id"], "run-a");
  EXPECT_EQ(j["silos"][1]["state"], "online");
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->get_header_value("Content-Type").find("version=0.0.4"), std::string::npos);
  EXPECT_NE(metrics->body.find("fedsilo_silos_online 1\n"), std::string::npos) << metrics->body;
  // The page reads what the server knows now, not a copy from when it started.
  status->silo_seen(1);
  EXPECT_NE(client.Get("/metrics")->body.find("fedsilo_silos_online 2\n"), std::string::npos);
  EXPECT_EQ(client.Get("/nothing")->status, 404);
}

TEST(Dashboard, WithATokenEveryRequestMustCarryIt) {
  auto status = std::make_shared<RunStatus>("run-a", 3, std::vector<int>{1});
  DashboardOptions o;
  o.token = "s3cret-token";
  DashboardServer server(status, o);
  httplib::Client client("127.0.0.1", server.port());
  EXPECT_EQ(client.Get("/api/status")->status, 401);
  EXPECT_EQ(client.Get("/metrics")->status, 401);
  EXPECT_EQ(client.Get("/?token=wrong-token!")->status, 401);
  EXPECT_EQ(client.Get("/?token=s3cret-token")->status, 200);
  EXPECT_EQ(client.Get("/api/status", {{"Authorization", "Bearer s3cret-token"}})->status, 200);
  EXPECT_EQ(server.url().find("s3cret"), std::string::npos) << "the token is never logged";
}

TEST(Dashboard, AnAddressBeyondLoopbackNeedsAToken) {
  auto status = std::make_shared<RunStatus>("run-a", 3, std::vector<int>{1});
  DashboardOptions o;
  o.address = "0.0.0.0";  // refused before it binds
  try {
    DashboardServer server(status, o);
    FAIL() << "served without a token";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("FEDSILO_DASHBOARD_TOKEN"), std::string::npos) << e.what();
  }
}

TEST(Dashboard, OnlyLoopbackAddressesGoWithoutAToken) {
  EXPECT_TRUE(is_loopback_address("127.0.0.1"));
  EXPECT_TRUE(is_loopback_address("127.1.2.3"));
  EXPECT_TRUE(is_loopback_address("::1"));
  EXPECT_FALSE(is_loopback_address("127.example.net")) << "a name, resolved anywhere";
  EXPECT_FALSE(is_loopback_address("0.0.0.0"));
  EXPECT_FALSE(is_loopback_address("10.0.0.1"));
  EXPECT_FALSE(is_loopback_address("::"));
}

TEST(Dashboard, APortInUseIsNamed) {
  auto status = std::make_shared<RunStatus>("run-a", 3, std::vector<int>{1});
  DashboardServer first(status, {});
  DashboardOptions o;
  o.port = first.port();
  try {
    DashboardServer second(status, o);
    FAIL() << "two servers on one port";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(first.port())), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace fedsilo::monitor
