// A scripted HttpTransport for client and watcher tests: records every
// request and answers from queues, or from a handler function.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "k8s/http.h"

namespace ruo::k8s::testing {

// A stream that yields scripted lines, then either ends, fails, or blocks
// until cancelled (to model a quiet, open watch).
class FakeStreamReader final : public StreamReader {
 public:
  enum class End { kEof, kError, kBlock };
  FakeStreamReader(int status, std::vector<std::string> lines, End end = End::kEof,
                   Status error = Unavailable("connection reset"))
      : status_(status), lines_(lines.begin(), lines.end()), end_(end), error_(std::move(error)) {}

  int status() const override { return status_; }
  const std::map<std::string, std::string>& headers() const override { return headers_; }

  StatusOr<std::optional<std::string>> ReadLine() override {
    std::unique_lock<std::mutex> lock(mu_);
    if (cancelled_) return Cancelled("cancelled");
    if (!lines_.empty()) {
      std::string line = std::move(lines_.front());
      lines_.pop_front();
      return std::optional<std::string>(std::move(line));
    }
    switch (end_) {
      case End::kEof:
        return std::optional<std::string>();
      case End::kError:
        return error_;
      case End::kBlock:
        cv_.wait(lock, [this] { return cancelled_; });
        return Cancelled("cancelled");
    }
    return std::optional<std::string>();
  }

  void Cancel() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;
  int status_;
  std::map<std::string, std::string> headers_;
  std::deque<std::string> lines_;
  End end_;
  Status error_;
};

// Forwards to a reader and cancels it when the token fires, as the real
// transport does.
class TokenBoundReader final : public StreamReader {
 public:
  TokenBoundReader(std::unique_ptr<StreamReader> inner, CancelTokenPtr cancel)
      : inner_(std::move(inner)), cancel_(std::move(cancel)) {
    std::weak_ptr<StreamReader> weak = inner_;
    id_ = cancel_->OnCancel([weak] {
      if (auto r = weak.lock()) r->Cancel();
    });
  }
  ~TokenBoundReader() override { cancel_->Unregister(id_); }
  int status() const override { return inner_->status(); }
  const std::map<std::string, std::string>& headers() const override { return inner_->headers(); }
  StatusOr<std::optional<std::string>> ReadLine() override { return inner_->ReadLine(); }
  void Cancel() override { inner_->Cancel(); }

 private:
  std::shared_ptr<StreamReader> inner_;
  CancelTokenPtr cancel_;
  uint64_t id_ = 0;
};

struct FakeState {
  std::mutex mu;
  std::vector<HttpRequest> requests;
  std::deque<StatusOr<HttpResponse>> responses;
  std::deque<std::function<StatusOr<std::unique_ptr<StreamReader>>()>> streams;
};

class FakeTransport final : public HttpTransport {
 public:
  explicit FakeTransport(std::shared_ptr<FakeState> state) : state_(std::move(state)) {}

  StatusOr<HttpResponse> Send(const HttpRequest& request, std::chrono::milliseconds,
                              const CancelTokenPtr&) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->requests.push_back(request);
    if (state_->responses.empty()) return Internal("fake transport: no response queued");
    auto r = std::move(state_->responses.front());
    state_->responses.pop_front();
    return r;
  }

  StatusOr<std::unique_ptr<StreamReader>> Stream(const HttpRequest& request,
                                                 std::chrono::milliseconds,
                                                 const CancelTokenPtr& cancel) override {
    std::function<StatusOr<std::unique_ptr<StreamReader>>()> make;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->requests.push_back(request);
      if (state_->streams.empty()) {
        // Nothing scripted: an open watch that stays quiet until cancelled.
        make = [] {
          return StatusOr<std::unique_ptr<StreamReader>>(
              std::unique_ptr<StreamReader>(std::make_unique<FakeStreamReader>(
                  200, std::vector<std::string>{}, FakeStreamReader::End::kBlock)));
        };
      } else {
        make = std::move(state_->streams.front());
        state_->streams.pop_front();
      }
    }
    auto reader = make();
    if (!reader.ok() || !cancel) return reader;
    return std::unique_ptr<StreamReader>(
        std::make_unique<TokenBoundReader>(std::move(reader).value(), cancel));
  }

 private:
  std::shared_ptr<FakeState> state_;
};

inline HttpResponse Json(int status, const std::string& body) {
  HttpResponse r;
  r.status = status;
  r.headers["content-type"] = "application/json";
  r.body = body;
  return r;
}

inline std::function<StatusOr<std::unique_ptr<StreamReader>>()> Lines(
    std::vector<std::string> lines, FakeStreamReader::End end = FakeStreamReader::End::kEof,
    int status = 200, Status error = Unavailable("connection reset")) {
  return [=]() {
    return StatusOr<std::unique_ptr<StreamReader>>(std::unique_ptr<StreamReader>(
        std::make_unique<FakeStreamReader>(status, lines, end, error)));
  };
}

}  // namespace ruo::k8s::testing
