#include "monitor/dashboard_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <future>

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

// A raw TCP client on loopback: connected, and then whatever the test makes it send.
int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  return fd;
}

TEST(Dashboard, IdleAndSlowClientsNeitherStarveARequestNorHoldTheServer) {
  auto status = std::make_shared<RunStatus>("run-a", 3, std::vector<int>{1});
  DashboardOptions o;
  o.token = "s3cret-token";  // as off loopback: the slow clients hold no token
  auto server = std::make_unique<DashboardServer>(status, o);
  std::vector<int> idle;
  for (int i = 0; i < 200; ++i) idle.push_back(connect_to(server->port()));
  std::vector<int> slow;
  for (int i = 0; i < 4; ++i) {
    slow.push_back(connect_to(server->port()));
    const std::string partial = "GET /api/status HTTP/1.1\r\nHo";
    ASSERT_EQ(::send(slow.back(), partial.data(), partial.size(), 0),
              static_cast<ssize_t>(partial.size()));
  }
  httplib::Client client("127.0.0.1", server->port());
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(2, 0);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    // The slow clients go on, a byte at a time.
    for (int fd : slow) (void)::send(fd, "s", 1, MSG_NOSIGNAL);
    auto r = client.Get("/api/status", {{"Authorization", "Bearer s3cret-token"}});
    ASSERT_TRUE(r) << "request " << i << " starved: " << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200);
  }
  double answer_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / 5;
  // Stopping does not wait for any of them (the run's end never waits on a client).
  auto stopped = std::async(std::launch::async, [&] { server.reset(); });
  ASSERT_EQ(stopped.wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "the dashboard waited for its clients";
  std::printf("[ measured ] /api/status with 200 idle + 4 slowloris clients: %.1f ms per answer\n",
              answer_ms);
  for (int fd : idle) ::close(fd);
  for (int fd : slow) ::close(fd);
}

TEST(Dashboard, AHeadThatNeverEndsIsCutAtItsDeadlineOrItsSize) {
  auto status = std::make_shared<RunStatus>("run-a", 3, std::vector<int>{1});
  DashboardServer server(status, {});
  int big = connect_to(server.port());
  std::string head = "GET / HTTP/1.1\r\nX-Pad: " + std::string(9000, 'a') + "\r\n\r\n";
  (void)::send(big, head.data(), head.size(), MSG_NOSIGNAL);
  char buf[256] = {};
  ASSERT_GT(::recv(big, buf, sizeof(buf) - 1, 0), 0);
  EXPECT_NE(std::string(buf).find("431"), std::string::npos) << buf;
  ::close(big);
  int silent = connect_to(server.port());
  timeval tv{10, 0};
  ::setsockopt(silent, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  EXPECT_EQ(::recv(silent, buf, sizeof(buf), 0), 0) << "closed by the server, not our timeout";
  ::close(silent);
}

}  // namespace
}  // namespace fedsilo::monitor
