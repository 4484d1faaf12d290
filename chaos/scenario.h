// Scenario: one chaos experiment as written in YAML (chaos/scenarios/*.yaml) — the
// workload, an optional rolling upgrade, the faults with their triggers, and what
// must come out. Parsing validates every field and names the first bad one
// ("faults[2].at.step: \"Sok\" is not a campaign step"). Plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace duplex {

// When a fault fires. Exactly one of the four is set.
struct Trigger {
  std::optional<int64_t> after_ms;                       // since the workload started
  std::string step;                                      // when the campaign enters this step
  std::optional<uint64_t> acked;                         // after this many acknowledged writes
  std::optional<std::pair<int64_t, int64_t>> random_ms;  // uniformly in [lo, hi], from the seed
  std::string Describe() const;
};

enum class FaultKind {
  kKill,        // SIGKILL of a process (a replica is restarted by the coordinator)
  kPause,       // SIGSTOP for `duration`, then SIGCONT
  kPowerLoss,   // unsynced writes held in memory, then SIGKILL (chaos/hooks/fault_fs.h)
  kDisk,        // RocksDB writes (or syncs) fail for `duration`
  kPartition,   // messages on a link blackholed (or the link severed) for `duration`
  kLinkFaults,  // drop / delay / duplicate / reorder / corrupt on a link for `duration`
  kClockJump,   // a replica's wall clock jumps by `offset` (back: backwards) for `duration`
  // Host faults, on a lab (`hosts:`); the target is a host: active-host, standby-host, h<k>.
  kHostCrash,     // every process of the host SIGKILLed at once; it boots after `down`
  kHostFreeze,    // every process of the host SIGSTOPped for `duration`, then SIGCONTed
  kHostIsolate,   // the host's traffic dropped for `duration` (direction: both | in | out)
  kAgentKill,     // SIGKILL of the host's agent alone; started again after `down`, or never
  kAgentRestart,  // SIGKILL of the host's agent, started again at once
  // Coordinator and etcd faults, on a lab with etcd (`etcd: true`, three hosts): the acting
  // coordinator is the one whose /status says "role": "leader", found when the fault fires.
  kLeaderKill,      // SIGKILL of the acting coordinator; started again after `duration`, or never
  kLeaderFreeze,    // SIGSTOP of the acting coordinator for `duration`, then SIGCONT
  kLeaderIsolate,   // the acting coordinator cut `from` etcd or from the replicas for `duration`
  kEtcdMemberKill,  // SIGKILL of one etcd member (target), started again after `duration`
  kEtcdQuorumLoss,  // SIGKILL of the members on the two hosts the leader is not on, for `duration`
  // A replica stopped (SIGKILL, its agent held meanwhile), bits flipped in its RocksDB files
  // (`files`), then started again: it must find the corruption and resync from its peer.
  kCorruptAtRest,
};

// Whether the fault strikes a host of a lab (its target names a host).
bool IsHostFault(FaultKind kind);
// Whether the fault strikes the coordinators or their etcd (it needs `etcd: true`).
bool IsCoordinatorFault(FaultKind kind);
// The kind as scenarios spell it ("host-crash", "coordinator-leader-kill").
const char* FaultKindName(FaultKind kind);

