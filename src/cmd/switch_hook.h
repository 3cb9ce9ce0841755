// migrate's --switch-hook: the user's command that moves clients (a VIP, an
// HAProxy backend, a DNS record) to the new master once the switch is verified.
#pragma once

#include <chrono>
#include <string>

#include "common/status.h"

namespace ruo::cmd {

struct SwitchHook {
  std::string command;     // run as /bin/sh -c COMMAND
  std::string new_master;  // host:port → $RUO_NEW_MASTER
  std::string old_master;  // host:port → $RUO_OLD_MASTER
  std::chrono::milliseconds timeout{30000};
};

// Runs the hook and waits for it. Its stdout is sent to our stderr, because our
// stdout carries only the JSON report. Non-zero exit, a signal or the timeout
// is an error naming it (reason "SwitchHookFailed").
Status RunSwitchHook(const SwitchHook& hook);

}  // namespace ruo::cmd
