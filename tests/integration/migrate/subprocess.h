// A child process for integration tests: the real binaries run as they would
// for a user. Output goes to files so a test can watch progress while the
// child runs; the destructor kills the child's whole process group, so a
// failing test leaves nothing behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace ruo::testing {

struct SubprocessOptions {
  std::vector<std::string> argv;
  // Variables to set (a value) or remove (nullopt) on top of our environment.
  std::map<std::string, std::optional<std::string>> env;
  std::string output_dir;  // stdout/stderr files go here (must exist)
  std::string name = "proc";
};

class Subprocess {
 public:
  static StatusOr<std::unique_ptr<Subprocess>> Start(const SubprocessOptions& opts);
  ~Subprocess();

  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  // The exit code (128 + signal when killed by one), or nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  bool Running();
  void Signal(int sig);
  void Kill();  // SIGKILL to the process group and reap

  std::string Stdout() const;
  std::string Stderr() const;
  // Waits until stdout holds a complete first line; returns it.
  std::optional<std::string> FirstStdoutLine(std::chrono::milliseconds timeout);

 private:
  Subprocess() = default;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string stdout_path_;
  std::string stderr_path_;
};

// A fresh directory under $TMPDIR (or /tmp), removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path);
// Writes to a temp name and renames, so a reader never sees a partial file.
void WriteFileAtomic(const std::string& path, const std::string& content);

}  // namespace ruo::testing
