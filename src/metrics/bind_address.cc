#include "metrics/bind_address.h"

#include <charconv>

namespace ruo::metrics {
namespace {

bool ValidPort(std::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  int port = -1;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
  return ec == std::errc() && end == s.data() + s.size() && port >= 0 && port <= 65535;
}

}  // namespace

StatusOr<std::optional<std::string>> ToListeningPorts(const std::string& bind_address) {
  if (bind_address.empty() || bind_address == "0") return std::optional<std::string>();
  auto bad = [&] {
    return InvalidArgument(
        "bind address \"" + bind_address + "\" is not [HOST]:PORT (\"0\" disables the endpoint)",
        "InvalidBindAddress");
  };
  auto colon = bind_address.rfind(':');
  if (colon == std::string::npos) return bad();
  std::string host = bind_address.substr(0, colon);
  std::string port = bind_address.substr(colon + 1);
  if (!ValidPort(port)) return bad();
  if (host.empty()) return std::optional<std::string>(port);
  if (host.front() == '[' && host.back() != ']') return bad();
  return std::optional<std::string>(bind_address);
}

}  // namespace ruo::metrics
