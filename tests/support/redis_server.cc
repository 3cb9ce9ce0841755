#include "support/redis_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "redis/info.h"

namespace ruo::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr auto kStartTimeout = std::chrono::seconds(10);
constexpr auto kStopTimeout = std::chrono::seconds(5);
constexpr int kStartAttempts = 5;

std::string ReadTail(const std::string& path, size_t max_bytes = 2000) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > max_bytes ? s.substr(s.size() - max_bytes) : s;
}

// Resolves the binary in the parent: after fork() only async-signal-safe calls are allowed,
// and execvp's PATH search may allocate.
StatusOr<std::string> ResolveBinary(const RedisServerOptions& opts) {
  std::string name = opts.binary;
  if (name.empty()) {
    const char* env = std::getenv("RUO_REDIS_SERVER");
    name = (env != nullptr && *env != '\0') ? env : "redis-server";
  }
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) != 0) {
      return NotFound("redis-server binary not executable: " + name);
    }
    return name;
  }
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return NotFound("\"" + name + "\" not found on PATH (set RUO_REDIS_SERVER)");
}

bool ChildExited(pid_t pid) {
  siginfo_t info{};
  // WNOWAIT: look without reaping, so Stop() still reaps it.
  if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    return true;  // not our child any more
  }
  return info.si_pid == pid;
}

// Signals the whole process group (redis-server and any BGSAVE child it forked).
void SignalGroup(pid_t pid, int sig) {
  if (::kill(-pid, sig) != 0) ::kill(pid, sig);
}

void Reap(pid_t pid) {
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = -1;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

StatusOr<std::unique_ptr<RedisServer>> RedisServer::Start(const RedisServerOptions& opts) {
  RUO_ASSIGN_OR_RETURN(std::string binary, ResolveBinary(opts));
  Status last;
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    int port = FreePort();
    for (int i = 0; i < 200 && port > opts.max_port; ++i) port = FreePort();
    if (port <= 0 || port > opts.max_port) {
      return Internal(std::string("no free port at or below ") + std::to_string(opts.max_port));
    }

    std::unique_ptr<RedisServer> server(new RedisServer());
    server->endpoint_ = redis::Endpoint{opts.bind, port};
    server->password_ = opts.password;
    std::string tmpl = (std::filesystem::temp_directory_path() / "ruo-redis-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      return Internal(std::string("mkdtemp: ") + std::strerror(errno));
    }
    server->dir_ = tmpl;

    std::vector<std::string> args = {binary,         "--port",    std::to_string(port),
                                     "--bind",       opts.bind,   "--dir",
                                     server->dir_,   "--save",    "",
                                     "--appendonly", "no",        "--daemonize",
                                     "no",           "--logfile", server->dir_ + "/redis.log"};
    if (opts.password.has_value()) {
      args.insert(args.end(), {"--requirepass", *opts.password, "--masterauth", *opts.password});
    }
    args.insert(args.end(), opts.extra_args.begin(), opts.extra_args.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string stdout_path = server->dir_ + "/stdout.log";
    pid_t parent = ::getpid();

    pid_t pid = ::fork();
    if (pid < 0) return Internal(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      // Child: own process group (Stop() signals the group), die with the test
      // process even when it crashes, and inherit none of its sockets.
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      int out = ::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out >= 0) {
        ::dup2(out, STDOUT_FILENO);
        ::dup2(out, STDERR_FILENO);
      }
      int devnull = ::open("/dev/null", O_RDONLY);
      if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
      if (::syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
        for (int fd = 3; fd < 4096; ++fd) ::close(fd);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::setpgid(pid, pid);  // also here, so it holds before Stop() can run
    server->pid_ = pid;

    // Wait until *our* process answers: a PING alone could reach another server
    // that took the port between FreePort() and bind().
    auto dialer = redis::NewHiredisDialer();
    redis::ConnectOptions copts;
    copts.connect_timeout = milliseconds(500);
    copts.command_timeout = milliseconds(2000);
    copts.password = opts.password;
    auto deadline = steady_clock::now() + kStartTimeout;
    enum { kWaiting, kReady, kExited, kPortTaken } state = kWaiting;
    while (state == kWaiting && steady_clock::now() < deadline) {
      if (ChildExited(pid)) {
        std::string log = ReadTail(server->dir_ + "/redis.log") + ReadTail(stdout_path);
        state = log.find("Address already in use") != std::string::npos ? kPortTaken : kExited;
        last = Internal("redis-server " + binary + " exited during start-up: " + log);
        break;
      }
      auto conn = dialer->Dial(server->endpoint_, copts);
      if (conn.ok()) {
        auto reply = (*conn)->Command({"INFO", "server"});
        if (reply.ok() && !reply->IsError()) {
          auto info = redis::ParseInfo(reply->str);
          if (info.ok()) state = info->server.process_id == pid ? kReady : kPortTaken;
        }
      }
      if (state == kWaiting) std::this_thread::sleep_for(milliseconds(20));
    }
    if (state == kReady) return server;
    if (state == kWaiting) {
      last =
          DeadlineExceeded("redis-server on port " + std::to_string(port) +
                           " did not answer within 10 s: " + ReadTail(server->dir_ + "/redis.log"));
    } else if (state == kPortTaken && last.ok()) {
      last = Unavailable("port " + std::to_string(port) + " taken by another process");
    }
    server->Stop();  // kills the child and removes the dir
    if (state != kPortTaken) return last;
    // Another process took the port between FreePort() and bind(): try a new one.
  }
  return last.ok() ? Internal("redis-server did not start") : last;
}

RedisServer::~RedisServer() {
  Stop();
}

bool RedisServer::running() const {
  return pid_ > 0 && !ChildExited(pid_);
}

void RedisServer::Stop() {
  if (pid_ > 0) {
    SignalGroup(pid_, SIGTERM);
    auto deadline = steady_clock::now() + kStopTimeout;
    while (!ChildExited(pid_) && steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    // Hung server, or a BGSAVE child that outlived it. The unreaped leader keeps
    // its id reserved, so the group id cannot name anyone else's processes yet.
    SignalGroup(pid_, SIGKILL);
    Reap(pid_);
    pid_ = -1;
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }
}

void RedisServer::Kill() {
  if (pid_ <= 0) return;
  SignalGroup(pid_, SIGKILL);
  Reap(pid_);
  pid_ = -1;
}

StatusOr<redis::Reply> RedisServer::Command(const std::vector<std::string>& argv) const {
  auto dialer = redis::NewHiredisDialer();
  redis::ConnectOptions opts;
  opts.password = password_;
  RUO_ASSIGN_OR_RETURN(std::unique_ptr<redis::Connection> conn, dialer->Dial(endpoint_, opts));
  return conn->Command(argv);
}

}  // namespace ruo::testing
