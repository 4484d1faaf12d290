// The admin client: what the `duplex` CLI, the demo, the tests and the benchmarks do to a
// deployed cluster: find its config, start and stop it through the
// coordinator, read its status. Blocking calls with bounded waits.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"
#include "upgrade_coordinator/cluster_config.h"

namespace duplex {

// -c if given, else $DUPLEX_CONFIG, else the cluster last started with `up`, else
// examples/kv/cluster.yaml.
std::string ResolveConfigPath(const std::string& flag);
// The config, with `token_file` (--token-file) as its security.admin_token_file when given:
// then a token file that cannot be read or that others may read is an error naming it. (The
// CLI checks the config's own before admin calls; an agent's host need not have it.)
StatusOr<ClusterConfig> LoadConfigOrExplain(const std::string& flag,
                                            const std::string& token_file = "");

// Starts the coordinator in the background (it starts the replicas) and waits
// until an active serves and its standby is in sync, or timeout_ms passes.
Status Up(const ClusterConfig& config, const std::string& duplex_binary, int timeout_ms);
// With several coordinators (config.coordinators), every call below goes to the leader: the
// coordinators' /status are asked in turn (each within a short timeout) until one says it
// leads, following a follower's hint of who does; a call that a coordinator refuses with 503
// "does not lead" is sent once more to the leader it names. With no leader, the calls fail
// with Unavailable naming every coordinator asked and why. One coordinator: the config's own.

// Stops replicas and coordinators; bounded. Several: /shutdown to the leader first (it stops
// the replicas), then to every other coordinator.
Status Down(const ClusterConfig& config);

// The leader's status; with several coordinators and no leader, the first follower's (it
// shows no leader), Unavailable when none answers.
StatusOr<nlohmann::json> GetStatus(const ClusterConfig& config, int timeout_ms = 2000);
// GetStatus for `duplex status`: with several coordinators, every one is asked and each entry
// of `coordinators` gets the `role` it says it has ("leader", "follower") and its `term`, or
// "not answering" and the `error`.
StatusOr<nlohmann::json> GetStatusWithRoles(const ClusterConfig& config, int timeout_ms = 2000);
// The body of the answer; an error Status carries the coordinator's reason.
StatusOr<std::string> Post(const ClusterConfig& config, const std::string& path, int timeout_ms);
// JSON in, JSON out (the upgrade API). A non-2xx answer becomes an error carrying the
// coordinator's `error` text (5xx: Unavailable, else FailedPrecondition); an answer that
// is not JSON becomes "coordinator answered unexpected JSON: ...". Never InvalidArgument,
// which the CLI keeps for the operator's own bad input (exit code 2).
StatusOr<nlohmann::json> PostJson(const ClusterConfig& config, const std::string& path,
                                  const nlohmann::json& body, int timeout_ms);
StatusOr<nlohmann::json> GetJson(const ClusterConfig& config, const std::string& path,
                                 int timeout_ms = 2000);
// POST /packages with the package at `path` as the body: a tarball as it is, a directory
// packed first (PackPackageDir) into a temporary tarball. The coordinator receives the bytes,
// never a path to read. Answers as PostJson.
StatusOr<nlohmann::json> UploadPackage(const ClusterConfig& config, const std::string& path,
                                       int timeout_ms);

// True when some replica is active and the other is in sync and caught up: its last
// report shows at least the seq of the active's last report.
bool PairReady(const nlohmann::json& status);
// Waits (bounded) until `ready(status)` holds; returns the last status.
StatusOr<nlohmann::json> WaitFor(const ClusterConfig& config, int timeout_ms,
                                 const std::function<bool(const nlohmann::json&)>& ready);

std::string FormatStatusTable(const nlohmann::json& status);
std::vector<std::string> ReplicaEndpoints(const ClusterConfig& config);

}  // namespace duplex
