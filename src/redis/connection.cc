#include "redis/connection.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <memory>
#include <set>

namespace ruo::redis {
namespace {

Status BadAddress(std::string_view text, std::string_view why) {
  return InvalidArgument(
      "invalid address \"" + std::string(text) + "\": " + std::string(why) + " (want HOST:PORT)",
      "InvalidAddress");
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Indices in argv of values that are secrets.
std::set<size_t> SecretArgIndices(const std::vector<std::string>& argv) {
  std::set<size_t> out;
  if (argv.empty()) return out;
  std::string cmd = Upper(argv[0]);
  auto all_from = [&](size_t first) {
    for (size_t i = first; i < argv.size(); ++i) out.insert(i);
  };
  if (cmd == "AUTH") {
    all_from(1);
  } else if (cmd == "CONFIG" && argv.size() >= 3 && Upper(argv[1]) == "SET") {
    // CONFIG SET name value [name value ...] (7.0 takes several pairs).
    for (size_t i = 2; i + 1 < argv.size(); i += 2) {
      std::string name = Lower(argv[i]);
      if (name == "masterauth" || name == "requirepass") out.insert(i + 1);
    }
  } else if (cmd == "HELLO" || cmd == "MIGRATE") {
    for (size_t i = 1; i < argv.size(); ++i) {
      std::string a = Upper(argv[i]);
      if (a == "AUTH" && i + 2 < argv.size()) {
        out.insert(i + 1);  // HELLO: username; MIGRATE AUTH: password
        out.insert(i + 2);
      } else if (a == "AUTH" && i + 1 < argv.size()) {
        out.insert(i + 1);
      } else if (a == "AUTH2" && i + 2 < argv.size()) {
        out.insert(i + 2);
      }
    }
  } else if (cmd == "ACL" && argv.size() >= 2 && Upper(argv[1]) == "SETUSER") {
    all_from(3);
  }
  return out;
}

}  // namespace

StatusOr<Endpoint> Endpoint::Parse(std::string_view text) {
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return BadAddress(text, "unclosed '['");
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return BadAddress(text, "missing port after ']'");
    }
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return BadAddress(text, "missing port");
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    // A bare IPv6 address is ambiguous: "::1:6379".
    if (host.find(':') != std::string_view::npos) {
      return BadAddress(text, "IPv6 addresses must be written [addr]:port");
    }
  }
  if (host.empty()) return BadAddress(text, "empty host");
  if (std::any_of(host.begin(), host.end(),
                  [](char c) { return std::isspace(static_cast<unsigned char>(c)); })) {
    return BadAddress(text, "space in host");
  }
  int port = 0;
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    return BadAddress(text, "port is not a number");
  }
  std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port < 1 || port > 65535) return BadAddress(text, "port out of range 1-65535");
  return Endpoint{std::string(host), port};
}

std::string Endpoint::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::string DescribeCommand(const std::vector<std::string>& argv) {
  if (argv.empty()) return "(empty command)";
  std::string cmd = Upper(argv[0]);
  static const std::set<std::string> kWithSubcommand = {
      "ACL",     "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "DEBUG",   "FUNCTION",
      "LATENCY", "MEMORY", "MODULE",  "OBJECT",  "SCRIPT", "SLOWLOG", "XINFO"};
  if ((cmd == "SLAVEOF" || cmd == "REPLICAOF") && argv.size() == 3) {
    return cmd + " " + argv[1] + " " + argv[2];
  }
  if (kWithSubcommand.contains(cmd) && argv.size() >= 2) {
    std::string sub = Upper(argv[1]);
    cmd += " " + sub;
    // The parameter name helps and is never secret; its value may be.
    if (Upper(argv[0]) == "CONFIG" && (sub == "GET" || sub == "SET") && argv.size() >= 3) {
      cmd += " " + argv[2];
    }
  }
  return cmd;
}

std::string RedactSecrets(std::string_view text, const std::vector<std::string>& argv) {
  std::string out(text);
  for (size_t i : SecretArgIndices(argv)) {
    const std::string& secret = argv[i];
    if (secret.empty()) continue;
    for (size_t pos = out.find(secret); pos != std::string::npos;
         pos = out.find(secret, pos + 10)) {
      out.replace(pos, secret.size(), "<redacted>");
    }
  }
  return out;
}

namespace {

class UnreachableConnection final : public redis::Connection {
 public:
  UnreachableConnection(redis::Endpoint ep, Status why)
      : ep_(std::move(ep)), why_(std::move(why)) {}
  StatusOr<redis::Reply> Command(const std::vector<std::string>&) override { return why_; }
  StatusOr<std::vector<redis::Reply>> Pipeline(
      const std::vector<std::vector<std::string>>&) override {
    return why_;
  }
  const redis::Endpoint& endpoint() const override { return ep_; }

 private:
  redis::Endpoint ep_;
  Status why_;
};

}  // namespace

std::unique_ptr<Connection> NewUnreachableConnection(Endpoint ep, Status why) {
  return std::make_unique<UnreachableConnection>(std::move(ep), std::move(why));
}

}  // namespace ruo::redis
