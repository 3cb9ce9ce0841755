// The only file that includes cpprestsdk. Rules kept here:
//  - every pplx task gets a task-based continuation that calls get() inside
//    try/catch, because an unobserved task exception terminates the process;
//  - the response body's completion event is observed too (content_ready),
//    for the same reason, even when we stop reading early;
//  - we never block on a task without a bound: waits go through Await(),
//    which also returns at once on cancellation (and then aborts the request
//    through its pplx::cancellation_token_source, which closes the socket).
#include "k8s/cpprest_transport.h"

#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pplx/threadpool.h>

#include <algorithm>
#include <boost/asio/ssl.hpp>
#include <cctype>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <system_error>

namespace ruo::k8s {
namespace {

namespace http = web::http;
namespace client = web::http::client;
using Clock = std::chrono::steady_clock;

// The cpprest idle timeout is only a backstop: our own waits enforce the
// caller's deadlines and cancel the request when they expire.
constexpr std::chrono::hours kBackstopTimeout{2};

// Wakes a waiting caller when a task finishes or the request is cancelled.
struct Waiter {
  std::mutex mu;
  std::condition_variable cv;
  bool cancelled = false;
};

template <typename T>
struct Slot {
  bool done = false;
  std::optional<T> value;
  std::exception_ptr error;
};

enum class WaitResult { kDone, kCancelled, kTimedOut };

// Attaches an observing continuation to `task` and waits for it, for
// cancellation, or until `deadline`. The continuation owns everything it
// touches, so returning early is safe.
template <typename T>
WaitResult Await(const std::shared_ptr<Waiter>& waiter, pplx::task<T> task,
                 Clock::time_point deadline, Slot<T>& out) {
  auto slot = std::make_shared<Slot<T>>();
  task.then([waiter, slot](pplx::task<T> t) {
    std::optional<T> value;
    std::exception_ptr error;
    try {
      value.emplace(t.get());
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(waiter->mu);
      slot->value = std::move(value);
      slot->error = error;
      slot->done = true;
    }
    waiter->cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(waiter->mu);
  waiter->cv.wait_until(lock, deadline, [&] { return slot->done || waiter->cancelled; });
  if (slot->done) {
    out = std::move(*slot);
    return WaitResult::kDone;
  }
  return waiter->cancelled ? WaitResult::kCancelled : WaitResult::kTimedOut;
}

Status StatusFromException(const std::exception_ptr& error, std::string_view what) {
  try {
    std::rethrow_exception(error);
  } catch (const http::http_exception& e) {
    if (e.error_code() == std::errc::timed_out) {
      return DeadlineExceeded(std::string(what) + ": " + e.what(), "Timeout");
    }
    if (e.error_code() == std::errc::operation_canceled) {
      return Cancelled(std::string(what) + ": cancelled");
    }
    return Unavailable(std::string(what) + ": " + e.what(), "ConnectionError");
  } catch (const pplx::task_canceled&) {
    return Cancelled(std::string(what) + ": cancelled");
  } catch (const std::exception& e) {
    return Unavailable(std::string(what) + ": " + e.what(), "ConnectionError");
  } catch (...) {
    return Unavailable(std::string(what) + ": unknown error", "ConnectionError");
  }
}

std::map<std::string, std::string> LowerCaseHeaders(const http::http_headers& headers) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : headers) {
    std::string key = name;
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out[key] = value;
  }
  return out;
}

struct TlsMaterial {
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
};

// Throws boost::system::system_error on bad PEM data (caught by callers).
void ConfigureTls(boost::asio::ssl::context& ctx, const TlsMaterial& tls) {
  if (!tls.ca_pem.empty()) {
    // Trust only the cluster's CA, not the system roots cpprest loaded.
    X509_STORE* store = X509_STORE_new();
    if (store == nullptr) throw std::bad_alloc();
    SSL_CTX_set_cert_store(ctx.native_handle(), store);  // takes ownership
    ctx.add_certificate_authority(boost::asio::buffer(tls.ca_pem));
  }
  if (!tls.cert_pem.empty()) {
    ctx.use_certificate_chain(boost::asio::buffer(tls.cert_pem));
    ctx.use_private_key(boost::asio::buffer(tls.key_pem), boost::asio::ssl::context::pem);
  }
}

// Makes a request cancellable from our CancelToken and from Cancel().
class RequestControl {
 public:
  explicit RequestControl(CancelTokenPtr cancel)
      : waiter_(std::make_shared<Waiter>()),
        cts_(std::make_shared<pplx::cancellation_token_source>()),
        cancel_(std::move(cancel)) {
    if (cancel_) {
      // Captures shared state by value: the callback may run on another
      // thread while this object is being destroyed.
      auto waiter = waiter_;
      auto cts = cts_;
      cancel_id_ = cancel_->OnCancel([waiter, cts] { Abort(waiter, cts); });
    }
  }
  ~RequestControl() {
    if (cancel_) cancel_->Unregister(cancel_id_);
  }
  RequestControl(const RequestControl&) = delete;
  RequestControl& operator=(const RequestControl&) = delete;

