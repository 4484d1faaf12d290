// `duplex bench coordinator`: the coordinators' own failover on a lab of three hosts with etcd
// (chaos/lab/: an etcd member, an agent and a coordinator on each; replicas a on h1, b on h2),
// under the writing clients of bench/hosts_system's failover. CoordinatorLab starts on first
// use and stops in Stop() or its destructor, by PIDs and lab tags; blocking, bounded, one thread.
// CoordinatorFiguresJson is the pure arithmetic of what it measured (thread-safe).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "bench/hosts_system.h"
#include "common/status.h"

namespace duplex::bench {

// Patroni on etcd, as issue 19 measured it on this kind of machine (no Patroni runs here): a
// host crash moved its leader lock after 5.4 s tuned (ttl 5 / loop_wait 1 / retry_timeout 2,
// the fastest that worked) and 20.8 s with its defaults (ttl 30 / loop_wait 10 / retry 10).
inline constexpr double kPatroniTunedMs = 5400;
inline constexpr double kPatroniDefaultsMs = 20800;
// The targets: leader failover p99 under 2 s, at least 3x faster than tuned Patroni.
inline constexpr double kLeaderFailoverP99TargetMs = 2000;
inline constexpr double kPatroniSpeedupTarget = 3;

// One leader failover: the leading coordinator SIGKILLed at t0.
struct LeaderFailoverTrial {
  double leader_failover_ms = -1;  // t0 -> a survivor's /status says leader, higher term
  double gap_ms = -1;         // the longest gap between acknowledged writes in the failover window
  double window_ms = 0;       // that window: t0 -> the new leader acting, plus a settling time
  double steady_gap_ms = -1;  // the longest gap in a window as long, just before t0
  double steady_window_ms = 0;  // that one's length (shorter only if the writers ran less)
  uint64_t lost = 0;            // acknowledged writes missing afterwards
};

// The leader SIGKILLed and, 100 ms later, the active's host crashed.
struct CombinedTrial {
  double first_ack_ms = -1;  // host crash -> first write acknowledged by the other replica
  double first_ack_from_leader_kill_ms = -1;
  bool same_host = false;  // the leading coordinator was on the active's host
  uint64_t lost = 0;
};

// What a run measured; -1 / empty for what did not run or did not happen.
struct CoordinatorSamples {
  std::vector<LeaderFailoverTrial> trials;
  std::vector<CombinedTrial> combined;
};

// The JSON `duplex bench coordinator --json` prints: leader_failover_ms {p50, p99, min, max,
// samples}, client_gap_during_leader_failover_ms and steady_gap_ms (the longest of every trial)
// and their ratio client_gap_ratio, failover_during_leader_failover_ms (the longest combined
// trial), lost_writes (every trial), the Patroni anchor (the figures) with
// speedup_vs_patroni_tuned = 5400 / p50 and speedup_vs_patroni_defaults, and targets.
nlohmann::json CoordinatorFiguresJson(const CoordinatorSamples& samples);

class CoordinatorLab {
 public:
  virtual ~CoordinatorLab() = default;
  virtual std::string Describe() const = 0;
  // Waits for a leader and a synced pair first, as each trial does; leaves the killed
  // coordinator (and a crashed host) started again and the lab waiting for the same.
  virtual StatusOr<LeaderFailoverTrial> LeaderFailover() = 0;
  virtual StatusOr<CombinedTrial> LeaderKillThenActiveHostCrash() = 0;
  virtual void Stop() = 0;
};

// options.first_host: h1..h3 at 127.0.<first_host + i>.1; ten ports from options.first_port.
std::unique_ptr<CoordinatorLab> MakeCoordinatorLab(const LabOptions& options);

}  // namespace duplex::bench
