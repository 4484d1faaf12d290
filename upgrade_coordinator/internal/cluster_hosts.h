// The cluster YAML's placement: `hosts:`, `coordinators:`, each replica's host, and the
// `agent:` section. A part of cluster_config.cc's reading; stateless.
#pragma once

#include "common/status.h"
#include "common/yaml_fields.h"
#include "upgrade_coordinator/cluster_types.h"

namespace duplex::config_fields {

// Reads `hosts:` (or implies the one host "local" at config->host) and `coordinators:` (which
// then gives the coordinator's host and ports). Before the replicas are read.
Status ReadHosts(const YamlField& root, ClusterConfig* config);
// With named hosts, each replica's `host:` names one: it gets that host's address.
Status PlaceReplicas(const YamlField& root, ClusterConfig* config);
Status ReadAgent(const YamlField& root, AgentConfig* agent);
void WriteHosts(YamlWriter& out, const ClusterConfig& config);

}  // namespace duplex::config_fields
