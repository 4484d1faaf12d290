// ClusterConfig: the cluster description an operator writes in YAML
// (examples/kv/cluster.yaml). Plain values; parsing validates every field and
// names the first bad one. Thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "upgrade_coordinator/cluster_types.h"

namespace duplex {

// Where a host keeps its files: its data_dir, else <data_dir>/<name> when hosts are named
// (the lab's hosts share one file system), else the cluster's data_dir.
std::string HostDataDir(const ClusterConfig& config, const HostConfig& host);
// The directory a replica owns: <host dir>/<replica name>.
std::string ReplicaDataDir(const ClusterConfig& config, const ReplicaConfig& replica);
// Where this process's coordinator (config.coordinator_host) keeps its files when several
// share one file system (the lab): <its host's dir>/coordinator; else the cluster's data_dir.
std::string CoordinatorDataDir(const ClusterConfig& config);
// The replicas placed on `host`.
std::vector<const ReplicaConfig*> ReplicasOn(const ClusterConfig& config, const std::string& host);
// Every coordinator's control endpoint ("tcp://127.0.1.1:7401"), in the config's order: where
// replicas and agents connect. With one coordinator, this config's own host and control_port.
std::vector<std::string> CoordinatorControlEndpoints(const ClusterConfig& config);

// Parses and validates. Errors name the field and the reason:
// "replicas[1].port: 70000 is not a port (1..65535)".
StatusOr<ClusterConfig> ParseClusterConfig(const std::string& yaml_text,
                                           const std::string& base_dir = ".");
StatusOr<ClusterConfig> LoadClusterConfig(const std::string& path);
// Makes the coordinator on host `host_name` (`duplex coordinator --host`) this process's:
// config->host, admin_port and control_port become its. InvalidArgument naming the
// coordinators' hosts when none runs there.
Status SelectCoordinator(ClusterConfig* config, const std::string& host_name);
// YAML that parses back to the same config (used by `duplex up` to hand the
// coordinator a resolved copy).
std::string ClusterConfigToYaml(const ClusterConfig& config);

}  // namespace duplex
