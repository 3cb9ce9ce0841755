#include "cmd/switch_hook.h"

#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace ruo::cmd {
namespace {

bool HasName(const char* entry, std::string_view name) {
  return std::strncmp(entry, name.data(), name.size()) == 0 && entry[name.size()] == '=';
}

}  // namespace

Status RunSwitchHook(const SwitchHook& hook) {
  // The child's environment: ours, with the two RUO_* variables replaced.
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    if (HasName(*e, "RUO_NEW_MASTER") || HasName(*e, "RUO_OLD_MASTER")) continue;
    env_storage.emplace_back(*e);
  }
  env_storage.push_back("RUO_NEW_MASTER=" + hook.new_master);
  env_storage.push_back("RUO_OLD_MASTER=" + hook.old_master);
  std::vector<char*> envp;
  for (auto& s : env_storage) envp.push_back(s.data());
  envp.push_back(nullptr);

  std::string sh = "/bin/sh", dash_c = "-c", cmd = hook.command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group, so a timeout can kill whatever the shell started.
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, sh.c_str(), &actions, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return Internal(fmt::format("switch hook: cannot start /bin/sh: {}", std::strerror(rc)),
                    "SwitchHookFailed");
  }

  // Poll rather than block: the hook runs inside the write-blocked window, so
  // both a tight wait and a bound on it matter.
  const auto deadline = std::chrono::steady_clock::now() + hook.timeout;
  int wstatus = 0;
  while (true) {
    const pid_t w = waitpid(pid, &wstatus, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) {
      return Internal(fmt::format("switch hook: waitpid: {}", std::strerror(errno)),
                      "SwitchHookFailed");
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(-pid, SIGKILL);
      while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
      }
      return DeadlineExceeded(
          fmt::format("switch hook did not finish within {} ms", hook.timeout.count()),
          "SwitchHookFailed");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  if (WIFEXITED(wstatus)) {
    if (WEXITSTATUS(wstatus) == 0) return Status::Ok();
    return Internal(fmt::format("switch hook exited with status {}", WEXITSTATUS(wstatus)),
                    "SwitchHookFailed");
  }
  if (WIFSIGNALED(wstatus)) {
    return Internal(fmt::format("switch hook was killed by signal {}", WTERMSIG(wstatus)),
                    "SwitchHookFailed");
  }
  return Internal("switch hook ended abnormally", "SwitchHookFailed");
}

}  // namespace ruo::cmd
