// The cluster's security section (`security:`, `limits:` in cluster.yaml): the members whose keys
// it lists, reading and writing both sections, and making every member's CURVE key pair
// (`duplex keys init`). Stateless functions over ClusterConfig values.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/yaml_fields.h"
#include "upgrade_coordinator/cluster_types.h"

namespace duplex {

// A member is the identity a CURVE key binds: what the ZAP handler admits a key as.
std::string ReplicaMember(const std::string& replica_name);           // "replica.a"
std::string AgentMember(const std::string& host_name);                // "agent.h1", "agent.local"
std::string CoordinatorMember(const CoordinatorConfig& coordinator);  // "coordinator.h1"
// Every member the config implies: each replica, each host's agent, each coordinator.
std::vector<std::string> ClusterMembers(const ClusterConfig& config);

// Makes a CURVE key pair for every member of the config, writes <keys_dir>/<member>.secret
// (mode 0600) and <member>.public, and returns member -> public key. Refuses (naming the file)
// to overwrite a key that exists: a new key would lock its member out until every config
// changes.
StatusOr<std::map<std::string, std::string>> InitClusterKeys(const ClusterConfig& config,
                                                             const std::string& keys_dir);

// Reads `security:` and `limits:` from the document's root (both optional). Paths stay as
// written; ResolveSecurityPaths makes them absolute.
Status ReadSecurity(const YamlField& root, SecurityConfig* security);
Status ReadLimits(const YamlField& root, LimitsConfig* limits);
// Writes both sections (`security:` only when something is set), so they parse back the same.
void WriteSecurity(YamlWriter& out, const ClusterConfig& config);

}  // namespace duplex
