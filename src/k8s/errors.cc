#include "k8s/errors.h"

namespace ruo::k8s {
namespace {

std::string ReasonForHttp(int code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 406:
      return "NotAcceptable";
    case 409:
      return "Conflict";
    case 410:
      return kReasonGone;
    case 413:
      return "RequestEntityTooLarge";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return code >= 500 ? "InternalError" : "Unknown";
  }
}

Status Make(int code, std::string reason, std::string message) {
  if (reason.empty()) reason = ReasonForHttp(code);
  if (message.empty()) message = "HTTP " + std::to_string(code) + " " + reason;
  if (reason == "Timeout" || code == 504) {
    return DeadlineExceeded(std::move(message), "Timeout");
  }
  switch (code) {
    case 400:
    case 415:
    case 422:
      return InvalidArgument(std::move(message), std::move(reason));
    case 401:
      return Unauthenticated(std::move(message), std::move(reason));
    case 403:
      return PermissionDenied(std::move(message), std::move(reason));
    case 404:
      return NotFound(std::move(message), std::move(reason));
    case 405:
      return {StatusCode::kUnimplemented, std::move(message), std::move(reason)};
    case 409:
      if (reason == "AlreadyExists") return AlreadyExists(std::move(message), std::move(reason));
      return Aborted(std::move(message), std::move(reason));
    case 410:
      return Aborted(std::move(message), kReasonGone);
    case 429:
      return Unavailable(std::move(message), std::move(reason));
    default:
      break;
  }
  if (code >= 500) return Unavailable(std::move(message), std::move(reason));
  if (code >= 400) return FailedPrecondition(std::move(message), std::move(reason));
  return Internal("unexpected HTTP status " + std::to_string(code) + ": " + message,
                  std::move(reason));
}

std::string StringField(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Status StatusFromApiStatus(const nlohmann::json& status) {
  int code = 500;
  std::string reason, message;
  if (status.is_object()) {
    if (auto it = status.find("code"); it != status.end() && it->is_number_integer()) {
      code = it->get<int>();
    }
    reason = StringField(status, "reason");
    message = StringField(status, "message");
  }
  return Make(code, std::move(reason), std::move(message));
}

Status StatusFromHttp(int http_status, std::string_view body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && StringField(j, "kind") == "Status") {
    return Make(http_status, StringField(j, "reason"), StringField(j, "message"));
  }
  // Not a Status (a proxy, or an old server): keep a bounded excerpt of the body.
  std::string excerpt(body.substr(0, 512));
  while (!excerpt.empty() && (excerpt.back() == '\n' || excerpt.back() == '\r')) {
    excerpt.pop_back();
  }
  return Make(http_status, {}, excerpt);
}

}  // namespace ruo::k8s
