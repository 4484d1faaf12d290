// Arbiter: the coordinator's failover brain, sans-I/O. It reads replica status
// reports and process exits, keeps the durable cluster record (epoch, active,
// which standby is in sync, solo grants) and answers every report with an
// Assignment. Promotion raises the epoch and is persisted before it is
// announced. The daemon (or the simulator) delivers events and carries out
// actions. Single-threaded.
//
// It is three parts and the glue between them: the RecordKeeper (arbiter_record.h) is
// the only writer of the record, the ReplicaTracker (arbiter_replicas.h) knows the
// processes and the restart policy, Failover (arbiter_failover.h) decides who is active.
// The Arbiter dispatches events to them, writes assignments, runs the active's solo
// protocol and carries out the campaign's commands.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "replica/frame.h"
#include "upgrade_coordinator/arbiter_failover.h"
#include "upgrade_coordinator/arbiter_record.h"
#include "upgrade_coordinator/arbiter_replicas.h"
#include "upgrade_coordinator/arbiter_types.h"

namespace duplex {

class Arbiter : private Announcer {
 public:
  Arbiter(ArbiterOptions options, RecordStore* store);
  // Its parts point at its options and at each other.
  Arbiter(const Arbiter&) = delete;
  Arbiter& operator=(const Arbiter&) = delete;

  Status Recover(int64_t now_us);
  // Takes a replica's report; returns why it was refused ("" when taken): an epoch more than
  // epoch_step_max above the record's, or an active's solo request id as far above the
  // record's sync id (counted in counters(), logged). Nothing of a refused report is kept.
  std::string OnStatus(const StatusReport& status, int64_t now_us);
  void OnProcessStarted(const std::string& name, int32_t pid, int64_t now_us);
  void OnProcessExited(const std::string& name, int64_t now_us);
  // Several exits learnt at once (one agent report): every one is taken in before any
  // failover is decided, so that a replica whose exit is in the same report (both killed at
  // one instant, reaped in one pass) is never promoted as the survivor.
  void OnProcessesExited(const std::vector<std::string>& names, int64_t now_us);
  // The pid of a process whose start was announced without one (its agent started it).
  void OnProcessPid(const std::string& name, int32_t pid);
  void OnTick(int64_t now_us);
  // When OnTick must run again if nothing arrives first (steady us), OnTick having run at
  // now_us: at rest, when the active's silence would reach failure_timeout_ms (its reports
  // normally come first) or a pending failover may promote; while anything is in motion
  // (no active yet, a replica down, a switchover), kTransitionTickUs after now_us.
  int64_t NextTickUs(int64_t now_us) const;
  static constexpr int64_t kTransitionTickUs = 1000;
  // Planned switchover; it completes asynchronously (see switchover_state()). Refused
  // while the management lock is held, unless the campaign holding it asks.
  Status RequestSwitchover(int64_t now_us, bool by_campaign = false);
  // Upgrade commands, each persisted before it is announced.
  void SetIsolated(const std::string& name, bool isolated);
  void SetReplicaVersion(const std::string& name, const std::string& version);
  void SetClusterVersion(const std::string& version);
  void SetLock(bool held);
  // Pause writes on the active (it holds new requests, uncommitted and unrefused, and
  // finishes replicating the rest) so that both replicas reach the same seq, e.g. to
  // compare digests.
  void SetQuiesce(bool quiesce);
  std::string VersionOf(const std::string& name) const;
  std::vector<ArbiterAction> TakeActions();

  const ClusterRecord& record() const { return records_.record(); }
  const std::map<std::string, ReplicaView>& replicas() const { return replicas_.views(); }
  const std::vector<TransitionEvent>& transitions() const { return failover_.transitions(); }
  const ArbiterCounters& counters() const { return counters_; }
  // "idle", "draining <name>", "done", "failed: <reason>"
  const std::string& switchover_state() const { return failover_.switchover_state(); }
  bool Promotable(const std::string& name, int64_t now_us, std::string* why = nullptr) const;
  // The replica's latest report, if its process runs and reported within the failure
  // timeout. What the campaign reads of the cluster (CampaignHost) comes from these two.
  std::optional<StatusReport> RecentReport(const std::string& name, int64_t now_us) const;
  // Recorded in sync, and following the live stream closely (a standby in sync by the
  // record may still be catching up on the last batch).
  bool StandbyInSync(const std::string& name, int64_t now_us) const;

 private:
  void Announce(const std::string& name) override { Send(name); }
  Assignment AssignmentFor(const std::string& name) const;
  void Send(const std::string& name);
  void HandleSoloProtocol(const StatusReport& s);
  // Why the report jumps past the step bound ("" when it does not); counts and logs it.
  std::string RefuseStep(const StatusReport& s);

  const ArbiterOptions options_;
  RecordKeeper records_;
  ReplicaTracker replicas_;
  Failover failover_;
  std::vector<ArbiterAction> actions_;
  int64_t now_us_ = 0;
  bool quiesce_ = false;
  uint64_t solo_refused_id_ = 0;  // the last solo request refused (logged once)
  ArbiterCounters counters_;
};

}  // namespace duplex
