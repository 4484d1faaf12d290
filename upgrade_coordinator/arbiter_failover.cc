#include "upgrade_coordinator/arbiter_failover.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "common/assert.h"

namespace duplex {

Failover::Failover(const ArbiterOptions& options, RecordKeeper* records,
                   const ReplicaTracker* replicas, Announcer* announcer)
    : options_(options), records_(records), replicas_(replicas), announcer_(announcer) {
  DUPLEX_ASSERT(records_ != nullptr && replicas_ != nullptr && announcer_ != nullptr,
                "the failover part needs the record, the replicas and an announcer");
}

bool Failover::Fresh() const {
  const ClusterRecord& r = records_->record();
  return r.epoch == 0 || r.last_active.empty();
}

void Failover::LeaseGranted(int64_t now_us) {
  DUPLEX_ASSERT(!pending_, "no lease is renewed while a hang failover waits it out",
                pending_ ? pending_->target : "");
  last_grant_us_ = now_us;
}

bool Failover::Promotable(const std::string& name, int64_t now_us, std::string* why) const {
  auto fail = [&](const std::string& reason) {
    if (why != nullptr) *why = name + ": " + reason;
    return false;
  };
  const ClusterRecord& record = records_->record();
  const ReplicaView& v = replicas_->view(name);
  if (records_->Failed(name)) return fail("marked failed");
  if (records_->Isolated(name)) return fail("isolated");
  if (!replicas_->Recent(name, now_us)) return fail("not reporting");
  // A StopReplica is out: its process is on its way down (killed after a grace if it does
  // not go), and promoted it would take the seat with it.
  if (v.stop_requested) return fail("being stopped");
  if (!v.last->healthy) return fail("unhealthy: " + v.last->health_detail);
  if (std::string assigned = records_->VersionOf(name);
      !v.last->version.empty() && v.last->version != assigned) {
    // Being restarted with another version: promoted on its way down, it would come back
    // unable to read its own state, and nobody could serve.
    return fail("runs " + v.last->version + " but is being restarted with " + assigned);
  }
  if (name == record.active || (record.active.empty() && name == record.last_active)) {
    return true;  // it holds every acknowledged write of its own term
  }
  if (v.last->epoch != record.epoch)
    return fail("has not reached epoch " + std::to_string(record.epoch));
  if (records_->InSync(name)) return true;
  if (options_.async && v.last->in_sync) return true;  // async: the unreplicated tail may be lost
  return fail("out of sync");
}

// The rules a promotion must satisfy, stated once more where it happens: each of them
// was checked by the path that decided it (Promotable, or a fresh election's eligibility).
void Failover::CheckPromotion(const std::string& name, const std::string& kind, int64_t detected_us,
                              int64_t now_us) const {
  const ClusterRecord& record = records_->record();
  DUPLEX_ASSERT(detected_us <= now_us, "detected before promoted", detected_us, now_us);
  DUPLEX_ASSERT(!records_->Failed(name), "a failed replica is never promoted", name);
  DUPLEX_ASSERT(replicas_->Recent(name, now_us), "the promoted replica runs and reports", name);
  const StatusReport& report = *replicas_->view(name).last;
  DUPLEX_ASSERT(report.healthy, "the promoted replica is healthy", name, report.health_detail);
  DUPLEX_ASSERT(transitions_.empty() || transitions_.back().epoch <= record.epoch,
                "transitions follow the epochs", transitions_.back().epoch, record.epoch);
  if (kind == "election") {
    DUPLEX_ASSERT(record.active.empty(), "an election fills an empty seat", record.active);
    if (Fresh()) return;  // a new cluster: the most state wins, whatever the record says
  } else {
    DUPLEX_ASSERT(
        name == options_.Other(record.active.empty() ? record.last_active : record.active),
        "a failover or switchover promotes the other replica", kind, name);
  }
  DUPLEX_ASSERT(!records_->Isolated(name), "an isolated replica is never promoted", name);
  DUPLEX_ASSERT(report.version.empty() || report.version == records_->VersionOf(name),
                "the promoted replica runs its assigned version", name, report.version,
                records_->VersionOf(name));
  bool own_term = name == record.active || (record.active.empty() && name == record.last_active);
  DUPLEX_ASSERT(own_term || report.epoch == record.epoch, "the promoted replica reached epoch",
                record.epoch, "it reports", report.epoch);
  DUPLEX_ASSERT(own_term || records_->InSync(name) || (options_.async && report.in_sync),
                "the promoted replica holds every acknowledged write", name, kind);
  DUPLEX_ASSERT(kind != "hang failover" || now_us >= last_grant_us_ + options_.lease_ms * 1000,
                "a hang failover waits out the last lease granted", now_us, last_grant_us_);
}

void Failover::Promote(const std::string& name, bool skip_lease_wait, const std::string& kind,
                       int64_t detected_us, int64_t now_us) {
  CheckPromotion(name, kind, detected_us, now_us);
  const uint64_t epoch = records_->record().epoch;
  std::string from = records_->record().active.empty() ? records_->record().last_active
                                                       : records_->record().active;
  records_->BeginEpoch(name, skip_lease_wait);  // durable before anyone hears of it
  DUPLEX_ASSERT(records_->record().epoch == epoch + 1 && records_->record().active == name,
                "promoted at the recorded epoch plus one", records_->record().epoch, epoch);
  pending_.reset();
  switchover_.reset();
  transitions_.push_back({kind, from, name, epoch + 1, detected_us, now_us});
  spdlog::info("{}: {} promoted at epoch {} (from '{}', {} us after detection)", kind, name,
               epoch + 1, from, now_us - detected_us);
  announcer_->Announce(name);
  std::string other = options_.Other(name);
  if (replicas_->view(other).process_alive) announcer_->Announce(other);
}

void Failover::OnActiveExited(const std::string& active, int64_t now_us) {
  DUPLEX_ASSERT(active == records_->record().active, "the recorded active exited", active);
  DUPLEX_ASSERT(!replicas_->view(active).process_alive, "its exit was taken in first", active);
  std::string standby = options_.Other(active);
  std::string why;
  if (Promotable(standby, now_us, &why)) {
    // Fast path: the process is gone, so its lease holds nothing. Promote at once.
    Promote(standby, /*skip_lease_wait=*/true, "crash failover", now_us, now_us);
    return;
  }
  // Even a replica promoted in the few ms before its own exit was reported keeps the seat:
  // a promotion is solo request 0 of its epoch, so it may have acknowledged writes alone
  // before it died (found by seed 499: the promoted standby served 100 ms, then lost power).
  spdlog::warn("active {} exited and the standby cannot take over ({}); waiting for {} to restart",
               active, why, active);
  records_->ClearActive();
}

void Failover::OnTick(int64_t now_us) {
  CheckActiveSilence(now_us);
  if (pending_ && now_us >= pending_->not_before_us) {
    std::string why;
    if (Promotable(pending_->target, now_us, &why)) {
      Promote(pending_->target, /*skip_lease_wait=*/false, "hang failover", pending_->detected_us,
              now_us);
    } else {
      spdlog::warn("hang failover cancelled: {}", why);
      pending_.reset();
    }
  }
  MaybeElect(now_us);
  CheckSwitchover(now_us);
}

void Failover::CheckActiveSilence(int64_t now_us) {
  const ClusterRecord& record = records_->record();
  if (record.active.empty() || pending_) return;
  const ReplicaView& v = replicas_->view(record.active);
  if (!v.process_alive) return;  // the exit path handles it
  int64_t silent_us = now_us - std::max(v.last_seen_us, replicas_->started_us());
  if (v.lease_lost_since_us != 0 && v.last && v.last->epoch == record.epoch) {
    // It reports, but nobody renews its lease: it hears neither its standby nor us (a
    // one-way cut). It serves nothing, as if silent, since its lease ran out.
    silent_us =
        std::max(silent_us, now_us - std::max(v.lease_lost_since_us, replicas_->started_us()));
  }
  if (silent_us >= options_.failure_timeout_ms * 1000) {
    ReplaceActive("silent for " + std::to_string(silent_us / 1000) + " ms", now_us);
    return;
  }
  CheckAcksCut(record.active, v, now_us);
}

void Failover::CheckAcksCut(const std::string& active, const ReplicaView& v, int64_t now_us) {
  // The other one-way cut: the active's stream reaches its standby, which follows it, but
  // nothing comes back (solo is refused meanwhile: it would strand the standby). Twice the
  // failure timeout of that and the standby, which has the whole stream, takes over; the cut
  // then stops its stream to the new standby, which stops following, and it may go solo.
  const ClusterRecord& record = records_->record();
  if (v.peer_silent_since_us == 0 || !v.last || v.last->epoch != record.epoch) return;
  const int64_t cut_us = now_us - v.peer_silent_since_us;
  if (cut_us < 2 * int64_t{options_.failure_timeout_ms} * 1000) return;
  const std::string standby = options_.Other(active);
  auto r = replicas_->RecentReport(standby, now_us);
  if (!r || !r->follows_active || r->epoch != record.epoch || !r->in_sync) return;
  ReplaceActive("has heard nothing from " + standby + " for " + std::to_string(cut_us / 1000) +
                    " ms while " + standby + " follows its stream",
                now_us);
}

bool Failover::ReplaceActive(const std::string& why, int64_t now_us) {
  const ClusterRecord& record = records_->record();
  if (record.active.empty() || pending_) return false;
  std::string standby = options_.Other(record.active);
  if (!Promotable(standby, now_us)) return false;
  // Slow path: the active may be hung or cut off and may still hold a lease. Stop
  // renewing it and promote only after the last lease we granted has run out.
  pending_ = PendingFailover{standby, now_us, last_grant_us_ + options_.lease_ms * 1000};
  DUPLEX_ASSERT(standby != record.active, "a hang failover targets the standby", standby);
  spdlog::warn("active {} {}: failing over to {} after its lease", record.active, why, standby);
  return true;
}

void Failover::MaybeElect(int64_t now_us) {
  if (!records_->record().active.empty() || pending_) return;
  if (now_us - replicas_->started_us() < options_.startup_grace_ms * 1000) return;
  const bool fresh = Fresh();
  const ReplicaView* best = nullptr;
  for (const auto& [name, v] : replicas_->views()) {
    bool eligible =
        fresh ? (replicas_->Recent(name, now_us) && v.last->healthy && !records_->Failed(name))
              : Promotable(name, now_us);
    if (!eligible) continue;
    auto rank = [](const ReplicaView& r) {
      return std::make_pair(r.last->applied_epoch, r.last->applied_seq);
    };
    if (best == nullptr || rank(v) > rank(*best)) best = &v;
  }
  if (best == nullptr) return;
  if (fresh) {
    // A new cluster: wait for every replica (bounded by the startup timeout) so the
    // one with the most state wins.
    for (const auto& [name, v] : replicas_->views()) {
      if (!replicas_->Recent(name, now_us) &&
          now_us - replicas_->started_us() < 5 * options_.startup_grace_ms * 1000) {
        return;
      }
    }
  }
  // Nobody is active, so no lease is held by a live active.
  Promote(best->name, /*skip_lease_wait=*/true, "election", now_us, now_us);
}

Status Failover::RequestSwitchover(int64_t now_us, bool by_campaign) {
  const ClusterRecord& record = records_->record();
  if (record.lock && !by_campaign) {
    return FailedPrecondition("an upgrade campaign holds the management lock");
  }
  if (switchover_) return FailedPrecondition("a switchover is already under way");
  if (pending_) return FailedPrecondition("a failover is under way");
  if (record.active.empty()) return FailedPrecondition("no active replica");
  if (!replicas_->Recent(record.active, now_us)) {
    return Unavailable("active " + record.active + " is not reporting");
  }
  std::string standby = options_.Other(record.active);
  std::string why;
  if (!Promotable(standby, now_us, &why)) return FailedPrecondition("standby " + why);
  switchover_ = Switchover{record.active, now_us};
  switchover_state_ = "draining " + record.active;
  spdlog::info("switchover: draining {}", record.active);
  announcer_->Announce(record.active);
  return Status::Ok();
}

void Failover::CheckSwitchover(int64_t now_us) {
  if (!switchover_) return;
  const ClusterRecord& record = records_->record();
  // A promotion ends the switchover; the seat can only have been emptied meanwhile.
  DUPLEX_ASSERT(switchover_->from == record.active || record.active.empty(),
                "a switchover drains the recorded active", switchover_->from, record.active);
  const ReplicaView& active = replicas_->view(switchover_->from);
  std::string standby = options_.Other(switchover_->from);
  if (active.last && active.last->demoted && active.last->epoch == record.epoch &&
      active.last->peer_acked_seq == active.last->applied_seq && Promotable(standby, now_us)) {
    // The old active stopped serving and the standby has everything: no lease to wait out.
    int64_t started = switchover_->started_us;
    Promote(standby, /*skip_lease_wait=*/true, "switchover", started, now_us);
    switchover_state_ = "done";
    return;
  }
  if (now_us - switchover_->started_us > options_.switchover_timeout_ms * 1000) {
    switchover_state_ = "failed: " + switchover_->from + " did not drain within " +
                        std::to_string(options_.switchover_timeout_ms) + " ms";
    spdlog::warn("switchover {}", switchover_state_);
    switchover_.reset();
    announcer_->Announce(record.active);  // drain off again
  }
}

}  // namespace duplex
