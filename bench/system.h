// System: one side of a comparison — duplex, or the peer it is measured against — seen
// through the trials every benchmark runs on both, with the same workload: a load of
// unique 16-byte keys and 32-byte values, a fault under three writing clients, a planned
// switchover, a memory reading. Deployments (real processes on 127.0.0.1) start on first
// use and stop in Stop() or the destructor, by their PIDs. Blocking, bounded, one thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chaos/load_generator.h"
#include "common/status.h"

namespace duplex::bench {

constexpr int kKeyBytes = 16;
constexpr int kValueBytes = 32;

struct LoadSpec {
  bool sync = true;  // duplex sync mode / the peer's write acknowledged by its replica
  int clients = 50;
  int pipeline = 1;  // requests in flight per client
  double seconds = 2.0;
};

// The shape of every benchmark load: `spec`'s clients, pipeline and time, unique keys
// under `key_prefix`, kKeyBytes keys and kValueBytes values.
LoadShape ShapeOf(const LoadSpec& spec, const std::string& key_prefix);
// Loading `keys` keys, 0..keys-1 in order, as fast as 50 connections pipelining 8 go.
LoadShape BulkLoadShape(uint64_t keys);
// An error unless all `keys` of a bulk load were acknowledged.
Status CheckBulkLoaded(uint64_t keys, const LoadResult& loaded);

struct LoadTrial {
  LoadResult result;
  // How far the standby trails the active: each side measures it its own way (see Describe).
  double lag_ms_p50 = 0, lag_ms_p99 = 0;
  // CPU time (user + system, every thread) the side's own processes spent during the load:
  // duplex's replicas and coordinator, Redis's servers and Sentinels. The load generator,
  // which is not the same code on both sides, is not counted.
  double server_cpu_s = 0;
};

struct FailoverTrial {
  double first_ack_ms = -1;  // fault -> first write acknowledged by the other replica
  uint64_t lost = 0;         // acknowledged writes missing afterwards
  // Two hosts, duplex: fault -> the coordinator records the old active down / names the
  // other active (its event log); -1 when not measured.
  double down_ms = -1, promoted_ms = -1;
};

struct SwitchoverTrial {
  double unavailability_ms = 0;  // longest gap between acknowledged writes around it
  uint64_t lost = 0;
};

struct MemoryTrial {
  uint64_t keys = 0;
  double load_seconds = 0;
  double active_mb = 0, standby_mb = 0;  // resident set size (VmRSS)
};

// A deployment at rest (no clients), measured from outside: the CPU time its processes (every
// thread) used over a window, as percent of one core. The servers are duplex's two replicas
// and Redis's primary and replica; the watchers duplex's coordinator and agent and Redis's
// three Sentinels.
struct IdleTrial {
  double servers_percent = 0;
  double watchers_percent = 0;
  double total_percent() const { return servers_percent + watchers_percent; }
};

class System {
 public:
  virtual ~System() = default;
  virtual std::string Name() const = 0;
  // What it is (version, settings), for the report.
  virtual std::string Describe() const = 0;

  virtual StatusOr<LoadTrial> Load(const LoadSpec& spec) = 0;
  // SIGKILL or SIGSTOP of the active under three writers; the next trial finds the pair
  // healthy again (the killed side restarted, the stopped one continued and rejoined).
  virtual StatusOr<FailoverTrial> Failover(int signal) = 0;
  virtual StatusOr<SwitchoverTrial> Switchover() = 0;
  // A fresh pair loaded with `keys` keys, both sides caught up, then measured.
  virtual StatusOr<MemoryTrial> Memory(uint64_t keys) = 0;
  // A deployment with no clients, settled for `settle_seconds`, then measured over
  // `seconds` (IdleTrial).
  virtual StatusOr<IdleTrial> Idle(double settle_seconds, double seconds) {
    (void)settle_seconds;
    (void)seconds;
    return FailedPrecondition(Name() + ": no idle measurement");
  }

  virtual void Stop() = 0;
};

struct SystemOptions {
  std::string build_dir;        // where duplex and the kv packages are
  std::string scratch;          // a directory of its own, emptied first
  bool curve = true;            // duplex: CURVE on its ZeroMQ links (FixtureOptions::curve)
  std::string name = "duplex";  // how the figures name this side
  // duplex: TLS 1.3 on the client and HTTP ports, a client password and an admin token, as
  // `duplex keys init --tls` writes them. Redis: TLS on every port and on its replication link
  // (tls-port, tls-replication yes), the load generator speaking TLS.
  bool tls = false;
};

// Redis without persistence; with `fsync_every_write`, both servers keep an AOF fsynced
// before each turn's replies (appendfsync always), the closest match to duplex's durability.
std::unique_ptr<System> MakeRedisSystem(const SystemOptions& options, bool fsync_every_write);

// /proc/<pid>/status VmRSS in MB, 0 when unreadable.
double ResidentMb(pid_t pid);
// The CPU time (user + system, all threads) the processes `pids` have used so far, from
// /proc/<pid>/stat, in seconds; a process that is gone counts 0.
double CpuSeconds(const std::vector<pid_t>& pids);
// utime + stime (fields 14 and 15, in clock ticks) of one /proc/<pid>/stat line. The fields
// are counted from the last ')': the command name between the parentheses may hold spaces
// and parentheses of its own. An error names what is missing.
StatusOr<uint64_t> StatTicks(std::string_view stat_line);
// The CPU each group of processes used over `seconds` (measured, by sleeping the calling
// thread), as percent of one core; a process gone by the end of the window counts nothing.
std::vector<double> CpuPercentOver(const std::vector<std::vector<pid_t>>& groups, double seconds);

}  // namespace duplex::bench
