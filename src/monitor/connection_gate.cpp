#include "monitor/connection_gate.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <list>
#include <optional>
#include <vector>

#include "fedsilo/error.h"

namespace fedsilo::monitor {
namespace {

using Clock = std::chrono::steady_clock;

enum class Phase { kHead, kWrite };

struct Conn {
  int fd = -1;
  std::string source;
  Phase phase = Phase::kHead;
  Clock::time_point deadline;
  std::string in, out;
  size_t written = 0;
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string plain_response(int status, const char* reason) {
  std::string body = std::string(reason) + "\n";
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// The head as httplib gets it: one request per connection, and no body (the dashboard has only
// GET routes, and a body would make httplib wait for bytes the gate does not forward).
std::optional<std::string> backend_head(const std::string& head) {
  std::string out;
  size_t pos = 0;
  bool first = true;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string::npos || end == pos) break;
    std::string line = head.substr(pos, end - pos);
    pos = end + 2;
    if (!first) {
      auto name = lower(line.substr(0, line.find(':')));
      if (name == "connection") continue;
      if (name == "transfer-encoding") return std::nullopt;
      if (name == "content-length" &&
          line.find_first_not_of(" 0", line.find(':') + 1) != std::string::npos)
        return std::nullopt;
    }
    first = false;
    out += line + "\r\n";
  }
  return out + "Connection: close\r\n\r\n";
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

struct ConnectionGate::Loop {
  GateOptions o;
  int listen_fd = -1;
  int wake[2] = {-1, -1};
  std::list<Conn> conns;  // oldest first

  ~Loop() {
    for (auto& c : conns) close_fd(c.fd);
    close_fd(listen_fd);
    close_fd(wake[0]);
    close_fd(wake[1]);
  }
  void listen_on(const std::string& address, int port);
  void run();
  void accept_all();
  bool make_room(const std::string& source);
  void read_head(Conn& c);
  void write_out(Conn& c);
  std::string ask_backend(const std::string& head) const;
};

void ConnectionGate::Loop::listen_on(const std::string& address, int port) {
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  int rc = ::getaddrinfo(address.c_str(), std::to_string(port).c_str(), &hints, &res);
  auto fail = [&](const std::string& why) {
    return ConfigError("tracking_args.dashboard_port: cannot listen on " + address + ":" +
                       std::to_string(port) + " (" + why + ")");
  };
  if (rc != 0) throw fail(gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, ::freeaddrinfo);
  listen_fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd < 0) throw fail(std::strerror(errno));
  int yes = 1;
  ::setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  if (::bind(listen_fd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(listen_fd, 256) != 0)
    throw fail(std::string(std::strerror(errno)) + "; in use, or not an address of this machine");
  if (::pipe2(wake, O_NONBLOCK | O_CLOEXEC) != 0) throw Error("dashboard: cannot make a pipe");
}

// Over a cap, the oldest connection still sending its head (of `source` when that source is at
// its cap) gives way; false when there is none and the new connection must be refused.
bool ConnectionGate::Loop::make_room(const std::string& source) {
  size_t from_source = 0;
  for (const auto& c : conns) from_source += c.source == source ? 1 : 0;
  bool source_full = from_source >= o.max_per_source;
  if (!source_full && conns.size() < o.max_connections) return true;
  for (auto it = conns.begin(); it != conns.end(); ++it) {
    if (it->phase == Phase::kHead && (!source_full || it->source == source)) {
      close_fd(it->fd);
      conns.erase(it);
      return true;
    }
  }
  return false;
}

void ConnectionGate::Loop::accept_all() {
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    char host[NI_MAXHOST] = "?";
    ::getnameinfo(reinterpret_cast<sockaddr*>(&peer), len, host, sizeof(host), nullptr, 0,
                  NI_NUMERICHOST);
    if (!make_room(host)) {
      ::close(fd);
      continue;
    }
    Conn c;
    c.fd = fd;
    c.source = host;
    c.deadline = Clock::now() + o.head_deadline;
    conns.push_back(std::move(c));
  }
}

// httplib answers a complete request at once: it has nothing else to wait for.
std::string ConnectionGate::Loop::ask_backend(const std::string& head) const {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return plain_response(503, "Service Unavailable");
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, o.backend_socket.c_str(), sizeof(addr.sun_path) - 1);
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::send(fd, head.data(), head.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(head.size())) {
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof(buf))) > 0 && answer.size() < o.max_response_bytes)
      answer.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return answer.empty() ? plain_response(502, "Bad Gateway") : answer;
}

void ConnectionGate::Loop::read_head(Conn& c) {
  char buf[4096];
  ssize_t n = ::read(c.fd, buf, std::min(sizeof(buf), o.max_head_bytes + 4 - c.in.size()));
  if (n <= 0) {
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) close_fd(c.fd);
    return;
  }
  c.in.append(buf, static_cast<size_t>(n));
  auto end = c.in.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (c.in.size() > o.max_head_bytes) {
      c.out = plain_response(431, "Request Header Fields Too Large");
      c.phase = Phase::kWrite;
      c.deadline = Clock::now() + o.response_deadline;
    }
    return;
  }
  auto head = backend_head(c.in.substr(0, end + 2));
  c.out = head ? ask_backend(*head) : plain_response(400, "Bad Request");
  c.in.clear();
  c.phase = Phase::kWrite;
  c.deadline = Clock::now() + o.response_deadline;
}

void ConnectionGate::Loop::write_out(Conn& c) {
  ssize_t n = ::send(c.fd, c.out.data() + c.written, c.out.size() - c.written, MSG_NOSIGNAL);
  if (n < 0) {
    if (errno != EAGAIN && errno != EINTR) close_fd(c.fd);
    return;
  }
  c.written += static_cast<size_t>(n);
  if (c.written == c.out.size()) close_fd(c.fd);
}

void ConnectionGate::Loop::run() {
  std::vector<pollfd> fds;
  std::vector<Conn*> owners;
  for (;;) {
    fds.assign({{wake[0], POLLIN, 0}, {listen_fd, POLLIN, 0}});
    owners.assign(2, nullptr);
    auto now = Clock::now();
    auto next = now + std::chrono::seconds(1);
    for (auto& c : conns) {
      fds.push_back({c.fd, static_cast<short>(c.phase == Phase::kHead ? POLLIN : POLLOUT), 0});
      owners.push_back(&c);
      next = std::min(next, c.deadline);
    }
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count();
    ::poll(fds.data(), fds.size(), static_cast<int>(std::max<int64_t>(wait, 0) + 1));
    if (fds[0].revents) return;  // stopping
    for (size_t i = 2; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      Conn& c = *owners[i];
      if (fds[i].revents & (POLLERR | POLLNVAL)) {
        close_fd(c.fd);
      } else if (c.phase == Phase::kHead) {
        read_head(c);
      } else {
        write_out(c);
      }
    }
    now = Clock::now();
    conns.remove_if([&](Conn& c) {
      if (c.fd >= 0 && now >= c.deadline) close_fd(c.fd);
      return c.fd < 0;
    });
    if (fds[1].revents) accept_all();
  }
}

ConnectionGate::ConnectionGate(GateOptions options) : loop_(std::make_unique<Loop>()) {
  loop_->o = std::move(options);
  loop_->listen_on(loop_->o.address, loop_->o.port);
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  ::getsockname(loop_->listen_fd, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  thread_ = std::thread([this] { loop_->run(); });
}

ConnectionGate::~ConnectionGate() {
  char one = 1;
  (void)!::write(loop_->wake[1], &one, 1);
  if (thread_.joinable()) thread_.join();
}

}  // namespace fedsilo::monitor
