// redis-upgrade-operator: flag parsing and dispatch to the subcommands.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cmd/commands.h"

namespace ruo::cmd {

int UsageError(const std::string& message) {
  std::cerr << "redis-upgrade-operator: error: " << message << std::endl;
  return kExitUsage;
}

std::optional<std::string> PasswordFromEnv() {
  const char* pw = std::getenv("REDISCLI_AUTH");
  if (pw == nullptr || *pw == '\0') return std::nullopt;
  return std::string(pw);
}

namespace {

int Main(int argc, char** argv) {
  CLI::App app{"Upgrades a standalone Redis to a newer version online.", "redis-upgrade-operator"};
  app.set_version_flag("--version", RUO_VERSION);
  app.require_subcommand(1);
  std::vector<std::unique_ptr<Command>> commands;
  commands.push_back(NewRunCommand(app));
  commands.push_back(NewMigrateCommand(app));
  commands.push_back(NewProbeCommand(app));
  commands.push_back(NewVersionCommand(app));

  // CLI11 says only "A subcommand is required" for a misspelt one: name it.
  if (argc >= 2 && argv[1][0] != '-') {
    bool known = false;
    for (const auto& c : commands) known = known || c->app()->get_name() == argv[1];
    if (!known) {
      return UsageError(std::string("unknown subcommand '") + argv[1] +
                        "' (want run, migrate, probe or version)");
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line naming the flag; CLI11's own exit() would add a second line.
    return UsageError(e.what());
  }
  for (const auto& c : commands) {
    if (c->app()->parsed()) return c->Execute();
  }
  return UsageError("no subcommand given");
}

}  // namespace
}  // namespace ruo::cmd

int main(int argc, char** argv) {
  return ruo::cmd::Main(argc, argv);
}
