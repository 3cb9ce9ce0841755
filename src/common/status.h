// Status / StatusOr: errors as values, with a retry taxonomy.
//
// Exceptions are caught only at library edges (hiredis, cpprestsdk, JSON/YAML
// parsing) and turned into a Status there.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ruo {

enum class StatusCode {
  kOk = 0,
  kCancelled,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,  // the request cannot succeed as things are: terminal
  kAborted,             // conflict (optimistic lock lost): re-read and retry
  kUnavailable,         // transient: back off and retry
  kDeadlineExceeded,
  kPermissionDenied,
  kUnauthenticated,
  kResourceExhausted,
  kInternal,
  kUnimplemented,
};

std::string_view StatusCodeName(StatusCode code);

// What a caller should do with a failed operation.
enum class RetryClass {
  kNone,      // success
  kBackoff,   // transient: retry with exponential backoff
  kReread,    // conflict: re-read the object and retry at once
  kTerminal,  // will not succeed by retrying: record and stop
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  // `reason` is a short CamelCase machine-readable word (Kubernetes condition
  // style, e.g. "DowngradeRefused"); optional.
  Status(StatusCode code, std::string message, std::string reason = {})
      : code_(code), message_(std::move(message)), reason_(std::move(reason)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& reason() const { return reason_; }

  // Prefixes the message with context, keeping code and reason.
  Status Annotate(std::string_view context) const;
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_ && a.reason_ == b.reason_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string reason_;
};

RetryClass ClassifyForRetry(const Status& s);

inline Status InvalidArgument(std::string m, std::string r = {}) {
  return {StatusCode::kInvalidArgument, std::move(m), std::move(r)};
}
inline Status NotFound(std::string m, std::string r = {}) {
  return {StatusCode::kNotFound, std::move(m), std::move(r)};
}
inline Status AlreadyExists(std::string m, std::string r = {}) {
  return {StatusCode::kAlreadyExists, std::move(m), std::move(r)};
}
inline Status FailedPrecondition(std::string m, std::string r = {}) {
  return {StatusCode::kFailedPrecondition, std::move(m), std::move(r)};
}
inline Status Aborted(std::string m, std::string r = {}) {
  return {StatusCode::kAborted, std::move(m), std::move(r)};
}
inline Status Unavailable(std::string m, std::string r = {}) {
  return {StatusCode::kUnavailable, std::move(m), std::move(r)};
}
inline Status DeadlineExceeded(std::string m, std::string r = {}) {
  return {StatusCode::kDeadlineExceeded, std::move(m), std::move(r)};
}
inline Status PermissionDenied(std::string m, std::string r = {}) {
  return {StatusCode::kPermissionDenied, std::move(m), std::move(r)};
}
inline Status Unauthenticated(std::string m, std::string r = {}) {
  return {StatusCode::kUnauthenticated, std::move(m), std::move(r)};
}
inline Status Internal(std::string m, std::string r = {}) {
  return {StatusCode::kInternal, std::move(m), std::move(r)};
}
inline Status Cancelled(std::string m, std::string r = {}) {
  return {StatusCode::kCancelled, std::move(m), std::move(r)};
}

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(const T& value) : v_(value) {}        // NOLINT: implicit by design
  StatusOr(T&& value) : v_(std::move(value)) {}  // NOLINT
  StatusOr(const Status& status) : v_(status) {  // NOLINT
    if (std::get<Status>(v_).ok()) v_ = Status(StatusCode::kInternal, "StatusOr from OK status");
  }
  StatusOr(Status&& status) : v_(std::move(status)) {  // NOLINT
    if (std::get<Status>(v_).ok()) v_ = Status(StatusCode::kInternal, "StatusOr from OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }

  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  std::variant<Status, T> v_;
};

}  // namespace ruo

#define RUO_CONCAT_INNER_(a, b) a##b
#define RUO_CONCAT_(a, b) RUO_CONCAT_INNER_(a, b)

#define RUO_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::ruo::Status ruo_status_ = (expr);        \
    if (!ruo_status_.ok()) return ruo_status_; \
  } while (0)

#define RUO_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()

#define RUO_ASSIGN_OR_RETURN(lhs, expr) \
  RUO_ASSIGN_OR_RETURN_IMPL_(RUO_CONCAT_(ruo_statusor_, __LINE__), lhs, expr)
