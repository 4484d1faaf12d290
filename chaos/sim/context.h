// What every part of a simulated run shares: its options, the clock and event queue, the
// trace, the main random stream and the fault profile drawn from it. Owned by the World,
// passed by reference to each part; single-threaded.
#pragma once

#include <string>
#include <vector>

#include "chaos/sim/event_queue.h"
#include "chaos/sim/profile.h"
#include "chaos/sim/rng.h"
#include "chaos/sim/trace.h"
#include "chaos/simulation.h"

namespace duplex::sim {

constexpr const char* kOldVersion = "1.0.0";
constexpr const char* kNewVersion = "2.0.0";
// The package of a release other than the configured one (the configured one is package "").
constexpr const char* kPackageName = "kv";

// The hosts: replica a on h1, b on h2, each with its agent; the embedded coordinator on h3
// (with no agent: it does not run replicas), or three coordinators, on h1, h2 and h3 (as
// `duplex lab up --hosts 3 --etcd` places them). Clients and etcd run off the cluster's hosts.
inline std::string HostOf(const std::string& replica) { return replica == "a" ? "h1" : "h2"; }
inline std::string ReplicaOn(const std::string& host) { return host == "h1" ? "a" : "b"; }
// The network node of a host's agent ("agent-h1").
inline std::string AgentNode(const std::string& host) { return "agent-" + host; }
constexpr const char* kCoordinatorHost = "h3";
// The node the simulated etcd answers at: off every host (a host cut off reaches no
// majority of its members).
constexpr const char* kEtcdNode = "etcd";
// The network node of a host's coordinator ("coordinator-h3").
inline std::string CoordinatorNode(const std::string& host) { return "coordinator-" + host; }

struct SimContext {
  explicit SimContext(const SimOptions& o);

  // Whether the run switches on this deliberate bug (SimOptions::mutants).
  bool Has(Mutant mutant) const { return options.mutants.Has(mutant); }
  int64_t now() const { return queue.now(); }

  const SimOptions& options;
  EventQueue queue;
  Trace trace;
  Rng rng;
  Profile profile;
  // Where the coordinators run: {h3}, or {h1, h2, h3} (profile.coordinators).
  std::vector<std::string> coordinator_hosts;
};

}  // namespace duplex::sim