struct FaultSpec {
  FaultKind kind = FaultKind::kKill;
  // Processes: a, b, active, standby, coordinator, both (power loss or kill of both replicas,
  // at one instant).
  // Links: replicas (the data link between the pair), control (replicas <-> coordinator),
  // control-active (the active's control link alone, resolved when the fault fires).
  std::string target;
  Trigger at;
  int64_t duration_ms = 0;
  // kDisk
  std::string error = "ioerror";  // nospace | ioerror
  bool sync_only = false;
  // kDisk, slow_sync: every fsync of the replica's store waits this long first (a slow disk,
  // chaos/hooks/fault_fs.h); nothing fails. Exclusive with error and sync_only.
  int64_t slow_sync_ms = 0;
  // kPartition / kLinkFaults
  // kPartition / kLinkFaults: both | to-target | from-target. kHostIsolate: both | in (the
  // host hears nobody) | out (nobody hears the host).
  std::string direction = "both";
  bool sever = false;  // partition by closing connections instead of blackholing
  double drop = 0, duplicate = 0, reorder = 0, corrupt = 0;
  int delay_ms = 0, jitter_ms = 0;
  // kKill of the coordinator, kHostCrash, kAgentKill: how long it stays down before it is
  // started again (kAgentKill: 0 = never).
  int64_t down_ms = 0;
  // kKill of the coordinator, torn: instead of a signal, it exits by itself right after
  // its nth durable write of this kind ("any"; "reload": a replica's version; "epoch": a
  // promotion; "finalize": the cluster version raised), before acting on it; it is
  // restarted at once.
  std::string torn;
  int nth = 1;
  // kClockJump
  int64_t offset_ms = 0;
  bool back = false;
  // kCorruptAtRest: which files get the flipped bits, "sst" (the state, written out to an
  // SST first), "wal" (the write-ahead log) or "both"; how many bits, spread over them.
  std::string files = "both";
  int flips = 8;
  // kLeaderIsolate: what the acting coordinator no longer reaches, "etcd" (the members' client
  // port) or "replicas" (its control port: the replicas and agents).
  std::string from;
};

struct Scenario {
  std::string name;
  std::string description;
  std::string source;  // the file it came from
  // Workload
  int clients = 3;
  int readers = 0;  // more clients that only read the hot keys
  // "active" or "standby": Jepsen's per-node clients, the readers bound to that replica (as
  // the run starts) and the other clients to the other one; "" = every client knows both.
  std::string pin_readers;
  bool incr = true;             // alternate PUT and INCR (else PUT only)
  int64_t deadline_ms = 10000;  // a client gives a request up (unknown outcome) after this
  std::string mode = "sync";
  // 0: one host (chaos/cluster_fixture.h); 2 or 3: a lab of that many hosts (chaos/lab).
  int hosts = 0;
  // A lab of three hosts, each with an etcd member and a coordinator (`duplex lab up --etcd`).
  bool etcd = false;
  // Optional rolling upgrade, started when the workload has 100 acknowledged writes.
  std::string package;  // e.g. kv-2.0.0 (under <build>/packages); empty: no upgrade
  int64_t soak_ms = 1000;
  std::vector<FaultSpec> faults;
  std::string expect = "none";       // completed | rolled_back | either | none (no upgrade)
  int64_t run_ms = 8000;             // workload time when there is no upgrade; else the cap
  int64_t converge_ms = 15000;       // after the faults are healed, the pair must converge within
  std::vector<std::string> mutants;  // switches for the checker's self-test (chaos/hooks/mutants.h)
  // A mutant's scenario passes when this invariant is violated: the checker caught it.
  std::string expect_violation;
  // "steady": while each fault lasts, the longest stretch without an acknowledged write is
  // no worse than before the first fault (the replicas kept serving); "" = not judged.
  // Or a duration ("600ms"): while each fault lasts, that longest stretch stays below it (a
  // bound derived from the config's timing, for faults that slow the pair down by design).
  std::string expect_gap;
  int64_t expect_gap_ms = 0;
  // Each host fault that strikes the active's host (crash, freeze, isolate) ends with the
  // other replica acknowledging writes: the pair failed over, whatever the fault's direction.
  bool expect_failover = false;
};

StatusOr<Scenario> ParseScenario(const std::string& yaml_text, const std::string& source);
StatusOr<Scenario> LoadScenario(const std::string& path);
// Every *.yaml in dir, sorted by name; the first bad file fails the whole catalogue.
StatusOr<std::vector<Scenario>> LoadCatalogue(const std::string& dir);

}  // namespace duplex
