#include "upgrade/quantity.h"

#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>

namespace ruo::upgrade {
namespace {

constexpr std::pair<std::string_view, double> kSuffixes[] = {
    {"Ki", 1024.0},
    {"Mi", 1024.0 * 1024},
    {"Gi", 1024.0 * 1024 * 1024},
    {"Ti", 1024.0 * 1024 * 1024 * 1024},
    {"Pi", 1024.0 * 1024 * 1024 * 1024 * 1024},
    {"Ei", 1024.0 * 1024 * 1024 * 1024 * 1024 * 1024},
    {"k", 1e3},
    {"M", 1e6},
    {"G", 1e9},
    {"T", 1e12},
    {"P", 1e15},
    {"E", 1e18},
    {"m", 1e-3},
};

}  // namespace

StatusOr<int64_t> ParseQuantityBytes(std::string_view text) {
  const std::string s(text);
  if (s.empty()) return InvalidArgument("empty quantity", "InvalidQuantity");
  char* end = nullptr;
  const double number = std::strtod(s.c_str(), &end);
  std::string_view rest(end, s.c_str() + s.size() - end);
  if (end == s.c_str() || number < 0 || !std::isfinite(number)) {
    return InvalidArgument("invalid quantity \"" + s + "\"", "InvalidQuantity");
  }
  double multiplier = 1;
  if (!rest.empty()) {
    bool known = false;
    for (const auto& [suffix, m] : kSuffixes) {
      if (rest == suffix) {
        multiplier = m;
        known = true;
        break;
      }
    }
    if (!known) return InvalidArgument("invalid quantity \"" + s + "\"", "InvalidQuantity");
  }
  const double bytes = std::ceil(number * multiplier);
  if (bytes > 9.2e18) return InvalidArgument("quantity too large: " + s, "InvalidQuantity");
  return static_cast<int64_t>(bytes);
}

int64_t MemoryLimitBytes(const nlohmann::json& container) {
  const nlohmann::json* q = nullptr;
  if (auto r = container.find("resources"); r != container.end() && r->is_object()) {
    if (auto l = r->find("limits"); l != r->end() && l->is_object()) {
      if (auto m = l->find("memory"); m != l->end()) q = &*m;
    }
  }
  if (q == nullptr) return 0;
  if (q->is_number()) return q->get<int64_t>();
  if (!q->is_string()) return 0;
  auto bytes = ParseQuantityBytes(q->get<std::string>());
  return bytes.ok() ? *bytes : 0;
}

}  // namespace ruo::upgrade
