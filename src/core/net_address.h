#pragma once
#include <string>

namespace fedsilo {

// 127.0.0.0/8, ::1 or "localhost": parsed, not prefix-matched (a host name like
// "127.example.net" can resolve anywhere).
bool is_loopback_address(const std::string& address);

}  // namespace fedsilo
