#include "metrics/metrics_server.h"

#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <exception>

#include "metrics/bind_address.h"

namespace ruo::metrics {
namespace {

class ExposerServer final : public MetricsServer {
 public:
  ExposerServer(std::unique_ptr<prometheus::Exposer> exposer, int port)
      : exposer_(std::move(exposer)), port_(port) {}
  int port() const override { return port_; }

 private:
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_;
};

}  // namespace

StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& bind_address,
                                                              const OperatorMetrics& metrics) {
  RUO_ASSIGN_OR_RETURN(auto ports, ToListeningPorts(bind_address));
  if (!ports) return InvalidArgument("metrics server is disabled by its bind address");
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    // The exposer's civetweb throws when it cannot bind: turn that into a Status here.
    exposer = std::make_unique<prometheus::Exposer>(*ports, /*num_threads=*/2);
  } catch (const std::exception& e) {
    return Unavailable("metrics server cannot listen on " + bind_address + ": " + e.what(),
                       "BindFailed");
  }
  exposer->RegisterCollectable(metrics.registry());
  auto bound = exposer->GetListeningPorts();
  int port = bound.empty() ? 0 : bound.front();
  return std::unique_ptr<MetricsServer>(std::make_unique<ExposerServer>(std::move(exposer), port));
}

}  // namespace ruo::metrics
