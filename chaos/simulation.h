// Simulation: the whole cluster in one thread — two ReplicaCores running the kv
// processor (1.0.0, and 2.0.0 or a broken 2.0.0 during an upgrade), each on a host of
// its own (h1, h2) with its node agent (AgentCore); the coordinator's Arbiter, AgentLinks
// and campaign machine, either embedded (one coordinator on h3, its record in memory) or
// three coordinators (h1, h2, h3) electing a leader with the daemon's ElectionCore on a
// simulated etcd (a linearizable store with revisions and leases), the leader alone
// acting, on a record fenced by its term; and clients with retries — against simulated
// time, a simulated network and RocksDB on an in-memory Env. The same core code as the
// daemons; only the I/O around it is simulated (DESIGN.md, "Design principles"). Every
// random choice comes from the seed, so a seed replays exactly.
//
// Each run draws its own fault profile from the seed (some runs calm, some hostile):
// message drop, duplication and delay, partitions and swizzle-clogging (links cut one
// by one, restored in random order), process crashes and pauses, coordinator (leader)
// restarts, disk write errors and power cuts (unsynced writes dropped; the stores flush
// and compact at seeded times, and a power cut may fall inside one), host crashes,
// freezes and isolations (both ways and one way), agents killed and restarted, the
// leader frozen or cut off from etcd or from the replicas, etcd losing quorum or a
// member; and, in most runs, a rolling upgrade (its package distributed to the hosts
// first) with aborts and broken releases. At the end the faults stop, the cluster
// settles, and the chaos checker's invariants are checked, with one acting coordinator
// per term. Single-threaded; independent runs may go on different threads.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "chaos/hooks/mutants.h"

namespace duplex::sim {

struct SimOptions {
  uint64_t seed = 1;
  bool trace = false;         // keep the trace's text (it is always hashed)
  int64_t load_ms = 4000;     // simulated time with clients and faults
  int64_t settle_ms = 20000;  // after the faults, at most this long to settle
  int clients = 3;
  // 0: drawn per seed (1 embedded coordinator, or 3 electing a leader on etcd); 1 or 3
  // forces it.
  int coordinators = 0;
  // Deliberate bugs the checker must catch (chaos/hooks/mutants.h), as the process
  // harness switches them on in real processes.
  MutantSet mutants;
};

struct SimResult {
  uint64_t seed = 0;
  std::string profile;                  // the fault probabilities drawn for this run
  std::vector<std::string> violations;  // "invariant: detail"
  uint64_t trace_hash = 0;              // FNV-1a of the trace's text
  std::string trace;                    // the text, when options.trace
  int64_t simulated_us = 0;
  uint64_t ops_ok = 0, ops_fail = 0, ops_info = 0;
  uint64_t events = 0;            // events processed
  uint64_t sessions_expired = 0;  // client sessions the replicas expired
  std::string campaign;           // "none", "completed", "rolled back", or why not
  // Promotions by kind ("crash failover", "hang failover", "switchover", "election"),
  // over every coordinator life.
  std::map<std::string, uint64_t> transitions;
  std::map<std::string, uint64_t> faults;  // faults injected, by kind ("crash", "host-freeze")
  uint64_t coordinators = 0;               // how many ran (1 or 3)
  uint64_t terms = 0;                      // coordinator terms led (a coordinator began acting)
};

SimResult Simulate(const SimOptions& options);

// The replay command for a seed.
std::string ReplayCommand(uint64_t seed);

}  // namespace duplex::sim
