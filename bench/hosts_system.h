// The two-host failover benchmark (`duplex bench failover --hosts 2`): one side of the
// comparison deployed on a lab (chaos/lab/: hosts on 127.0.N.1, every process tagged with its
// host) and the three faults applied to the host of its active / primary. Deployments start
// on first use and stop in Stop() or the destructor, by their PIDs and lab tags. Blocking,
// bounded, one thread (the one that lives as long as the deployment).
#pragma once

#include <cstdint>
#include <istream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "bench/figures.h"
#include "bench/system.h"
#include "common/status.h"

namespace duplex::bench {

enum class HostFault {
  kHostCrash,     // every process of the active's host SIGKILLed at once (lab crash)
  kHostFreeze,    // every process of the active's host SIGSTOPped (lab freeze), later thawed
  kProcessCrash,  // the active process alone SIGKILLed; its host (and agent) live on
};
inline constexpr HostFault kHostFaults[] = {HostFault::kProcessCrash, HostFault::kHostCrash,
                                            HostFault::kHostFreeze};
// The figure's stem as the issue spells it: "host_crash", "host_freeze",
// "remote_process_crash" (then "_failover_ms", "_lost_writes").
const char* HostFaultKey(HostFault fault);

struct LabOptions {
  std::string build_dir;  // where duplex and the kv binaries are
  std::string scratch;    // a directory of its own, emptied first
  int first_host = 1;     // the lab's hosts are 127.0.<first_host + i>.1
  int first_port = 0;     // ports from here on, one after the other; 0 = free ports picked
  bool curve = true;      // duplex: CURVE on its ZeroMQ links (LabUpOptions::curve)
};

// Hands out the deployments' ports: consecutive from first_port, else free ones.
class PortSource {
 public:
  explicit PortSource(int first_port) : next_(first_port) {}
  int Next();

 private:
  int next_;
};

// "127.0.<first_host + index>.1".
std::string LabAddress(const LabOptions& options, int index);
// Where a bench's lab starts: options' paths made absolute, a lab an earlier run left up in
// <scratch>/lab taken down, scratch emptied.
Status PrepareLabScratch(LabOptions* options);

class HostsSystem {
 public:
  virtual ~HostsSystem() = default;
  virtual std::string Name() const = 0;
  virtual std::string Describe() const = 0;
  // The fault applied to the host of the node serving now, under three writers in sync mode;
  // the time from the fault to the first write acknowledged by the other node, and the
  // acknowledged writes missing afterwards (read back). The next trial finds the pair healthy
  // again: a crashed host booted and its node back in sync, a frozen one thawed and in sync.
  virtual StatusOr<FailoverTrial> Failover(HostFault fault) = 0;
  virtual void Stop() = 0;
};

// duplex: a lab of two hosts (a on h1, b on h2, one agent each), the coordinator outside both
// at 127.0.0.1.
std::unique_ptr<HostsSystem> MakeDuplexHostsSystem(const LabOptions& options);
// Redis: primary a on h1, replica b on h2, Sentinels s1, s2, s3 on h1, h2, h3 (three hosts:
// the Sentinel on the primary's host dies with it).
std::unique_ptr<HostsSystem> MakeRedisHostsSystem(const LabOptions& options);

// Where a duplex failover's time went, from the coordinator's event log (<data_dir>/
// events.jsonl: one JSON object a line, t_us on the steady clock the benchmark reads too):
// after t_us, when the coordinator first recorded `old_active` not alive (a process exit its
// agent reported, or a replica given up on) and when it first named another active. -1: not
// in the log. Lines that are not JSON objects are skipped.
struct CoordinatorTimes {
  int64_t down_us = -1;
  int64_t promoted_us = -1;
};
CoordinatorTimes CoordinatorTimesAfter(std::istream& events, int64_t t_us,
                                       const std::string& old_active);

// The targets for the two-host figures, judged on what `figures` holds: remote
// process crash p99 < 20 ms, host crash and freeze p99 < 400 ms, each at least 5x faster
// than the peer (ratio of medians, when a peer ran), zero lost acknowledged writes for
// duplex. {"<key>_failover_ms": {"p99_ms", "p99_target_ms", "p99_met", "speedup",
// "speedup_met", "lost_writes", "lost_met"}}; faults without duplex samples are left out.
nlohmann::json HostTargets(const Figures& figures);

}  // namespace duplex::bench
