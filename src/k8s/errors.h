// Mapping of Kubernetes API errors (an HTTP status plus a metav1.Status body)
// to ruo::Status. The Status `reason` carries the API's reason word and the
// message the API's message, so callers can show the server's own words.
//
//   HTTP  code                 reason (API's, or derived from HTTP when absent)
//   400   kInvalidArgument     BadRequest
//   401   kUnauthenticated     Unauthorized
//   403   kPermissionDenied    Forbidden
//   404   kNotFound            NotFound
//   405   kUnimplemented       MethodNotAllowed
//   409   kAlreadyExists       AlreadyExists   (create of an existing name)
//   409   kAborted             Conflict        (stale resourceVersion / failed precondition)
//   410   kAborted             Gone            (always "Gone", even for the API's "Expired":
//                                              the watch's resourceVersion or a list's continue
//                                              token is too old; re-list, i.e. re-read, and go
//                                              on; kAborted because the retry class is kReread)
//   422   kInvalidArgument     Invalid
//   429   kUnavailable         TooManyRequests
//   5xx   kUnavailable         InternalError / ServiceUnavailable ...
//   504, or reason Timeout     kDeadlineExceeded  Timeout
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ruo::k8s {

inline constexpr char kReasonGone[] = "Gone";

// `body` may be a metav1.Status JSON or anything else (it is then quoted).
Status StatusFromHttp(int http_status, std::string_view body);

// From a metav1.Status object (as in a watch ERROR event); its `code` is the HTTP status.
Status StatusFromApiStatus(const nlohmann::json& status);

inline bool IsNotFound(const Status& s) {
  return s.code() == StatusCode::kNotFound;
}
inline bool IsAlreadyExists(const Status& s) {
  return s.code() == StatusCode::kAlreadyExists;
}
inline bool IsConflict(const Status& s) {
  return s.reason() == "Conflict";
}
inline bool IsGone(const Status& s) {
  return s.reason() == kReasonGone;
}
inline bool IsForbidden(const Status& s) {
  return s.code() == StatusCode::kPermissionDenied;
}

}  // namespace ruo::k8s
