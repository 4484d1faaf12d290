// Arbiter: promotion, elections, crash and hang failover, restarts, switchover.
#include <spdlog/spdlog.h>

#include "upgrade_coordinator/arbiter.h"

namespace duplex {

void Arbiter::Promote(const std::string& name, bool skip_lease_wait, const std::string& kind,
                      int64_t detected_us, int64_t now_us) {
  std::string from = record_.active.empty() ? record_.last_active : record_.active;
  ClusterRecord next = record_;
  ++next.epoch;
  next.active = name;
  next.last_active = name;
  // The other replica must catch up in the new history before it counts as in sync.
  next.in_sync[Other(name)] = false;
  next.in_sync[name] = false;
  next.solo_grant_id = 0;
  next.sync_id = 0;
  next.skip_lease_wait = skip_lease_wait;
  Persist(next);  // durable before anyone hears of the new epoch
  failover_.reset();
  switchover_.reset();
  transitions_.push_back({kind, from, name, next.epoch, detected_us, now_us});
  spdlog::info("{}: {} promoted at epoch {} (from '{}', {} us after detection)", kind, name,
               next.epoch, from, now_us - detected_us);
  Send(name);
  std::string other = Other(name);
  if (views_.at(other).process_alive) Send(other);
}

void Arbiter::OnProcessStarted(const std::string& name, int32_t pid, int64_t now_us) {
  now_us_ = now_us;
  if (!views_.count(name)) return;  // not a member: nothing to supervise
  ReplicaView& v = views_.at(name);
  v.process_alive = true;
  v.pid = pid;
  v.stop_requested = false;
  v.last.reset();  // its old reports describe a process that is gone
  v.restart_at_us = 0;
  ++v.starts;
}

void Arbiter::OnProcessExited(const std::string& name, int64_t now_us) {
  now_us_ = now_us;
  if (!views_.count(name)) return;
  ReplicaView& v = views_.at(name);
  if (!v.process_alive) return;
  v.process_alive = false;
  v.stop_requested = false;
  v.last.reset();
  v.exited_pids.push_back(v.pid);
  if (v.exited_pids.size() > 8) v.exited_pids.erase(v.exited_pids.begin());
  bool planned = planned_restart_[name];
  planned_restart_[name] = false;
  spdlog::warn("replica {} (pid {}) exited{}", name, v.pid, planned ? " (planned restart)" : "");
  if (name == record_.active) {
    std::string standby = Other(name);
    std::string why;
    if (Promotable(standby, now_us, &why)) {
      // Fast path: the process is gone, so its lease holds nothing. Promote at once.
      Promote(standby, /*skip_lease_wait=*/true, "crash failover", now_us, now_us);
    } else {
      spdlog::warn(
          "active {} exited and the standby cannot take over ({}); waiting for {} to "
          "restart",
          name, why, name);
      ClusterRecord next = record_;
      next.active.clear();
      Persist(next);
    }
  }
  if (planned) {
    v.restart_at_us = now_us;  // not a crash: no backoff, not counted
  } else {
    ScheduleRestart(name, now_us);
  }
}

void Arbiter::ScheduleRestart(const std::string& name, int64_t now_us) {
  ReplicaView& v = views_.at(name);
  int64_t window_us = int64_t{options_.restart_window_s} * 1000000;
  std::erase_if(v.crashes_us, [&](int64_t t) { return now_us - t > window_us; });
  v.crashes_us.push_back(now_us);
  if (static_cast<int>(v.crashes_us.size()) > options_.max_restarts) {
    spdlog::error("replica {} crashed {} times within {} s: marked failed (not restarted)", name,
                  v.crashes_us.size(), options_.restart_window_s);
    ClusterRecord next = record_;
    next.failed[name] = true;
    Persist(next);
    return;
  }
  v.restart_at_us = now_us + options_.restart_backoff_ms * 1000;
}

void Arbiter::OnTick(int64_t now_us) {
  now_us_ = now_us;
  for (auto& [name, v] : views_) {
    bool failed = record_.failed.count(name) && record_.failed.at(name);
    if (failed || v.process_alive) continue;
    bool first_start = v.starts == 0 && v.restart_at_us == 0 &&
                       now_us - started_us_ >= options_.startup_grace_ms * 1000;
    if (first_start || (v.restart_at_us != 0 && now_us >= v.restart_at_us)) {
      v.restart_at_us = 0;
      actions_.push_back(StartReplica{name});
    }
  }
  CheckActiveSilence(now_us);
  if (failover_ && now_us >= failover_->not_before_us) {
    std::string why;
    if (Promotable(failover_->target, now_us, &why)) {
      Promote(failover_->target, /*skip_lease_wait=*/false, "hang failover", failover_->detected_us,
              now_us);
    } else {
      spdlog::warn("hang failover cancelled: {}", why);
      failover_.reset();
    }
  }
  MaybeElect(now_us);
  CheckSwitchover(now_us);
}

void Arbiter::CheckActiveSilence(int64_t now_us) {
  if (record_.active.empty() || failover_) return;
  const ReplicaView& v = views_.at(record_.active);
  if (!v.process_alive) return;  // the exit path handles it
  int64_t silent_us = now_us - std::max(v.last_seen_us, started_us_);
  if (silent_us < options_.failure_timeout_ms * 1000) return;
  std::string standby = Other(record_.active);
  if (!Promotable(standby, now_us)) return;
  // Slow path: the active may be hung or cut off and may still hold a lease. Stop
  // renewing it and promote only after the last lease we granted has run out.
  failover_ = PendingFailover{standby, now_us, last_grant_us_ + options_.lease_ms * 1000};
  spdlog::warn("active {} silent for {} ms: failing over to {} after its lease", record_.active,
               silent_us / 1000, standby);
}

void Arbiter::MaybeElect(int64_t now_us) {
  if (!record_.active.empty() || failover_) return;
  if (now_us - started_us_ < options_.startup_grace_ms * 1000) return;
  bool fresh = record_.epoch == 0 || (record_.last_active.empty());
  const ReplicaView* best = nullptr;
  for (const auto& [name, v] : views_) {
    bool eligible = fresh ? (Recent(v, now_us) && v.last->healthy &&
                             !(record_.failed.count(name) && record_.failed.at(name)))
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
    for (const auto& [name, v] : views_) {
      if (!Recent(v, now_us) && now_us - started_us_ < 5 * options_.startup_grace_ms * 1000) return;
    }
  }
  // Nobody is active, so no lease is held by a live active.
  Promote(best->name, /*skip_lease_wait=*/true, "election", now_us, now_us);
}

Status Arbiter::RequestSwitchover(int64_t now_us, bool by_campaign) {
  now_us_ = now_us;
  if (record_.lock && !by_campaign) {
    return FailedPrecondition("an upgrade campaign holds the management lock");
  }
  if (switchover_) return FailedPrecondition("a switchover is already under way");
  if (failover_) return FailedPrecondition("a failover is under way");
  if (record_.active.empty()) return FailedPrecondition("no active replica");
  const ReplicaView& active = views_.at(record_.active);
  if (!Recent(active, now_us)) return Unavailable("active " + record_.active + " is not reporting");
  std::string standby = Other(record_.active);
  std::string why;
  if (!Promotable(standby, now_us, &why)) return FailedPrecondition("standby " + why);
  switchover_ = Switchover{record_.active, now_us};
  switchover_state_ = "draining " + record_.active;
  spdlog::info("switchover: draining {}", record_.active);
  Send(record_.active);
  return Status::Ok();
}

void Arbiter::CheckSwitchover(int64_t now_us) {
  if (!switchover_) return;
  const ReplicaView& active = views_.at(switchover_->from);
  std::string standby = Other(switchover_->from);
  if (active.last && active.last->demoted && active.last->epoch == record_.epoch &&
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
    Send(record_.active);  // drain off again
  }
}

}  // namespace duplex
