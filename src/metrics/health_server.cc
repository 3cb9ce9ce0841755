#include "metrics/health_server.h"

#include <civetweb.h>

#include <string>

#include "common/log.h"
#include "metrics/bind_address.h"

namespace ruo::metrics {
namespace {

// civetweb's C API rather than its C++ wrapper: no exceptions to translate,
// and the same library prometheus-cpp's exposer already loads.
class CivetHealthServer final : public HealthServer {
 public:
  explicit CivetHealthServer(HealthChecks checks) : checks_(std::move(checks)) {
    mg_init_library(0);
  }
  ~CivetHealthServer() override {
    if (ctx_ != nullptr) mg_stop(ctx_);
    mg_exit_library();
  }

  Status Listen(const std::string& ports) {
    const char* options[] = {"listening_ports",    ports.c_str(), "num_threads", "2",
                             "request_timeout_ms", "5000",        nullptr};
    mg_callbacks callbacks{};
    // civetweb prints bind errors to stderr by default; route them to our log.
    callbacks.log_message = [](const mg_connection*, const char* message) {
      spdlog::debug("health server: {}", message);
      return 1;
    };
    ctx_ = mg_start(&callbacks, this, options);
    if (ctx_ == nullptr) {
      return Unavailable("health server cannot listen on " + ports, "BindFailed");
    }
    mg_set_request_handler(ctx_, "/healthz", &CivetHealthServer::HandleHealthz, this);
    mg_set_request_handler(ctx_, "/readyz", &CivetHealthServer::HandleReadyz, this);
    mg_server_port bound[4];
    int n = mg_get_server_ports(ctx_, 4, bound);
    port_ = n > 0 ? bound[0].port : 0;
    return Status::Ok();
  }

  int port() const override { return port_; }

 private:
  static int HandleHealthz(mg_connection* conn, void* self) {
    return Reply(conn, static_cast<CivetHealthServer*>(self)->checks_.healthz);
  }
  static int HandleReadyz(mg_connection* conn, void* self) {
    return Reply(conn, static_cast<CivetHealthServer*>(self)->checks_.readyz);
  }

  static int Reply(mg_connection* conn, const std::function<Status()>& check) {
    Status s = check ? check() : Status::Ok();
    int code = s.ok() ? 200 : 500;
    std::string body = s.ok() ? "ok\n" : s.message() + "\n";
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
              "Content-Length: %zu\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
              code, s.ok() ? "OK" : "Internal Server Error", body.size());
    mg_write(conn, body.data(), body.size());
    return code;
  }

  HealthChecks checks_;
  mg_context* ctx_ = nullptr;
  int port_ = 0;
};

}  // namespace

StatusOr<std::unique_ptr<HealthServer>> HealthServer::Start(const std::string& bind_address,
                                                            HealthChecks checks) {
  RUO_ASSIGN_OR_RETURN(auto ports, ToListeningPorts(bind_address));
  if (!ports) return InvalidArgument("health server is disabled by its bind address");
  auto server = std::make_unique<CivetHealthServer>(std::move(checks));
  RUO_RETURN_IF_ERROR(server->Listen(*ports));
  return std::unique_ptr<HealthServer>(std::move(server));
}

}  // namespace ruo::metrics
