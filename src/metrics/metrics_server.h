// Serves /metrics over HTTP (prometheus-cpp's Exposer).
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "metrics/operator_metrics.h"

namespace ruo::metrics {

class MetricsServer {
 public:
  // Listens on `bind_address` (see bind_address.h; "0" is rejected here: the
  // caller skips the server instead). `metrics` must outlive the server.
  static StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& bind_address,
                                                        const OperatorMetrics& metrics);
  virtual ~MetricsServer() = default;
  // The port actually bound (useful with port 0).
  virtual int port() const = 0;
};

}  // namespace ruo::metrics
