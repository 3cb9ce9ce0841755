// fake_redis_version: a tiny RESP server that claims to be a Redis of any
// version, for refusal tests that need a version we have no binary of (only
// 7.0.15 is installed). It answers PING, AUTH, CLIENT SETNAME, INFO (with the
// given redis_version, role:master, an empty keyspace), CONFIG GET (defaults),
// DBSIZE, ECHO, SELECT, QUIT, and an error for anything else — so a client that
// tries to change it fails loudly.
//
// Usage: fake_redis_version --version 6.2.0 [--port P] [--password PW]
// Prints the port on stdout, then serves until killed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string g_version;
std::string g_password;
int g_port = 0;
const auto g_started = std::chrono::steady_clock::now();

const std::map<std::string, std::string>& ConfigDefaults() {
  static const std::map<std::string, std::string> defaults = {
      {"maxmemory", "0"},
      {"maxmemory-policy", "noeviction"},
      {"client-output-buffer-limit",
       "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"},
      {"repl-backlog-size", "1048576"},
      {"min-replicas-to-write", "0"},
      {"min-slaves-to-write", "0"},
      {"min-replicas-max-lag", "10"},
      {"min-slaves-max-lag", "10"},
      {"masterauth", ""},
      {"requirepass", ""},
      {"appendonly", "no"},
      {"save", ""},
      {"repl-diskless-sync", "no"},
      {"repl-timeout", "60"},
      {"databases", "16"},
  };
  return defaults;
}

std::string Bulk(const std::string& s) {
  return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
}

std::string Info() {
  const auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - g_started)
          .count();
  std::string s;
  s += "# Server\r\nredis_version:" + g_version + "\r\nredis_mode:standalone\r\n";
  s += "os:Linux\r\narch_bits:64\r\nprocess_id:" + std::to_string(getpid()) + "\r\n";
  s += "run_id:0123456789abcdef0123456789abcdef01234567\r\n";
  s += "tcp_port:" + std::to_string(g_port) + "\r\n";
  s += "uptime_in_seconds:" + std::to_string(uptime) + "\r\n\r\n";
  s += "# Clients\r\nconnected_clients:1\r\nblocked_clients:0\r\n\r\n";
  s += "# Memory\r\nused_memory:1000000\r\nused_memory_rss:2000000\r\n";
  s += "used_memory_peak:1000000\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\n";
  s += "total_system_memory:8589934592\r\n\r\n";
  s += "# Persistence\r\nloading:0\r\nrdb_bgsave_in_progress:0\r\nrdb_last_bgsave_status:ok\r\n";
  s += "aof_enabled:0\r\naof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\n\r\n";
  s += "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n";
  s += "master_replid:fedcba9876543210fedcba9876543210fedcba98\r\n";
  s += "master_repl_offset:0\r\nrepl_backlog_size:1048576\r\n\r\n";
  s += "# Cluster\r\ncluster_enabled:0\r\n\r\n";
  s += "# Keyspace\r\n";
  return s;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// One reply; *quit set when the connection should close after it.
std::string Handle(const std::vector<std::string>& argv, bool* authed, bool* quit) {
  if (argv.empty()) return "-ERR empty command\r\n";
  const std::string cmd = Lower(argv[0]);
  if (cmd == "auth") {
    const std::string& given = argv.back();
    if (g_password.empty() || given == g_password) {
      *authed = true;
      return "+OK\r\n";
    }
    return "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
  }
  if (cmd == "quit") {
    *quit = true;
    return "+OK\r\n";
  }
  if (!*authed) return "-NOAUTH Authentication required.\r\n";
  if (cmd == "ping") return argv.size() > 1 ? Bulk(argv[1]) : "+PONG\r\n";
  if (cmd == "echo" && argv.size() == 2) return Bulk(argv[1]);
  if (cmd == "select") return "+OK\r\n";
  if (cmd == "dbsize") return ":0\r\n";
  if (cmd == "info") return Bulk(Info());
  if (cmd == "client" && argv.size() == 3 && Lower(argv[1]) == "setname") return "+OK\r\n";
  if (cmd == "config" && argv.size() == 3 && Lower(argv[1]) == "get") {
    const auto& d = ConfigDefaults();
    auto it = d.find(Lower(argv[2]));
    if (it == d.end()) return "*0\r\n";
    return "*2\r\n" + Bulk(it->first) + Bulk(it->second);
  }
  return "-ERR unknown or unsupported command '" + argv[0] + "' (fake_redis_version)\r\n";
}

// Parses one command from buf (RESP array or inline); returns bytes used, 0 if
// incomplete, -1 on a protocol error.
long Parse(const std::string& buf, std::vector<std::string>* argv) {
  argv->clear();
  if (buf.empty()) return 0;
  if (buf[0] != '*') {
    const size_t eol = buf.find("\r\n");
    if (eol == std::string::npos) return 0;
    size_t i = 0;
    const std::string line = buf.substr(0, eol);
    while (i < line.size()) {
      while (i < line.size() && line[i] == ' ') ++i;
      size_t j = i;
      while (j < line.size() && line[j] != ' ') ++j;
      if (j > i) argv->push_back(line.substr(i, j - i));
      i = j;
    }
    return static_cast<long>(eol + 2);
  }
  size_t pos = buf.find("\r\n");
  if (pos == std::string::npos) return 0;
  const long n = std::atol(buf.c_str() + 1);
  pos += 2;
  for (long k = 0; k < n; ++k) {
    if (pos >= buf.size()) return 0;
    if (buf[pos] != '$') return -1;
    const size_t eol = buf.find("\r\n", pos);
    if (eol == std::string::npos) return 0;
    const long len = std::atol(buf.c_str() + pos + 1);
    if (len < 0) return -1;
    const size_t start = eol + 2;
    if (buf.size() < start + static_cast<size_t>(len) + 2) return 0;
    argv->push_back(buf.substr(start, static_cast<size_t>(len)));
    pos = start + static_cast<size_t>(len) + 2;
  }
  return static_cast<long>(pos);
}

void Serve(int fd) {
  std::string buf;
  char chunk[16 * 1024];
  bool authed = g_password.empty();
  bool quit = false;
  while (!quit) {
    const ssize_t r = recv(fd, chunk, sizeof(chunk), 0);
    if (r <= 0) break;
    buf.append(chunk, static_cast<size_t>(r));
    std::string out;
    std::vector<std::string> argv;
    while (!quit) {
      const long used = Parse(buf, &argv);
      if (used < 0) {
        out += "-ERR Protocol error\r\n";
        quit = true;
        break;
      }
      if (used == 0) break;
      buf.erase(0, static_cast<size_t>(used));
      out += Handle(argv, &authed, &quit);
    }
    if (!out.empty() && send(fd, out.data(), out.size(), MSG_NOSIGNAL) < 0) break;
  }
  close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--version") {
      g_version = argv[i + 1];
    } else if (a == "--port") {
      g_port = std::atoi(argv[i + 1]);
    } else if (a == "--password") {
      g_password = argv[i + 1];
    }
  }
  if (g_version.empty()) {
    std::fprintf(stderr, "usage: fake_redis_version --version X.Y.Z [--port P] [--password PW]\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  const int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(g_port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(lfd, 64) != 0) {
    std::fprintf(stderr, "fake_redis_version: cannot listen: %s\n", std::strerror(errno));
    return 1;
  }
  socklen_t len = sizeof(addr);
  getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  g_port = ntohs(addr.sin_port);
  std::printf("%d\n", g_port);
  std::fflush(stdout);
  while (true) {
    const int cfd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (cfd < 0) continue;
    std::thread(Serve, cfd).detach();
  }
}
