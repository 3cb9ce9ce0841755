// The old master's settings the new pods inherit (as redis-server arguments),
// in one table with the release line that introduced each, and the version
// renames (slave-* → replica-*) applied for the target.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "redis/admin.h"
#include "redis/version.h"

namespace ruo::upgrade {

struct CarriedSetting {
  const char* name;  // modern spelling (replica-*), as CONFIG GET on 7.x prints it
  int since_major;   // first release line that knows it
  int since_minor;
};

const std::vector<CarriedSetting>& CarriedSettings();

// Reads every carried setting the source knows (CONFIG GET; unknown ones are
// skipped). Keys are the modern names.
StatusOr<std::map<std::string, std::string>> ReadCarriedConfig(redis::Admin& source);

// redis-server arguments for a target of version `target`: "--name value" for
// each setting it knows, spelled the way it knows it. `save` is split into its
// numbers so every version parses it; an empty value stays one "" argument.
std::vector<std::string> CarryOverArgs(const std::map<std::string, std::string>& config,
                                       const redis::Version& target);

}  // namespace ruo::upgrade
