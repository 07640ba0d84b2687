#include "core/net_address.h"

#include <arpa/inet.h>

namespace fedsilo {

bool is_loopback_address(const std::string& a) {
  in_addr v4{};
  if (inet_pton(AF_INET, a.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  return a == "::1" || a == "localhost";
}

}  // namespace fedsilo
