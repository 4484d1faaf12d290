#include "chaos/lab/lab_keys.h"

#include "upgrade_coordinator/security_config.h"

namespace duplex::lab {

bool KeysCoverMembers(const ClusterConfig& config) {
  for (const std::string& member : ClusterMembers(config)) {
    if (!config.security.public_keys.contains(member)) return false;
  }
  return true;
}

Status AddClusterKeys(ClusterConfig* config, const std::string& keys_dir) {
  // The members as the daemons will see them: a config built in code has no implied host yet
  // (the loader adds "local", whose agent is a member), so read it back as a file would be.
  StatusOr<ClusterConfig> loaded = ParseClusterConfig(ClusterConfigToYaml(*config));
  if (!loaded.ok()) return loaded.status();
  auto keys = InitClusterKeys(*loaded, keys_dir);
  if (!keys.ok()) {
    return Status(keys.status().code(), "cannot make the cluster's CURVE keys in " + keys_dir +
                                            ": " + keys.status().message());
  }
  config->security.keys_dir = keys_dir;
  config->security.public_keys = *keys;
  return Status::Ok();
}

}  // namespace duplex::lab
