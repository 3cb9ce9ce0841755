// The outcome of one reconcile, as in controller-runtime: done, requeue after a
// delay, a retryable error (rate-limited retry), or a terminal error (recorded,
// not retried). [[nodiscard]] so a phase that asks to wait cannot be dropped.
#pragma once

#include <chrono>
#include <string>

#include "common/status.h"

namespace ruo::runtime {

class [[nodiscard]] Result {
 public:
  enum class Kind { kContinue, kDone, kRequeueAfter, kError, kTerminal };

  // The phase finished its work; the reconciler goes on to the next one.
  static Result Continue() { return Result(Kind::kContinue); }
  // Nothing more to do until something changes (a watch event re-queues).
  static Result Done() { return Result(Kind::kDone); }
  static Result RequeueAfter(std::chrono::milliseconds d, std::string why = {}) {
    Result r(Kind::kRequeueAfter);
    r.delay_ = d;
    r.why_ = std::move(why);
    return r;
  }
  // Retryable: the key is re-queued with per-key exponential backoff.
  static Result Error(Status s) {
    Result r(Kind::kError);
    r.status_ = std::move(s);
    return r;
  }
  // Not retryable (already recorded in the object's status).
  static Result Terminal(Status s) {
    Result r(Kind::kTerminal);
    r.status_ = std::move(s);
    return r;
  }
  // Error or terminal from the status's retry class.
  static Result FromStatus(Status s) {
    return ClassifyForRetry(s) == RetryClass::kTerminal ? Terminal(std::move(s))
                                                        : Error(std::move(s));
  }

  Kind kind() const { return kind_; }
  bool IsContinue() const { return kind_ == Kind::kContinue; }
  std::chrono::milliseconds delay() const { return delay_; }
  const Status& status() const { return status_; }
  const std::string& why() const { return why_; }
  std::string ToString() const;

 private:
  explicit Result(Kind k) : kind_(k) {}
  Kind kind_;
  std::chrono::milliseconds delay_{0};
  Status status_;
  std::string why_;
};

}  // namespace ruo::runtime

// Runs a phase and returns from the enclosing reconcile unless it says Continue.
#define RUO_PHASE(expr)                                            \
  do {                                                             \
    ::ruo::runtime::Result ruo_phase_result_ = (expr);             \
    if (!ruo_phase_result_.IsContinue()) return ruo_phase_result_; \
  } while (0)
