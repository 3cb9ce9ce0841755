// /healthz (liveness) and /readyz (readiness) for the kubelet's probes, on a
// port of their own (controller-runtime's --health-probe-bind-address).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/status.h"

namespace ruo::metrics {

struct HealthChecks {
  // OK → 200 "ok"; an error → 500 with its message. Called on the server's
  // threads, so they must be thread-safe and quick. Null counts as OK.
  std::function<Status()> healthz;
  std::function<Status()> readyz;
};

class HealthServer {
 public:
  static StatusOr<std::unique_ptr<HealthServer>> Start(const std::string& bind_address,
                                                       HealthChecks checks);
  virtual ~HealthServer() = default;
  virtual int port() const = 0;
};

}  // namespace ruo::metrics
