#pragma once
// The server's live dashboard over HTTP (docs/monitoring.md): the page at /, the same figures as
// JSON at /api/status, and Prometheus metrics at /metrics, all read from a RunStatus. Served by
// cpp-httplib on its own threads, so a slow or stuck browser never holds up a round.
#include <memory>
#include <string>
#include <thread>

#include "monitor/run_status.h"

namespace fedsilo::monitor {

struct DashboardOptions {
  std::string address = "127.0.0.1";
  int port = 0;  // 0: any free port (tests); the config's 0 means no dashboard at all
  // Required when `address` is not loopback: every request must carry it, as
  // "Authorization: Bearer <token>" or "?token=<token>" (the page passes it on).
  std::string token;
};

class DashboardServer {
 public:
  // Listens before it returns. Throws ConfigError when the address is not loopback and there is
  // no token, or when it cannot listen there (naming the address and port).
  DashboardServer(std::shared_ptr<const RunStatus> status, DashboardOptions options);
  ~DashboardServer();
  DashboardServer(const DashboardServer&) = delete;
  DashboardServer& operator=(const DashboardServer&) = delete;

  int port() const { return port_; }
  // What to open in a browser (with the token, when there is one).
  std::string url() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  DashboardOptions options_;
  int port_ = 0;
};

bool is_loopback_address(const std::string& address);

// The page itself: one HTML file with its script, no external resources.
const std::string& dashboard_page();

}  // namespace fedsilo::monitor
