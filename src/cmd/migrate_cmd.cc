// `migrate`: the sync-and-switch engine between two plain Redis endpoints.
// Progress goes to stderr, exactly one JSON report to stdout.
#include <fmt/format.h>

#include <cmath>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "cmd/commands.h"
#include "cmd/switch_hook.h"
#include "common/clock.h"
#include "common/log.h"
#include "engine/migration.h"
#include "redis/connection.h"

namespace ruo::cmd {
namespace {

class MigrateCommand : public Command {
 public:
  explicit MigrateCommand(CLI::App& parent) {
    app_ = parent.add_subcommand(
        "migrate",
        "Replicate SOURCE into TARGET, then switch writes to TARGET with no acknowledged write "
        "lost. Password: $REDISCLI_AUTH.");
    app_->add_option("--source", source_, "The old master, HOST:PORT.")->required();
    app_->add_option("--target", target_, "The new server, HOST:PORT.")->required();
    app_->add_option("--max-lag-bytes", max_lag_bytes_,
                     "Switch only when the target is at most this many bytes behind.")
        ->capture_default_str();
    app_->add_option("--max-read-only-seconds", max_read_only_seconds_,
                     "Bound on the write-blocked window (fractions allowed).")
        ->capture_default_str();
    app_->add_flag("--allow-same-version", allow_same_version_,
                   "Allow a target of the same version as the source.");
    app_->add_option("--max-attempts", max_attempts_,
                     "Switch attempts before giving up (catch-up timeouts).")
        ->capture_default_str();
    app_->add_option("--state-file", state_file_,
                     "Persist the switch record here, so a rerun can finish or undo.");
    app_->add_option("--switch-hook", switch_hook_,
                     "Shell command that moves clients to the new master; gets "
                     "$RUO_NEW_MASTER and $RUO_OLD_MASTER.");
    app_->add_option("--switch-hook-timeout-seconds", hook_timeout_seconds_,
                     "Bound on the switch hook's run time.")
        ->capture_default_str();
    app_->add_option("--source-as-seen-by-target", source_seen_,
                     "How the target reaches the source, when not --source (NAT, proxies).");
    app_->add_option("--log-level", log_level_, "trace|debug|info|warn|error")
        ->capture_default_str();
  }

  int Execute() override {
    engine::MigrationOptions opts;
    if (int rc = Validate(opts); rc != kExitOk) return rc;
    log::Init(log_level_);

    if (!switch_hook_.empty()) {
      SwitchHook hook{switch_hook_, opts.target.ToString(), opts.source.ToString(),
                      std::chrono::milliseconds(
                          static_cast<int64_t>(std::llround(hook_timeout_seconds_ * 1000)))};
      opts.move_traffic = [hook]() {
        spdlog::info("running switch hook new_master={} old_master={}", hook.new_master,
                     hook.old_master);
        return RunSwitchHook(hook);
      };
    }

    auto dialer = redis::NewHiredisDialer();
    engine::MigrationReport report = engine::RunMigration(
        opts, *dialer, RealClock(), [](const std::string& line) { spdlog::info("{}", line); });
    std::cout << report.ToJson().dump() << std::endl;
    if (report.result == "completed") return kExitOk;
    spdlog::error("migration failed: {}", report.error);
    return kExitFailed;
  }

 private:
  // Checks values CLI11 cannot; returns kExitUsage with a one-line error.
  int Validate(engine::MigrationOptions& opts) {
    auto source = redis::Endpoint::Parse(source_);
    if (!source.ok()) {
      return UsageError(fmt::format("--source: invalid address '{}': want HOST:PORT", source_));
    }
    auto target = redis::Endpoint::Parse(target_);
    if (!target.ok()) {
      return UsageError(fmt::format("--target: invalid address '{}': want HOST:PORT", target_));
    }
    if (*source == *target) {
      return UsageError("--target: must differ from --source");
    }
    if (!source_seen_.empty()) {
      auto seen = redis::Endpoint::Parse(source_seen_);
      if (!seen.ok()) {
        return UsageError(fmt::format(
            "--source-as-seen-by-target: invalid address '{}': want HOST:PORT", source_seen_));
      }
      opts.source_as_seen_by_target = *seen;
    }
    if (max_lag_bytes_ < 0) {
      return UsageError(fmt::format("--max-lag-bytes: must be >= 0, got {}", max_lag_bytes_));
    }
    if (!(max_read_only_seconds_ > 0) || !std::isfinite(max_read_only_seconds_)) {
      return UsageError(
          fmt::format("--max-read-only-seconds: must be > 0, got {}", max_read_only_seconds_));
    }
    if (max_attempts_ < 1) {
      return UsageError(fmt::format("--max-attempts: must be >= 1, got {}", max_attempts_));
    }
    if (!(hook_timeout_seconds_ > 0)) {
      return UsageError(
          fmt::format("--switch-hook-timeout-seconds: must be > 0, got {}", hook_timeout_seconds_));
    }
    bool level_ok = false;
    for (const char* l : kLogLevels) level_ok = level_ok || log_level_ == l;
    if (!level_ok) {
      return UsageError(fmt::format("--log-level: unknown level '{}'", log_level_));
    }
    opts.source = *source;
    opts.target = *target;
    opts.password = PasswordFromEnv();
    opts.max_lag_bytes = max_lag_bytes_;
    opts.allow_same_version = allow_same_version_;
    opts.max_attempts = max_attempts_;
    opts.state_file = state_file_;
    // Sub-millisecond bounds round up: a zero bound would never let a switch finish.
    opts.switch_options.max_read_only = std::chrono::milliseconds(
        std::max<int64_t>(1, static_cast<int64_t>(std::ceil(max_read_only_seconds_ * 1000))));
    return kExitOk;
  }

  std::string source_;
  std::string target_;
  int64_t max_lag_bytes_ = 10 * 1024 * 1024;
  double max_read_only_seconds_ = 60;
  bool allow_same_version_ = false;
  int max_attempts_ = 5;
  std::string state_file_;
  std::string switch_hook_;
  double hook_timeout_seconds_ = 30;
  std::string source_seen_;
  std::string log_level_ = "info";
};

}  // namespace

std::unique_ptr<Command> NewMigrateCommand(CLI::App& parent) {
  return std::make_unique<MigrateCommand>(parent);
}

}  // namespace ruo::cmd
