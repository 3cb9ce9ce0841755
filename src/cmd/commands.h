// The subcommands of redis-upgrade-operator. Each registers its flags on the
// CLI11 app and, once parsing succeeded, runs and returns the exit code.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>

namespace ruo::cmd {

// Exit codes shared by the subcommands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

// Prints a one-line usage error to stderr and returns kExitUsage.
int UsageError(const std::string& message);

class Command {
 public:
  virtual ~Command() = default;
  CLI::App* app() const { return app_; }
  // Runs after a successful parse when this subcommand was chosen.
  virtual int Execute() = 0;

 protected:
  CLI::App* app_ = nullptr;
};

std::unique_ptr<Command> NewRunCommand(CLI::App& parent);
std::unique_ptr<Command> NewMigrateCommand(CLI::App& parent);
std::unique_ptr<Command> NewProbeCommand(CLI::App& parent);
std::unique_ptr<Command> NewVersionCommand(CLI::App& parent);

// The password for every Redis connection: REDISCLI_AUTH (as redis-cli does),
// never a flag, so it does not show up in `ps`.
std::optional<std::string> PasswordFromEnv();

inline constexpr const char* kLogLevels[] = {"trace", "debug", "info", "warn", "error"};

}  // namespace ruo::cmd