  void Cancel() { Abort(waiter_, cts_); }
  // Tears the connection down without marking the wait as cancelled.
  void CloseConnection() { cts_->cancel(); }
  bool cancelled() {
    std::lock_guard<std::mutex> lock(waiter_->mu);
    return waiter_->cancelled;
  }
  const std::shared_ptr<Waiter>& waiter() const { return waiter_; }
  pplx::cancellation_token token() const { return cts_->get_token(); }

 private:
  static void Abort(const std::shared_ptr<Waiter>& waiter,
                    const std::shared_ptr<pplx::cancellation_token_source>& cts) {
    {
      std::lock_guard<std::mutex> lock(waiter->mu);
      waiter->cancelled = true;
    }
    waiter->cv.notify_all();
    cts->cancel();
  }

  std::shared_ptr<Waiter> waiter_;
  std::shared_ptr<pplx::cancellation_token_source> cts_;
  CancelTokenPtr cancel_;
  uint64_t cancel_id_ = 0;
};

// Sends `request` and returns once the headers arrived. The body's completion
// is always observed, whatever the caller does next.
StatusOr<http::http_response> StartRequest(client::http_client& http_client,
                                           http::http_request request, RequestControl& control,
                                           Clock::time_point deadline) {
  pplx::task<http::http_response> task;
  try {
    task = http_client.request(request, control.token()).then([](http::http_response response) {
      response.content_ready().then([](pplx::task<http::http_response> t) {
        try {
          t.wait();
        } catch (...) {
          // The reader reports body errors; this only marks them observed.
        }
      });
      return response;
    });
  } catch (...) {
    return StatusFromException(std::current_exception(), "sending request");
  }
  Slot<http::http_response> slot;
  switch (Await(control.waiter(), task, deadline, slot)) {
    case WaitResult::kCancelled:
      return Cancelled("request cancelled");
    case WaitResult::kTimedOut:
      control.CloseConnection();
      return DeadlineExceeded("no response from the API server in time", "Timeout");
    case WaitResult::kDone:
      break;
  }
  if (slot.error) {
    if (control.cancelled()) return Cancelled("request cancelled");
    return StatusFromException(slot.error, "request");
  }
  return std::move(*slot.value);
}

class CppRestStreamReader final : public StreamReader {
 public:
  CppRestStreamReader(http::http_response response, std::unique_ptr<RequestControl> control,
                      std::chrono::milliseconds idle_timeout)
      : response_(std::move(response)),
        headers_(LowerCaseHeaders(response_.headers())),
        control_(std::move(control)),
        idle_timeout_(idle_timeout) {}

  ~CppRestStreamReader() override {
    // Closes the connection if the body is still streaming.
    control_->CloseConnection();
  }

  int status() const override { return response_.status_code(); }
  const std::map<std::string, std::string>& headers() const override { return headers_; }

