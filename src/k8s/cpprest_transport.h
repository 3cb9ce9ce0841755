// The HttpTransport over cpprestsdk. Only cpprest_transport.cc includes
// cpprestsdk headers; everything else sees the HttpTransport interface.
#pragma once

#include <memory>

#include "common/status.h"
#include "k8s/config.h"
#include "k8s/http.h"

namespace ruo::k8s {

// TLS with the config's CA (which then replaces the system roots, as
// client-go does) and client certificate; the bearer token is fetched from
// the config's TokenSource on every request and re-fetched once on a 401.
// Fails with kInvalidArgument when the server URL or the PEM data is unusable.
StatusOr<std::unique_ptr<HttpTransport>> NewCppRestTransport(const RestConfig& config);

// Sizes cpprestsdk's shared thread pool, which runs its socket I/O and every
// task continuation: 40 threads by default on Linux, far more than a handful
// of watches and requests need, and each thread costs a stack and (with
// glibc) a malloc arena. Call once, before the first request; fails with
// kFailedPrecondition once the pool exists.
Status InitCppRestThreadPool(size_t threads);

}  // namespace ruo::k8s
