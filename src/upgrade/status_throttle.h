// Rate limit for progress figures in status. Every status write wakes the
// reconciler again through its own watch; under live writes the replication
// lag changes on every poll, so writing each value would keep the reconciler
// and the API server busy in a loop. Figures that only describe progress (lag,
// bytes left, the waiting message) are written at most once per interval per
// upgrade; any other change is written at once.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "upgrade/status_doc.h"

namespace ruo::upgrade {

// `a` and `b` differ at most in progress figures.
bool OnlyProgressDiffers(const StatusDoc& a, const StatusDoc& b);

class StatusThrottle {
 public:
  explicit StatusThrottle(std::chrono::milliseconds interval) : interval_(interval) {}

  // Whether `next` must be written now, given the `stored` status. Thread-safe.
  bool Due(const std::string& key, const StatusDoc& stored, const StatusDoc& next,
           std::chrono::steady_clock::time_point now);
  void Wrote(const std::string& key, std::chrono::steady_clock::time_point now);
  void Forget(const std::string& key);

 private:
  const std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::map<std::string, std::chrono::steady_clock::time_point> last_;
};

}  // namespace ruo::upgrade
