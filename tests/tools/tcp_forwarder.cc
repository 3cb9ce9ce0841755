// tcp_forwarder: a stand-in for a Service VIP in migrate tests and benchmarks.
//
// Listens on 127.0.0.1:<port> and forwards each new connection to the backend
// named in --backend-file ("host:port"), re-read on every new connection.
// Established connections stay on the backend they were opened to, like
// kube-proxy after a Service selector change. While --pause-file exists, no
// bytes are forwarded in either direction (a stalled network path).
// --delay-ms N holds every chunk coming back from the backend for N ms (a slow
// replication link: a replica behind it is always ~N ms behind its master).
//
// Prints the listening port on stdout, then runs until SIGTERM/SIGINT.
// No dependencies beyond POSIX and pthreads.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace {

std::string g_backend_file;
std::string g_pause_file;
std::chrono::milliseconds g_delay{0};

bool Paused() {
  return !g_pause_file.empty() && access(g_pause_file.c_str(), F_OK) == 0;
}

void Usage() {
  std::fprintf(stderr,
               "usage: tcp_forwarder --backend-file F [--listen-port P] [--port-file F] "
               "[--pause-file F] [--delay-ms N]\n");
  std::exit(2);
}

bool ReadBackend(std::string* host, std::string* port) {
  std::ifstream in(g_backend_file);
  std::string line;
  if (!in || !std::getline(in, line)) return false;
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ')) {
    line.pop_back();
  }
  const size_t colon = line.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = line.substr(0, colon);
  *port = line.substr(colon + 1);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return true;
}

int DialBackend() {
  std::string host, port;
  if (!ReadBackend(&host, &port)) {
    std::fprintf(stderr, "tcp_forwarder: cannot read a host:port from %s\n",
                 g_backend_file.c_str());
    return -1;
  }
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0) return -1;
  int fd = -1;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Copies bytes both ways until either side closes, then closes both.
void Pump(int client, int backend) {
  using Clock = std::chrono::steady_clock;
  struct Chunk {
    Clock::time_point due;
    std::string data;
  };
  std::deque<Chunk> delayed;  // backend → client, held for g_delay
  char buf[64 * 1024];
  pollfd fds[2] = {{client, POLLIN, 0}, {backend, POLLIN, 0}};
  bool open = true;
  while (open) {
    if (Paused()) {
      usleep(2000);
      continue;
    }
    int timeout_ms = g_pause_file.empty() ? -1 : 5;
    if (!delayed.empty()) {
      const auto wait =
          std::chrono::duration_cast<std::chrono::milliseconds>(delayed.front().due - Clock::now())
              .count() +
          1;
      const int w = static_cast<int>(std::max<int64_t>(0, wait));
      timeout_ms = timeout_ms < 0 ? w : std::min(timeout_ms, w);
    }
    const int n = poll(fds, 2, timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2 && open && n > 0; ++i) {
      if (fds[i].revents == 0) continue;
      const ssize_t r = recv(fds[i].fd, buf, sizeof(buf), 0);
      if (r <= 0) {
        if (r < 0 && errno == EINTR) continue;
        open = false;
        break;
      }
      if (i == 1 && g_delay.count() > 0) {
        delayed.push_back({Clock::now() + g_delay, std::string(buf, static_cast<size_t>(r))});
      } else if (!WriteAll(fds[1 - i].fd, buf, static_cast<size_t>(r))) {
        open = false;
      }
    }
    const auto now = Clock::now();
    while (open && !delayed.empty() && delayed.front().due <= now) {
      if (!WriteAll(client, delayed.front().data.data(), delayed.front().data.size())) {
        open = false;
      }
      delayed.pop_front();
    }
  }
  shutdown(client, SHUT_RDWR);
  shutdown(backend, SHUT_RDWR);
  close(client);
  close(backend);
}

void SetNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace

int main(int argc, char** argv) {
  int listen_port = 0;
  std::string port_file;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) Usage();
    if (a == "--backend-file") {
      g_backend_file = argv[++i];
    } else if (a == "--listen-port") {
      listen_port = std::atoi(argv[++i]);
    } else if (a == "--port-file") {
      port_file = argv[++i];
    } else if (a == "--pause-file") {
      g_pause_file = argv[++i];
    } else if (a == "--delay-ms") {
      g_delay = std::chrono::milliseconds(std::atoi(argv[++i]));
    } else {
      Usage();
    }
  }
  if (g_backend_file.empty()) Usage();
  signal(SIGPIPE, SIG_IGN);

  const int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(listen_port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(lfd, 512) != 0) {
    std::fprintf(stderr, "tcp_forwarder: cannot listen on 127.0.0.1:%d: %s\n", listen_port,
                 std::strerror(errno));
    return 1;
  }
  socklen_t len = sizeof(addr);
  getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  if (!port_file.empty()) {
    // Written to a temp name and renamed, so a reader never sees half a number.
    const std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << port << "\n";
    std::rename(tmp.c_str(), port_file.c_str());
  }
  std::printf("%d\n", port);
  std::fflush(stdout);

  while (true) {
    const int cfd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (cfd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      std::fprintf(stderr, "tcp_forwarder: accept: %s\n", std::strerror(errno));
      return 1;
    }
    const int bfd = DialBackend();
    if (bfd < 0) {
      close(cfd);  // the client sees a closed connection, like a VIP with no endpoint
      continue;
    }
    SetNoDelay(cfd);
    SetNoDelay(bfd);
    std::thread(Pump, cfd, bfd).detach();
  }
}