  StatusOr<std::optional<std::string>> ReadLine() override {
    if (finished_) return *finished_;
    if (control_->cancelled()) return Finish(Cancelled("stream cancelled"));
    auto buffer = std::make_shared<concurrency::streams::container_buffer<std::string>>();
    concurrency::streams::istream body = response_.body();
    pplx::task<Line> task;
    try {
      task = body.read_line(*buffer).then([buffer, body](size_t n) {
        return Line{std::move(buffer->collection()), n == 0 && body.is_eof()};
      });
    } catch (...) {
      return Finish(StatusFromException(std::current_exception(), "reading stream"));
    }
    Slot<Line> slot;
    switch (Await(control_->waiter(), task, Clock::now() + idle_timeout_, slot)) {
      case WaitResult::kCancelled:
        return Finish(Cancelled("stream cancelled"));
      case WaitResult::kTimedOut:
        control_->CloseConnection();
        return Finish(DeadlineExceeded("stream idle for too long", "Timeout"));
      case WaitResult::kDone:
        break;
    }
    if (slot.error) {
      if (control_->cancelled()) return Finish(Cancelled("stream cancelled"));
      return Finish(StatusFromException(slot.error, "reading stream"));
    }
    if (slot.value->eof) return Finish(std::optional<std::string>());
    return std::optional<std::string>(std::move(slot.value->text));
  }

  void Cancel() override { control_->Cancel(); }

 private:
  struct Line {
    std::string text;
    bool eof = false;
  };

  // Every later ReadLine() repeats a terminal result.
  StatusOr<std::optional<std::string>> Finish(StatusOr<std::optional<std::string>> result) {
    finished_.emplace(result);
    return result;
  }

  http::http_response response_;
  std::map<std::string, std::string> headers_;
  std::unique_ptr<RequestControl> control_;
  const std::chrono::milliseconds idle_timeout_;
  std::optional<StatusOr<std::optional<std::string>>> finished_;
};

class CppRestTransport final : public HttpTransport {
 public:
  CppRestTransport(std::unique_ptr<client::http_client> http_client,
                   std::shared_ptr<TokenSource> token_source, std::string user_agent)
      : http_client_(std::move(http_client)),
        token_source_(std::move(token_source)),
        user_agent_(std::move(user_agent)) {}

  StatusOr<HttpResponse> Send(const HttpRequest& request, std::chrono::milliseconds timeout,
                              const CancelTokenPtr& cancel) override {
    auto deadline = Clock::now() + timeout;
    for (int attempt = 0;; ++attempt) {
      std::string token;
      auto result = SendOnce(request, deadline, cancel, &token);
      if (!RetryWithFreshToken(result.ok() ? result->status : 0, token, attempt)) return result;
    }
  }

  StatusOr<std::unique_ptr<StreamReader>> Stream(const HttpRequest& request,
                                                 std::chrono::milliseconds idle_timeout,
                                                 const CancelTokenPtr& cancel) override {
    for (int attempt = 0;; ++attempt) {
      std::string token;
      auto control = std::make_unique<RequestControl>(cancel);
      RUO_ASSIGN_OR_RETURN(http::http_request req, Build(request, &token));
      RUO_ASSIGN_OR_RETURN(
          http::http_response response,
          StartRequest(*http_client_, std::move(req), *control, Clock::now() + idle_timeout));
      if (RetryWithFreshToken(response.status_code(), token, attempt)) continue;
      return std::unique_ptr<StreamReader>(std::make_unique<CppRestStreamReader>(
          std::move(response), std::move(control), idle_timeout));
    }
  }

 private:
  // A 401 may mean the token rotated under us: re-read it once and retry if
  // it changed.
  bool RetryWithFreshToken(int http_status, const std::string& used_token, int attempt) {
    if (http_status != 401 || attempt > 0 || !token_source_) return false;
    token_source_->Invalidate();
    auto fresh = token_source_->Token();
    return fresh.ok() && *fresh != used_token;
  }

