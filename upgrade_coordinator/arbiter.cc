#include "upgrade_coordinator/arbiter.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>

#include "common/fatal.h"

namespace duplex {

Arbiter::Arbiter(ArbiterOptions options, RecordStore* store)
    : options_(std::move(options)), store_(store) {
  for (const auto& m : options_.replicas) views_[m.name].name = m.name;
}

Status Arbiter::Recover(int64_t now_us) {
  started_us_ = now_us;
  now_us_ = now_us;
  auto loaded = store_->Load();
  if (!loaded.ok()) return loaded.status();
  if (loaded->has_value()) {
    record_ = **loaded;
    spdlog::info("recovered: epoch {}, active '{}'", record_.epoch, record_.active);
  }
  if (record_.cluster_version.empty()) {
    ClusterRecord next = record_;
    next.cluster_version = options_.initial_version;
    Persist(next);
  }
  return Status::Ok();
}

std::vector<ArbiterAction> Arbiter::TakeActions() {
  std::vector<ArbiterAction> out;
  out.swap(actions_);
  return out;
}

const ArbiterOptions::Member* Arbiter::Member(const std::string& name) const {
  for (const auto& m : options_.replicas) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

std::string Arbiter::Other(const std::string& name) const {
  for (const auto& m : options_.replicas) {
    if (m.name != name) return m.name;
  }
  return "";
}

bool Arbiter::Recent(const ReplicaView& v, int64_t now_us) const {
  return v.process_alive && v.last && now_us - v.last_seen_us < options_.failure_timeout_ms * 1000;
}

void Arbiter::Persist(const ClusterRecord& next) {
  Status s = store_->Save(next);
  // Without a durable record the coordinator must not decide anything: stop, and resume
  // from the last record when restarted.
  if (!s.ok()) Fatal(Status(s.code(), "cannot persist the cluster record: " + s.message()));
  record_ = next;
}

Assignment Arbiter::AssignmentFor(const std::string& name) const {
  Assignment a;
  a.epoch = record_.epoch;
  a.cluster_version = record_.cluster_version;
  bool failed = record_.failed.count(name) && record_.failed.at(name);
  bool isolated = record_.isolated.count(name) && record_.isolated.at(name);
  if (record_.active.empty() || failed || (isolated && name != record_.active)) {
    return a;  // out of service
  }
  std::string other = Other(name);
  if (name == record_.active) {
    a.role = WireRole::kActive;
    a.peer_name = other;
    a.peer_endpoint = Member(other)->endpoint;
    a.skip_lease_wait = record_.skip_lease_wait;
    a.standby_in_sync = record_.in_sync.count(other) && record_.in_sync.at(other);
    a.solo_grant_id = record_.solo_grant_id;
    a.sync_id = record_.sync_id;
    const auto& v = views_.at(name);
    // A quiesce holds the active's requests; a release that predates `hold` would ignore
    // it, so it is drained as before a switchover (its clients back off meanwhile).
    a.hold = quiesce_ && v.last && v.last->holds;
    a.drain = switchover_.has_value() || (quiesce_ && !a.hold);
    // Taken out of service on purpose (an upgrade isolates it): the active asks to go solo
    // at once instead of waiting out an ack timeout for a standby that will not answer.
    a.standby_out = (record_.isolated.count(other) && record_.isolated.at(other)) ||
                    (record_.failed.count(other) && record_.failed.at(other));
    // Renew the lease unless a failover away from this replica is under way.
    if (!failover_ && v.last && v.last->epoch == record_.epoch) a.lease_echo_us = v.last->sent_us;
  } else {
    a.role = WireRole::kStandby;
    a.peer_name = record_.active;
    a.peer_endpoint = Member(record_.active)->endpoint;
  }
  return a;
}

void Arbiter::Send(const std::string& name) {
  Assignment a = AssignmentFor(name);
  if (a.lease_echo_us != 0) last_grant_us_ = now_us_;
  actions_.push_back(SendAssignment{name, std::move(a)});
}

void Arbiter::OnStatus(const StatusReport& s, int64_t now_us) {
  now_us_ = now_us;
  auto it = views_.find(s.replica);
  if (it == views_.end()) {
    spdlog::warn("status from unknown replica '{}' ignored", s.replica);
    return;
  }
  ReplicaView& v = it->second;
  if (s.pid != 0 &&
      std::find(v.exited_pids.begin(), v.exited_pids.end(), s.pid) != v.exited_pids.end()) {
    // Sent before its process exited, read after: adopting it would mark a dead process
    // alive, and it would never be restarted.
    return;
  }
  v.last = s;
  v.last_seen_us = now_us;
  if (!v.process_alive || v.pid != s.pid) {
    v.process_alive = true;  // a report proves the process runs (adopted after our restart)
    v.pid = s.pid;
  }
  if (!s.version.empty() && s.version != VersionOf(s.replica) && !v.stop_requested) {
    // A reload cut short: a coordinator killed after recording the new version and before
    // stopping the process adopts it still on the old one (found by the chaos suite).
    // Restarted like a crash, so a binary that never reports its assigned version ends
    // marked failed instead of restarting forever.
    spdlog::warn("replica {} runs {} but is assigned {}: restarting it", s.replica, s.version,
                 VersionOf(s.replica));
    v.stop_requested = true;
    actions_.push_back(StopReplica{s.replica});
  }
  if (s.epoch > record_.epoch) {
    // Only possible if our record was lost: never hand out an epoch someone has seen.
    ClusterRecord next = record_;
    next.epoch = s.epoch;
    next.active.clear();
    Persist(next);
  }
  if (s.replica == record_.active && s.epoch == record_.epoch && s.role == WireRole::kActive) {
    HandleSoloProtocol(s);
    CheckSwitchover(now_us);
  }
  Send(s.replica);
}

void Arbiter::HandleSoloProtocol(const StatusReport& s) {
  if (s.solo_request_id <= record_.sync_id) return;  // already processed
  std::string standby = Other(s.replica);
  if (s.want_solo) {
    if (failover_ || switchover_) return;  // the standby may be about to take over: no solo
    ClusterRecord next = record_;
    next.in_sync[standby] = false;
    next.solo_grant_id = s.solo_request_id;
    next.sync_id = s.solo_request_id;
    Persist(next);
    spdlog::info("epoch {}: standby {} recorded out of sync; {} may go solo (request {})",
                 record_.epoch, standby, s.replica, s.solo_request_id);
  } else if (s.peer_caught_up) {
    ClusterRecord next = record_;
    next.in_sync[standby] = true;
    next.sync_id = s.solo_request_id;
    Persist(next);
    spdlog::info("epoch {}: standby {} recorded in sync", record_.epoch, standby);
  }
}

void Arbiter::SetIsolated(const std::string& name, bool isolated) {
  bool now = record_.isolated.count(name) && record_.isolated.at(name);
  if (now == isolated || !views_.count(name)) return;
  ClusterRecord next = record_;
  next.isolated[name] = isolated;
  Persist(next);
  spdlog::info("replica {} {}", name, isolated ? "isolated" : "back in service");
  if (views_.at(name).process_alive) Send(name);
  if (!record_.active.empty() && record_.active != name) Send(record_.active);  // standby_out
}

void Arbiter::SetReplicaVersion(const std::string& name, const std::string& version) {
  if (!views_.count(name)) return;
  ClusterRecord next = record_;
  next.replica_version[name] = version;
  next.failed[name] = false;  // a release that crash-looped is replaced, not blamed forever
  Persist(next);
  ReplicaView& v = views_.at(name);
  v.crashes_us.clear();
  if (v.last && v.last->version == version) return;  // already runs it
  spdlog::info("replica {}: reload with {}", name, version);
  if (v.process_alive) {
    planned_restart_[name] = true;
    if (!v.stop_requested) actions_.push_back(StopReplica{name});
    v.stop_requested = true;
  } else {
    v.restart_at_us = now_us_;  // start it with the new version now
  }
}

void Arbiter::SetClusterVersion(const std::string& version) {
  if (record_.cluster_version == version) return;
  ClusterRecord next = record_;
  next.cluster_version = version;
  Persist(next);  // before any replica hears of it
  spdlog::info("cluster version {}: features up to it are enabled", version);
  for (const auto& [name, v] : views_) {
    if (v.process_alive) Send(name);
  }
}

void Arbiter::SetQuiesce(bool quiesce) {
  if (quiesce_ == quiesce) return;
  quiesce_ = quiesce;
  if (!record_.active.empty()) Send(record_.active);
}

void Arbiter::SetLock(bool held) {
  if (record_.lock == held) return;
  ClusterRecord next = record_;
  next.lock = held;
  Persist(next);
}

std::string Arbiter::VersionOf(const std::string& name) const {
  auto it = record_.replica_version.find(name);
  return it == record_.replica_version.end() || it->second.empty() ? options_.initial_version
                                                                   : it->second;
}

std::optional<StatusReport> Arbiter::RecentReport(const std::string& name, int64_t now_us) const {
  auto it = views_.find(name);
  if (it == views_.end()) return std::nullopt;
  const ReplicaView& v = it->second;
  bool recent = v.process_alive && v.last &&
                now_us - v.last_seen_us < int64_t{options_.failure_timeout_ms} * 1000;
  return recent ? v.last : std::nullopt;
}

bool Arbiter::StandbyInSync(const std::string& name, int64_t now_us) const {
  auto r = RecentReport(name, now_us);
  uint64_t active_seq = 0;
  if (auto a = RecentReport(record_.active, now_us)) active_seq = a->applied_seq;
  return r && record_.in_sync.count(name) && record_.in_sync.at(name) &&
         r->role_path == "Standby/InSync" && r->applied_seq + 1000 >= active_seq;
}

bool Arbiter::Promotable(const std::string& name, int64_t now_us, std::string* why) const {
  auto fail = [&](const std::string& reason) {
    if (why != nullptr) *why = name + ": " + reason;
    return false;
  };
  const ReplicaView& v = views_.at(name);
  if (record_.failed.count(name) && record_.failed.at(name)) return fail("marked failed");
  if (record_.isolated.count(name) && record_.isolated.at(name)) return fail("isolated");
  if (!Recent(v, now_us)) return fail("not reporting");
  if (!v.last->healthy) return fail("unhealthy: " + v.last->health_detail);
  if (std::string assigned = VersionOf(name);
      !v.last->version.empty() && v.last->version != assigned) {
    // Being restarted with another version (found by the simulator: promoted on its way
    // down, it came back unable to read its own state, and nobody could serve).
    return fail("runs " + v.last->version + " but is being restarted with " + assigned);
  }
  bool recorded = record_.in_sync.count(name) && record_.in_sync.at(name);
  if (name == record_.active || (record_.active.empty() && name == record_.last_active)) {
    return true;  // it holds every acknowledged write of its own term
  }
  if (v.last->epoch != record_.epoch)
    return fail("has not reached epoch " + std::to_string(record_.epoch));
  if (recorded) return true;
  if (options_.async && v.last->in_sync) return true;  // async: the unreplicated tail may be lost
  return fail("out of sync");
}

}  // namespace duplex
