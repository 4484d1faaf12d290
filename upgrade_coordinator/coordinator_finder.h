// Finding the leading coordinator for the admin client (admin_client.cc) when several
// coordinators elect a leader in etcd: each one's GET /status is asked in turn within a short
// timeout, a follower's hint of who leads is followed, and every answer is kept, so that
// `duplex status` can show each coordinator's role. Blocking, stateless functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "upgrade_coordinator/cluster_config.h"

namespace duplex {

// Where a coordinator's admin API listens.
struct AdminEndpoint {
  std::string address;  // "127.0.1.1"
  int port = 0;
  std::string ToString() const { return address + ":" + std::to_string(port); }
};
// "127.0.1.1:7400" (as a coordinator's /status names the leader); nullopt when not that.
std::optional<AdminEndpoint> ParseAdminEndpoint(const std::string& text);

// One coordinator's answer to GET /status.
struct CoordinatorProbe {
  std::string host;  // its host's name in the config
  AdminEndpoint admin;
  StatusOr<nlohmann::json> status = Unavailable("not asked");
  // What it says it is: "leader", "follower" or "alone"; "" when it did not answer.
  std::string Role() const;
};

// The coordinators asked, in the order asked, and which of them leads.
struct LeaderSearch {
  std::vector<CoordinatorProbe> probes;
  const CoordinatorProbe* Leader() const;         // the first that says "leader", or null
  const CoordinatorProbe* FirstFollower() const;  // the first that answered as a follower
  // Unavailable naming every coordinator asked and why it is not the leader: "no coordinator
  // leads: h1 at 127.0.1.1:7400 does not answer (...); h2 at 127.0.2.1:7400 follows (no
  // leader known)".
  Status NoLeader() const;
};

enum class Probing {
  kUntilLeader,  // stop at the first coordinator that says it leads
  kEveryone,     // ask every coordinator (`duplex status`)
};

// Asks the config's coordinators for their /status, each once and within probe_timeout_ms:
// in the config's order, except that a follower naming a leader not yet asked makes that one
// the next. At most config.coordinators.size() requests.
LeaderSearch FindLeader(const ClusterConfig& config, int probe_timeout_ms, Probing probing);

// The leader a follower's refusal names: HTTP 503 whose JSON body has an `error` saying the
// coordinator "does not lead" and `leader.admin` set. nullopt for any other answer.
std::optional<AdminEndpoint> LeaderNamedIn(int http_status, const std::string& body);

}  // namespace duplex