  StatusOr<http::http_request> Build(const HttpRequest& request, std::string* token) {
    if (token_source_) {
      RUO_ASSIGN_OR_RETURN(*token, token_source_->Token());
    }
    // cpprest validates the method and URI by throwing.
    try {
      http::http_request req{http::method(request.method)};
      req.set_request_uri(web::uri(request.path));
      std::string content_type = "application/json";
      for (const auto& [name, value] : request.headers) {
        if (std::equal(name.begin(), name.end(), std::string_view("content-type").begin(),
                       std::string_view("content-type").end(),
                       [](char a, char b) { return std::tolower(a) == b; })) {
          content_type = value;
        } else {
          req.headers().add(name, value);
        }
      }
      if (!token->empty()) req.headers().add("Authorization", "Bearer " + *token);
      req.headers().add("User-Agent", user_agent_);
      if (!request.body.empty()) req.set_body(request.body, content_type);
      return req;
    } catch (const std::exception& e) {
      return InvalidArgument(std::string("bad request ") + request.method + " " + request.path +
                             ": " + e.what());
    }
  }

  StatusOr<HttpResponse> SendOnce(const HttpRequest& request, Clock::time_point deadline,
                                  const CancelTokenPtr& cancel, std::string* token) {
    RequestControl control(cancel);
    RUO_ASSIGN_OR_RETURN(http::http_request req, Build(request, token));
    RUO_ASSIGN_OR_RETURN(http::http_response response,
                         StartRequest(*http_client_, std::move(req), control, deadline));
    HttpResponse out;
    out.status = response.status_code();
    out.headers = LowerCaseHeaders(response.headers());
    pplx::task<std::vector<unsigned char>> body_task;
    try {
      body_task = response.extract_vector();
    } catch (...) {
      return StatusFromException(std::current_exception(), "reading response");
    }
    Slot<std::vector<unsigned char>> slot;
    switch (Await(control.waiter(), body_task, deadline, slot)) {
      case WaitResult::kCancelled:
        return Cancelled("request cancelled");
      case WaitResult::kTimedOut:
        control.CloseConnection();
        return DeadlineExceeded("response body not received in time", "Timeout");
      case WaitResult::kDone:
        break;
    }
    if (slot.error) return StatusFromException(slot.error, "reading response");
    out.body.assign(slot.value->begin(), slot.value->end());
    return out;
  }

  std::unique_ptr<client::http_client> http_client_;
  std::shared_ptr<TokenSource> token_source_;
  const std::string user_agent_;
};

}  // namespace

Status InitCppRestThreadPool(size_t threads) {
  if (threads == 0) return InvalidArgument("the HTTP thread pool needs at least one thread");
  try {
    crossplat::threadpool::initialize_with_threads(threads);
  } catch (const std::exception& e) {
    return FailedPrecondition(std::string("cannot size the HTTP thread pool: ") + e.what(),
                              "ThreadPoolInitialized");
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<HttpTransport>> NewCppRestTransport(const RestConfig& config) {
  if (config.server.rfind("https://", 0) != 0 && config.server.rfind("http://", 0) != 0) {
    return InvalidArgument("server URL must start with https:// or http://: " + config.server);
  }
  if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
    return InvalidArgument("a client certificate needs its key and vice versa");
  }
  TlsMaterial tls{config.ca_pem, config.client_cert_pem, config.client_key_pem};
  // Check the PEM data now: inside cpprest a failure would only show up as an
  // opaque error on every request.
  try {
    boost::asio::ssl::context probe(boost::asio::ssl::context::sslv23);
    ConfigureTls(probe, tls);
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("unusable TLS credentials: ") + e.what());
  }
  try {
    client::http_client_config http_config;
    http_config.set_timeout(std::chrono::duration_cast<std::chrono::seconds>(kBackstopTimeout));
    http_config.set_validate_certificates(true);
    // Proxies from the environment are deliberately not used.
    http_config.set_proxy(web::web_proxy(web::web_proxy::disabled));
    http_config.set_ssl_context_callback(
        [tls](boost::asio::ssl::context& ctx) { ConfigureTls(ctx, tls); });
    auto http_client = std::make_unique<client::http_client>(web::uri(config.server), http_config);
    return std::unique_ptr<HttpTransport>(std::make_unique<CppRestTransport>(
        std::move(http_client), config.token_source, config.user_agent));
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("cannot create HTTP client for ") + config.server + ": " +
                           e.what());
  }
}

}  // namespace ruo::k8s
