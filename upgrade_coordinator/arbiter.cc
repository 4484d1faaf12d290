#include "upgrade_coordinator/arbiter.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "common/assert.h"

namespace duplex {

Arbiter::Arbiter(ArbiterOptions options, RecordStore* store)
    : options_(std::move(options)),
      records_(options_, store),
      replicas_(options_, &records_),
      failover_(options_, &records_, &replicas_, this) {}

Status Arbiter::Recover(int64_t now_us) {
  replicas_.Begin(now_us);
  failover_.Begin(now_us);
  now_us_ = now_us;
  return records_.Load();
}

std::vector<ArbiterAction> Arbiter::TakeActions() {
  std::vector<ArbiterAction> out;
  out.swap(actions_);
  return out;
}

Assignment Arbiter::AssignmentFor(const std::string& name) const {
  const ClusterRecord& record = records_.record();
  Assignment a;
  a.epoch = record.epoch;
  a.cluster_version = record.cluster_version;
  if (record.active.empty() || records_.Failed(name) ||
      (records_.Isolated(name) && name != record.active)) {
    return a;  // out of service
  }
  std::string other = options_.Other(name);
  if (name == record.active) {
    a.role = WireRole::kActive;
    a.peer_name = other;
    a.peer_endpoint = options_.Find(other)->endpoint;
    a.skip_lease_wait = record.skip_lease_wait;
    a.standby_in_sync = records_.InSync(other);
    a.solo_grant_id = record.solo_grant_id;
    a.sync_id = record.sync_id;
    DUPLEX_ASSERT(a.solo_grant_id == 0 || a.solo_grant_id < a.sync_id || !a.standby_in_sync,
                  "an active is never granted solo with its standby in sync", a.solo_grant_id,
                  a.sync_id);
    const ReplicaView& v = replicas_.view(name);
    // A quiesce holds the active's requests; a release that predates `hold` would ignore
    // it, so it is drained as before a switchover (its clients back off meanwhile).
    a.hold = quiesce_ && v.last && v.last->holds;
    a.drain = failover_.draining() || (quiesce_ && !a.hold);
    // Taken out of service on purpose (an upgrade isolates it): the active asks to go solo
    // at once instead of waiting out an ack timeout for a standby that will not answer.
    a.standby_out = records_.Isolated(other) || records_.Failed(other);
    // Renew the lease unless a failover away from this replica is under way.
    if (!failover_.pending() && v.last && v.last->epoch == record.epoch) {
      a.lease_echo_us = v.last->sent_us;
    }
  } else {
    a.role = WireRole::kStandby;
    a.peer_name = record.active;
    a.peer_endpoint = options_.Find(record.active)->endpoint;
  }
  DUPLEX_ASSERT(a.peer_name != name, "a replica's peer is the other one", name);
  return a;
}

void Arbiter::Send(const std::string& name) {
  Assignment a = AssignmentFor(name);
  // What it carries is the durable record: persisted before it is announced.
  DUPLEX_ASSERT(a.epoch == record().epoch && a.cluster_version == record().cluster_version,
                "an assignment carries the recorded epoch", a.epoch, record().epoch);
  if (a.lease_echo_us != 0) failover_.LeaseGranted(now_us_);
  actions_.push_back(SendAssignment{name, std::move(a)});
}

std::string Arbiter::RefuseStep(const StatusReport& s) {
  const uint64_t step = options_.epoch_step_max;
  std::string why;
  uint64_t n = 0;
  if (BeyondStep(s.epoch, record().epoch, step)) {
    // Adopted, 2^64-1 would be persisted and wrap at the next promotion: every later
    // assignment refused as stale, across restarts.
    why = "epoch " + std::to_string(s.epoch) + " is more than " + std::to_string(step) +
          " above the recorded " + std::to_string(record().epoch);
    n = ++counters_.epochs_refused;
  } else if (s.epoch == record().epoch && s.replica == record().active &&
             BeyondStep(s.solo_request_id, record().sync_id, step)) {
    // Processed, it would leave the standby recorded out of sync for the rest of the epoch:
    // the active's real requests would all look processed already.
    why = "solo request id " + std::to_string(s.solo_request_id) + " is more than " +
          std::to_string(step) + " above the processed " + std::to_string(record().sync_id);
    n = ++counters_.solo_request_ids_refused;
  }
  if (n != 0 && (n <= 100 || n % 1000 == 0)) {
    spdlog::warn("status of {} refused: {} (limits.epoch_step_max)", s.replica, why);
  }
  return why;
}

std::string Arbiter::OnStatus(const StatusReport& s, int64_t now_us) {
  now_us_ = now_us;
  if (std::string why = RefuseStep(s); !why.empty()) return why;
  if (!replicas_.Adopt(s, now_us)) return "";
  if (!s.version.empty() && s.version != VersionOf(s.replica) &&
      replicas_.RequestStop(s.replica, /*planned=*/false)) {
    // A reload cut short: a coordinator killed after recording the new version and before
    // stopping the process adopts it still on the old one. Restarted like a crash, so a
    // binary that never reports its assigned version ends marked failed instead of
    // restarting forever.
    spdlog::warn("replica {} runs {} but is assigned {}: restarting it", s.replica, s.version,
                 VersionOf(s.replica));
    actions_.push_back(StopReplica{s.replica});
  }
  if (s.epoch > record().epoch) {
    // Only possible if our record was lost: never hand out an epoch someone has seen.
    records_.AdoptEpoch(s.epoch);
  }
  DUPLEX_ASSERT(s.epoch <= record().epoch, "no replica is ahead of the record", s.epoch,
                record().epoch);
  if (s.replica == record().active && s.epoch == record().epoch && s.role == WireRole::kActive) {
    HandleSoloProtocol(s);
    failover_.OnActiveReport(now_us);
  }
  Send(s.replica);
  return "";
}

void Arbiter::HandleSoloProtocol(const StatusReport& s) {
  DUPLEX_ASSERT(s.replica == record().active && s.epoch == record().epoch,
                "the solo protocol is the current active's", s.replica, s.epoch);
  if (s.solo_request_id <= record().sync_id) return;  // already processed
  std::string standby = options_.Other(s.replica);
  if (s.want_solo) {
    // The standby may be about to take over: no solo.
    if (failover_.pending() || failover_.draining()) return;
    // Its stream reaches an in-sync standby, which acks it: the active does not hear the
    // acks (a one-way cut). Going solo would leave the one replica that can take over out
    // of sync; refused (asked again at each report) until the standby stops following.
    auto r = replicas_.RecentReport(standby, now_us_);
    if (r && r->follows_active && r->epoch == record().epoch && r->in_sync &&
        records_.InSync(standby)) {
      if (solo_refused_id_ != s.solo_request_id) {
        spdlog::warn(
            "epoch {}: {} asks to go solo but {} follows its stream: refused (the "
            "acks do not reach {})",
            record().epoch, s.replica, standby, s.replica);
        solo_refused_id_ = s.solo_request_id;
      }
      return;
    }
    records_.GrantSolo(standby, s.solo_request_id);
    spdlog::info("epoch {}: standby {} recorded out of sync; {} may go solo (request {})",
                 record().epoch, standby, s.replica, s.solo_request_id);
  } else if (s.peer_caught_up) {
    records_.RecordInSync(standby, s.solo_request_id);
    spdlog::info("epoch {}: standby {} recorded in sync", record().epoch, standby);
  }
}

void Arbiter::OnProcessStarted(const std::string& name, int32_t pid, int64_t now_us) {
  now_us_ = now_us;
  replicas_.Started(name, pid, now_us);
}

void Arbiter::OnProcessPid(const std::string& name, int32_t pid) { replicas_.KnownPid(name, pid); }

void Arbiter::OnProcessExited(const std::string& name, int64_t now_us) {
  OnProcessesExited({name}, now_us);
}

void Arbiter::OnProcessesExited(const std::vector<std::string>& names, int64_t now_us) {
  now_us_ = now_us;
  // First every process is marked gone, then the failover is decided: the standby may be
  // among the dead (the pair killed at once), and Promotable must see it so.
  std::vector<std::pair<std::string, bool>> exited;  // name, planned
  for (const std::string& name : names) {
    std::optional<bool> planned = replicas_.Exited(name, now_us);
    if (planned) exited.emplace_back(name, *planned);  // else not a member, or not running
  }
  for (const auto& [name, planned] : exited) {
    if (name == record().active) failover_.OnActiveExited(name, now_us);
  }
  for (const auto& [name, planned] : exited) {
    DUPLEX_ASSERT(!replicas_.view(name).process_alive, "an exited process stays down until started",
                  name);
    replicas_.ScheduleRestart(name, planned, now_us);
  }
}

void Arbiter::OnTick(int64_t now_us) {
  now_us_ = now_us;
  for (const std::string& name : replicas_.DueStarts(now_us)) {
    actions_.push_back(StartReplica{name});
  }
  failover_.OnTick(now_us);
}

Status Arbiter::RequestSwitchover(int64_t now_us, bool by_campaign) {
  now_us_ = now_us;
  return failover_.RequestSwitchover(now_us, by_campaign);
}

void Arbiter::SetIsolated(const std::string& name, bool isolated) {
  if (records_.Isolated(name) == isolated || !replicas_.Has(name)) return;
  records_.SetIsolated(name, isolated);
  spdlog::info("replica {} {}", name, isolated ? "isolated" : "back in service");
  if (replicas_.view(name).process_alive) Send(name);
  if (!record().active.empty() && record().active != name) Send(record().active);  // standby_out
}

void Arbiter::SetReplicaVersion(const std::string& name, const std::string& version) {
  if (!replicas_.Has(name)) return;
  records_.SetReplicaVersion(name, version);
  if (replicas_.Reload(name, version, now_us_)) actions_.push_back(StopReplica{name});
}

void Arbiter::SetClusterVersion(const std::string& version) {
  if (record().cluster_version == version) return;
  records_.SetClusterVersion(version);  // before any replica hears of it
  spdlog::info("cluster version {}: features up to it are enabled", version);
  for (const auto& [name, v] : replicas_.views()) {
    if (v.process_alive) Send(name);
  }
}

void Arbiter::SetQuiesce(bool quiesce) {
  if (quiesce_ == quiesce) return;
  quiesce_ = quiesce;
  if (!record().active.empty()) Send(record().active);
}

void Arbiter::SetLock(bool held) {
  if (record().lock == held) return;
  records_.SetLock(held);
}

std::string Arbiter::VersionOf(const std::string& name) const { return records_.VersionOf(name); }

std::optional<StatusReport> Arbiter::RecentReport(const std::string& name, int64_t now_us) const {
  return replicas_.RecentReport(name, now_us);
}

bool Arbiter::StandbyInSync(const std::string& name, int64_t now_us) const {
  auto r = RecentReport(name, now_us);
  uint64_t active_seq = 0;
  if (auto a = RecentReport(record().active, now_us)) active_seq = a->applied_seq;
  return r && records_.InSync(name) && r->role_path == "Standby/InSync" &&
         r->applied_seq + 1000 >= active_seq;
}

bool Arbiter::Promotable(const std::string& name, int64_t now_us, std::string* why) const {
  return failover_.Promotable(name, now_us, why);
}

int64_t Arbiter::NextTickUs(int64_t now_us) const {
  const int64_t soon_us = now_us + kTransitionTickUs;
  if (!actions_.empty()) return soon_us;
  for (const auto& [name, v] : replicas_.views()) {
    if (!v.process_alive && !records_.Failed(name)) return soon_us;  // a start may be due
  }
  const int64_t act_us = failover_.NextActUs(now_us);
  return act_us == 0 ? soon_us : act_us;
}

}  // namespace duplex
