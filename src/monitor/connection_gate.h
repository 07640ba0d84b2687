#pragma once
// What stands between the network and the dashboard's HTTP server: cpp-httplib 0.11 gives each
// connection a pool thread until the client is done, with a timeout per read but none per
// request, so two clients sending their headers a byte at a time hold every thread, and
// stopping the server waits for them. The gate owns the listening socket and one event thread:
// it reads each request head whole, under a deadline and a size cap, then hands the complete
// request to httplib over a private Unix socket (one request per connection) and writes the
// answer back under a deadline of its own. It caps connections per source address and in all;
// when a new one would pass a cap, the oldest connection still sending its head is closed to
// make room (a real client sends its head at once), so idle and slow clients can never keep an
// authorised request out. Stopping closes everything at once.
#include <chrono>
#include <memory>
#include <string>
#include <thread>

namespace fedsilo::monitor {

struct GateOptions {
  std::string address = "127.0.0.1";
  int port = 0;                  // 0: any free port
  std::string backend_socket;    // the Unix socket httplib listens on
  size_t max_connections = 128;  // open at once, in all
  size_t max_per_source = 32;    // open at once, from one address
  size_t max_head_bytes = 8192;  // request line and headers
  size_t max_response_bytes = 32u << 20;
  std::chrono::milliseconds head_deadline{2000};      // from accept to the end of the head
  std::chrono::milliseconds response_deadline{5000};  // to write the whole answer
};

class ConnectionGate {
 public:
  // Listens before it returns; throws ConfigError naming the address and port when it cannot.
  explicit ConnectionGate(GateOptions options);
  ~ConnectionGate();
  ConnectionGate(const ConnectionGate&) = delete;
  ConnectionGate& operator=(const ConnectionGate&) = delete;

  int port() const { return port_; }

 private:
  struct Loop;
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace fedsilo::monitor
