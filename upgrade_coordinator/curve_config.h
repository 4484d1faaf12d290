// CURVE from the cluster config (security.public_keys, security.keys_dir): the settings each
// process speaks with (its member, its secret key read from <keys_dir>/<member>.secret, the
// allow-list), the coordinators' members in the order replicas and agents connect to them, and
// the flags an agent passes to the replicas it starts. Plain functions; thread-compatible.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "replica/curve_auth.h"
#include "upgrade_coordinator/cluster_types.h"

namespace duplex {

// Whether the config turns CURVE on (security.public_keys set): protected mode asks for it.
bool CurveConfigured(const ClusterConfig& config);
// Every key listed is Z85 and every member the config implies has one; errors name the member.
Status CheckCurveConfig(const ClusterConfig& config);

// The settings `member` speaks with: off (empty) without public_keys; else its secret key,
// read from <keys_dir>/<member>.secret (mode 0600), and the allow-list.
StatusOr<CurveSettings> CurveSettingsFor(const ClusterConfig& config, const std::string& member);
// This coordinator's (config.coordinator_host), this host's agent's.
StatusOr<CurveSettings> CoordinatorCurve(const ClusterConfig& config);
StatusOr<CurveSettings> AgentCurve(const ClusterConfig& config, const std::string& host);

// The member of each CoordinatorControlEndpoints entry, in its order.
std::vector<std::string> CoordinatorMembers(const ClusterConfig& config);
// --curve-secret-file, --curve-keys, --curve-coordinators for the replica; none without CURVE.
std::vector<std::string> ReplicaCurveArgs(const ClusterConfig& config,
                                          const ReplicaConfig& replica);

}  // namespace duplex
