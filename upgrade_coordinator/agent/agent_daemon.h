// The node agent process (`duplex agent -c cluster.yaml --host h1`): one per host. It runs
// AgentCore over real processes (started in their own process groups, watched with pidfds
// so that adopted ones are seen to exit as fast as children), a DEALER socket to each
// coordinator's control port (bound to the host's address; reports go to all, desired
// states are taken from the leader's term), a record of its desired state and processes
// (so a restarted agent adopts what still runs), and the host's package store.
// Runs until SIGTERM/SIGINT; its replicas keep running. One thread.
#pragma once

#include <string>

#include "upgrade_coordinator/cluster_config.h"

namespace duplex {

// Returns the exit code: 0 after a stop signal, 2 when it cannot start (a bad host name, a
// directory held by another agent, a socket it cannot open), with the reason logged.
int RunAgent(const ClusterConfig& config, const std::string& host);

// Where the agent of `host` keeps its record, its pid lock and its package store.
std::string AgentDir(const ClusterConfig& config, const HostConfig& host);

}  // namespace duplex
