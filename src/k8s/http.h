// The HTTP layer under the Kubernetes client: plain request/response values, a
// cancellation token, and the transport interface. The only implementation
// talking to the network lives in cpprest_transport.cc so the third-party HTTP
// library stays behind this file; tests plug in a fake transport.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace ruo::k8s {

// A one-shot cancellation flag shared between the thread that waits and the
// thread that stops it. Shared ownership because both sides (and callbacks
// registered by transports) must outlive whichever finishes first.
class CancelToken {
 public:
  static std::shared_ptr<CancelToken> Create() { return std::make_shared<CancelToken>(); }

  // Idempotent. Runs the registered callbacks once, on the calling thread.
  void Cancel();
  bool cancelled() const;

  // Runs `fn` when Cancel() is called (at once if already cancelled). The id
  // serves Unregister, which a callback owner must call before it dies.
  uint64_t OnCancel(std::function<void()> fn);
  void Unregister(uint64_t id);

  // Sleeps up to `d`; returns false when cancelled (before or during).
  bool SleepFor(std::chrono::milliseconds d);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::function<void()>> callbacks_;
};

using CancelTokenPtr = std::shared_ptr<CancelToken>;

struct HttpRequest {
  std::string method = "GET";
  std::string path;  // absolute path plus query, already URL-encoded: "/api/v1/pods?limit=5"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  // Empty when absent. `name` is matched case-insensitively.
  std::string Header(std::string_view name) const;
};

// A response whose body is read incrementally, line by line (newline-delimited
// JSON, as a Kubernetes watch sends it).
class StreamReader {
 public:
  virtual ~StreamReader() = default;

  virtual int status() const = 0;
  virtual const std::map<std::string, std::string>& headers() const = 0;

  // The next line without its newline; std::nullopt at the clean end of the
  // body. Errors: kCancelled after Cancel(), kDeadlineExceeded when nothing
  // arrived within the idle timeout, kUnavailable when the connection broke.
  virtual StatusOr<std::optional<std::string>> ReadLine() = 0;

  // Thread-safe; makes a blocked ReadLine() return kCancelled promptly.
  virtual void Cancel() = 0;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;

  // One request, the whole body buffered. `timeout` bounds the whole exchange;
  // `cancel` (may be null) aborts it. Any HTTP status is a successful result;
  // only transport failures are errors (kUnavailable, kDeadlineExceeded,
  // kCancelled).
  virtual StatusOr<HttpResponse> Send(const HttpRequest& request, std::chrono::milliseconds timeout,
                                      const CancelTokenPtr& cancel) = 0;

  // Starts a request whose body is consumed through the returned reader, which
  // is returned as soon as the headers arrive (check status()). `idle_timeout`
  // bounds the silence between two pieces of the body. `cancel` (may be null)
  // cancels the reader as StreamReader::Cancel() does.
  virtual StatusOr<std::unique_ptr<StreamReader>> Stream(const HttpRequest& request,
                                                         std::chrono::milliseconds idle_timeout,
                                                         const CancelTokenPtr& cancel) = 0;
};

// URL encoding (RFC 3986): everything but unreserved characters is escaped.
std::string UrlEncode(std::string_view s);

// "?k1=v1&k2=v2" with values encoded, skipping empty values; "" when nothing remains.
std::string QueryString(const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace ruo::k8s
