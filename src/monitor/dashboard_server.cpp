#include "monitor/dashboard_server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <sodium.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "core/net_address.h"
#include "fedsilo/error.h"
#include "monitor/connection_gate.h"

namespace fedsilo::monitor {

namespace {

constexpr int kThreads = 2;  // a page or two and a scraper; more would only cost memory

bool token_matches(const httplib::Request& req, const std::string& token) {
  std::string given;
  auto auth = req.get_header_value("Authorization");
  if (auth.rfind("Bearer ", 0) == 0) given = auth.substr(7);
  if (given.empty() && req.has_param("token")) given = req.get_param_value("token");
  return given.size() == token.size() &&
         sodium_memcmp(given.data(), token.data(), token.size()) == 0;
}

}  // namespace

// httplib serves only the gate, on a Unix socket in a folder only this user can enter: nobody
// reaches it without passing the gate's deadlines and caps.
struct DashboardServer::Impl {
  httplib::Server server;
  std::string socket_dir;
  std::unique_ptr<ConnectionGate> gate;
  ~Impl() {
    std::error_code ec;
    if (!socket_dir.empty()) std::filesystem::remove_all(socket_dir, ec);
  }
};

bool is_loopback_address(const std::string& a) { return fedsilo::is_loopback_address(a); }

DashboardServer::DashboardServer(std::shared_ptr<const RunStatus> status, DashboardOptions options)
    : impl_(std::make_unique<Impl>()), options_(std::move(options)) {
  bool open = is_loopback_address(options_.address);
  if (!open && options_.token.empty()) {
    throw ConfigError("tracking_args.dashboard_address = " + options_.address +
                      " is not loopback: set FEDSILO_DASHBOARD_TOKEN to a secret the dashboard "
                      "will require, or use 127.0.0.1 and an SSH tunnel");
  }
  if (sodium_init() < 0) throw Error("libsodium could not start");
  auto& svr = impl_->server;
  svr.new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
  svr.set_read_timeout(5, 0);
  svr.set_write_timeout(5, 0);
  svr.set_keep_alive_timeout(5);
  svr.set_payload_max_length(4096);
  svr.set_socket_options([](socket_t) {});  // httplib's default TCP options fail on AF_UNIX
  std::string token = options_.token;
  svr.set_pre_routing_handler([token](const httplib::Request& req, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Content-Type-Options", "nosniff");
    if (token.empty() || token_matches(req, token))
      return httplib::Server::HandlerResponse::Unhandled;
    res.status = 401;
    res.set_content("a valid token is required (FEDSILO_DASHBOARD_TOKEN)\n", "text/plain");
    return httplib::Server::HandlerResponse::Handled;
  });
  svr.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(dashboard_page(), "text/html; charset=utf-8");
  });
  svr.Get("/api/status", [status](const httplib::Request&, httplib::Response& res) {
    res.set_content(status->snapshot().dump(), "application/json");
  });
  svr.Get("/metrics", [status](const httplib::Request&, httplib::Response& res) {
    res.set_content(status->prometheus(), "text/plain; version=0.0.4; charset=utf-8");
  });
  std::string tmpl = (std::filesystem::temp_directory_path() / "fedsilo-dash-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw Error("dashboard: cannot make a folder for its socket");
  impl_->socket_dir = tmpl;
  GateOptions gate;
  gate.address = options_.address;
  gate.port = options_.port;
  gate.backend_socket = tmpl + "/http.sock";
  svr.set_address_family(AF_UNIX);
  if (!svr.bind_to_port(gate.backend_socket, 80))
    throw Error("dashboard: cannot listen on " + gate.backend_socket);
  impl_->gate = std::make_unique<ConnectionGate>(gate);
  port_ = impl_->gate->port();
  thread_ = std::thread([this] { impl_->server.listen_after_bind(); });
  // stop() does nothing to a server that is not running yet: a destructor that came too soon
  // would wait forever for the thread.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!svr.is_running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (!svr.is_running()) {
    svr.stop();
    thread_.detach();
    throw Error("dashboard: the HTTP server on " + options_.address + ":" + std::to_string(port_) +
                " did not start within 10 s");
  }
}

DashboardServer::~DashboardServer() {
  impl_->gate.reset();  // closes every client connection at once
  impl_->server.stop();
  if (thread_.joinable()) thread_.join();
}

std::string DashboardServer::url() const {
  std::string host = options_.address.find(':') != std::string::npos ? "[" + options_.address + "]"
                     : options_.address == "0.0.0.0"                 ? "<this-host>"
                                                                     : options_.address;
  std::string url = "http://" + host + ":" + std::to_string(port_) + "/";
  if (!options_.token.empty()) url += "?token=<FEDSILO_DASHBOARD_TOKEN>";
  return url;
}

}  // namespace fedsilo::monitor
