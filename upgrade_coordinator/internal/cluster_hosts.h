// The cluster YAML's placement: `hosts:`, `coordinators:` and `records:`, each replica's host,
// and the `agent:` section. A part of cluster_config.cc's reading; stateless.
#pragma once

#include "common/status.h"
#include "common/yaml_fields.h"
#include "upgrade_coordinator/cluster_types.h"

namespace duplex::config_fields {

inline constexpr std::size_t kCoordinatorsMax = 5;

// Reads `hosts:` (or implies the one host "local" at config->host), `coordinators:` (or implies
// the one at host/admin_port/control_port; the first is selected) and `records:`. Before the
// replicas are read.
Status ReadHosts(const YamlField& root, ClusterConfig* config);
Status ReadRecords(const YamlField& root, ClusterConfig* config);
// Makes the coordinator on `host_name` this process's (config->host, admin_port, control_port).
Status Select(ClusterConfig* config, const std::string& host_name);
// With named hosts, each replica's `host:` names one: it gets that host's address.
Status PlaceReplicas(const YamlField& root, ClusterConfig* config);
Status ReadAgent(const YamlField& root, AgentConfig* agent);
void WriteHosts(YamlWriter& out, const ClusterConfig& config);
void WriteRecords(YamlWriter& out, const ClusterConfig& config);

}  // namespace duplex::config_fields
