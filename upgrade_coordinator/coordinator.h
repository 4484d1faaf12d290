// The coordinator process: supervises the replica processes, runs the Arbiter
// over a ZeroMQ control socket, persists its record in RocksDB, and serves the
// admin API (HTTP+JSON: GET /status, POST /switchover, POST /shutdown).
// One event-loop thread; the HTTP thread talks to it through a command queue.
#pragma once

#include "upgrade_coordinator/cluster_config.h"

namespace duplex {

// Runs until POST /shutdown (replicas stopped too) or SIGTERM/SIGINT (replicas
// keep running, so a restarted coordinator adopts them). Returns the exit code.
// `crash_point_file`: chaos testing only (see WithCrashPoint in record_store.h).
int RunCoordinator(const ClusterConfig& config, const std::string& crash_point_file = "");

// The directory a replica owns, and the command line the coordinator starts it with.
std::string ReplicaDataDir(const ClusterConfig& config, const ReplicaConfig& replica);
std::vector<std::string> ReplicaArgv(const ClusterConfig& config, const ReplicaConfig& replica);

}  // namespace duplex
