// `probe`: a paced writer that proves a migration loses no acknowledged write.
// The logic lives in src/probe; this file parses flags, handles signals and
// prints the JSON report.
#include <fmt/format.h>
#include <signal.h>

#include <atomic>
#include <cmath>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "cmd/commands.h"
#include "common/clock.h"
#include "common/log.h"
#include "probe/probe.h"
#include "probe/subscriber.h"
#include "redis/connection.h"

namespace ruo::cmd {
namespace {

std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "used from a signal handler");

void OnSignal(int) {
  g_stop.store(true);
}

void InstallSignalHandlers() {
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  // Restart interrupted syscalls: the write loop polls the flag between writes,
  // and an EINTR inside a command would be miscounted as a connection error.
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

class ProbeCommand : public Command {
 public:
  explicit ProbeCommand(CLI::App& parent) {
    app_ = parent.add_subcommand(
        "probe",
        "Write SET <prefix>:<runid>:<seq> at a steady rate, report gaps and errors, and check "
        "afterwards that every acknowledged write exists. Password: $REDISCLI_AUTH.");
    app_->add_flag("--mix", mix_,
                   "Rotate the writes through SET, EVAL, MULTI/EXEC and SET EX (the TTL is "
                   "verified too), and PUBLISH every 10th seq to a subscriber that counts what "
                   "it receives.");
    app_->add_option("--addr", addr_, "Where to write, HOST:PORT.")->required();
    app_->add_option("--rate", rate_, "Writes per second.")->capture_default_str();
    app_->add_option("--duration", duration_s_, "Seconds to write (fractions allowed).")
        ->capture_default_str();
    app_->add_option("--verify", verify_, "Check every acknowledged write here, HOST:PORT.");
    app_->add_option("--key-prefix", key_prefix_, "Key prefix.")->capture_default_str();
    app_->add_option("--connect-timeout-ms", connect_timeout_ms_, "Dial timeout.")
        ->capture_default_str();
    app_->add_option("--command-timeout-ms", command_timeout_ms_, "Per-write timeout.")
        ->capture_default_str();
    app_->add_option("--log-level", log_level_, "trace|debug|info|warn|error")
        ->capture_default_str();
  }

  int Execute() override {
    probe::ProbeOptions opts;
    std::optional<redis::Endpoint> verify_ep;
    if (int rc = Validate(opts, verify_ep); rc != kExitOk) return rc;
    log::Init(log_level_);
    InstallSignalHandlers();

    auto dialer = redis::NewHiredisDialer();
    auto subscriptions = probe::NewHiredisSubscriptionDialer();
    probe::Writer writer(opts, *dialer, RealClock(), subscriptions.get());
    spdlog::info("probe writing addr={} rate={} duration_s={} mix={}", opts.addr.ToString(),
                 opts.rate, duration_s_, opts.mix);
    probe::ProbeResult result = writer.Run(g_stop);
    spdlog::info("probe done acked={} errors={} max_gap_ms={:.3f}", result.acked_seqs.size(),
                 result.errors, static_cast<double>(result.max_gap.count()) / 1e6);

    std::optional<probe::VerifyResult> verified;
    std::optional<std::string> verify_error;
    if (verify_ep.has_value()) {
      auto v = VerifyWithRetry(*dialer, *verify_ep, opts, result);
      if (v.ok()) {
        verified = *v;
        spdlog::info("verified on {}: checked={} lost={} ttl_lost={}", verify_ep->ToString(),
                     v->checked, v->lost, v->ttl_lost);
      } else {
        verify_error = v.status().ToString();
        spdlog::error("verify failed: {}", *verify_error);
      }
    }
    nlohmann::json report = probe::ReportJson(opts, result, verified, verify_error);
    if (verify_ep.has_value()) report["verify_addr"] = verify_ep->ToString();
    std::cout << report.dump() << std::endl;
    if (verify_error.has_value()) return kExitFailed;
    // A lost expiry is a correctness failure too; pub/sub figures are reported only.
    if (verified.has_value() && (verified->lost > 0 || verified->ttl_lost > 0)) return kExitFailed;
    return kExitOk;
  }

 private:
  int Validate(probe::ProbeOptions& opts, std::optional<redis::Endpoint>& verify_ep) {
    auto addr = redis::Endpoint::Parse(addr_);
    if (!addr.ok()) {
      return UsageError(fmt::format("--addr: invalid address '{}': want HOST:PORT", addr_));
    }
    if (!verify_.empty()) {
      auto v = redis::Endpoint::Parse(verify_);
      if (!v.ok()) {
        return UsageError(fmt::format("--verify: invalid address '{}': want HOST:PORT", verify_));
      }
      verify_ep = *v;
    }
    if (!(rate_ > 0) || !std::isfinite(rate_)) {
      return UsageError(fmt::format("--rate: must be > 0, got {}", rate_));
    }
    if (!(duration_s_ > 0) || !std::isfinite(duration_s_)) {
      return UsageError(fmt::format("--duration: must be > 0, got {}", duration_s_));
    }
    if (connect_timeout_ms_ <= 0) {
      return UsageError(
          fmt::format("--connect-timeout-ms: must be > 0, got {}", connect_timeout_ms_));
    }
    if (command_timeout_ms_ <= 0) {
      return UsageError(
          fmt::format("--command-timeout-ms: must be > 0, got {}", command_timeout_ms_));
    }
    if (key_prefix_.empty()) return UsageError("--key-prefix: must not be empty");
    bool level_ok = false;
    for (const char* l : kLogLevels) level_ok = level_ok || log_level_ == l;
    if (!level_ok) return UsageError(fmt::format("--log-level: unknown level '{}'", log_level_));

    opts.addr = *addr;
    opts.rate = rate_;
    opts.duration = std::chrono::nanoseconds(static_cast<int64_t>(std::llround(duration_s_ * 1e9)));
    opts.key_prefix = key_prefix_;
    opts.mix = mix_;
    opts.connect.connect_timeout = std::chrono::milliseconds(connect_timeout_ms_);
    opts.connect.command_timeout = std::chrono::milliseconds(command_timeout_ms_);
    opts.connect.password = PasswordFromEnv();
    opts.connect.client_name = "ruo-probe";
    return kExitOk;
  }

  // The verify endpoint may be restarting right after a switch: a few tries.
  static StatusOr<probe::VerifyResult> VerifyWithRetry(redis::Dialer& dialer,
                                                       const redis::Endpoint& ep,
                                                       const probe::ProbeOptions& opts,
                                                       const probe::ProbeResult& result) {
    redis::ConnectOptions co;
    co.connect_timeout = std::chrono::milliseconds(2000);
    co.command_timeout = std::chrono::milliseconds(30000);
    co.password = opts.connect.password;
    co.client_name = "ruo-probe-verify";
    Status last;
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(500));
      auto conn = dialer.Dial(ep, co);
      if (!conn.ok()) {
        last = conn.status();
        continue;
      }
      probe::VerifyOptions vopts;
      vopts.mix = opts.mix;
      auto v = probe::Verify(**conn, opts.key_prefix, result.run_id, result.acked_seqs, vopts);
      if (v.ok()) return v;
      last = v.status();
    }
    return last;
  }

  std::string addr_;
  double rate_ = 1000;
  double duration_s_ = 10;
  std::string verify_;
  std::string key_prefix_ = "ruo-probe";
  bool mix_ = false;
  int connect_timeout_ms_ = 200;
  int command_timeout_ms_ = 1000;
  std::string log_level_ = "info";
};

}  // namespace

std::unique_ptr<Command> NewProbeCommand(CLI::App& parent) {
  return std::make_unique<ProbeCommand>(parent);
}

}  // namespace ruo::cmd
