#include "upgrade_coordinator/arbiter_replicas.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/assert.h"
#include "upgrade_coordinator/restart_policy.h"

namespace duplex {

namespace {
constexpr size_t kExitedPidsKept = 8;
}  // namespace

ReplicaTracker::ReplicaTracker(const ArbiterOptions& options, RecordKeeper* records)
    : options_(options), records_(records) {
  DUPLEX_ASSERT(records_ != nullptr, "the tracker marks failures in the record");
  for (const auto& m : options_.replicas) views_[m.name].name = m.name;
  DUPLEX_ASSERT(views_.size() == options_.replicas.size(), "replica names are unique",
                options_.replicas.size());
}

const ReplicaView& ReplicaTracker::view(const std::string& name) const {
  auto it = views_.find(name);
  DUPLEX_ASSERT(it != views_.end(), "a view of a member", name);
  return it->second;
}

bool ReplicaTracker::Recent(const ReplicaView& v, int64_t now_us) const {
  return v.process_alive && v.last &&
         now_us - v.last_seen_us < int64_t{options_.failure_timeout_ms} * 1000;
}

bool ReplicaTracker::Recent(const std::string& name, int64_t now_us) const {
  return Recent(view(name), now_us);
}

std::optional<StatusReport> ReplicaTracker::RecentReport(const std::string& name,
                                                         int64_t now_us) const {
  auto it = views_.find(name);
  if (it == views_.end()) return std::nullopt;
  return Recent(it->second, now_us) ? it->second.last : std::nullopt;
}

bool ReplicaTracker::Adopt(const StatusReport& s, int64_t now_us) {
  auto it = views_.find(s.replica);
  if (it == views_.end()) {
    spdlog::warn("status from unknown replica '{}' ignored", s.replica);
    return false;
  }
  ReplicaView& v = it->second;
  if (s.pid != 0 &&
      std::find(v.exited_pids.begin(), v.exited_pids.end(), s.pid) != v.exited_pids.end()) {
    // Sent before its process exited, read after: adopting it would mark a dead process
    // alive, and it would never be restarted.
    return false;
  }
  v.last = s;
  v.last_seen_us = now_us;
  v.lease_lost_since_us =
      s.lease_lost_ms == 0 ? 0 : now_us - static_cast<int64_t>(s.lease_lost_ms) * 1000;
  v.peer_silent_since_us =
      s.peer_silent_ms == 0 ? 0 : now_us - static_cast<int64_t>(s.peer_silent_ms) * 1000;
  if (!v.process_alive || v.pid != s.pid) {
    v.process_alive = true;  // a report proves the process runs (adopted after our restart)
    v.pid = s.pid;
  }
  DUPLEX_ASSERT(v.process_alive && v.pid == s.pid, "a report is its running process's", v.pid,
                s.pid);
  return true;
}

bool ReplicaTracker::RequestStop(const std::string& name, bool planned) {
  ReplicaView& v = views_.at(name);
  if (planned) planned_restart_[name] = true;
  if (v.stop_requested) return false;  // one StopReplica is out already
  v.stop_requested = true;
  return true;
}

bool ReplicaTracker::Reload(const std::string& name, const std::string& version, int64_t now_us) {
  DUPLEX_ASSERT(records_->VersionOf(name) == version, "a reload is recorded first", name, version);
  ReplicaView& v = views_.at(name);
  v.crashes_us.clear();
  if (v.last && v.last->version == version) return false;  // already runs it
  spdlog::info("replica {}: reload with {}", name, version);
  if (v.process_alive) return RequestStop(name, /*planned=*/true);
  v.restart_at_us = now_us;  // start it with the new version now
  return false;
}

void ReplicaTracker::Started(const std::string& name, int32_t pid, int64_t /*now_us*/) {
  if (!views_.count(name)) return;  // not a member: nothing to supervise
  ReplicaView& v = views_.at(name);
  // A restarted coordinator hears an agent adopt a process whose status it already took
  // in: the same process, not a new start. Dropping its report would read as "not
  // reporting" to a campaign step resumed on that report (a Soak failed so, in CI).
  if (v.process_alive && v.pid == pid) return;
  v.process_alive = true;
  v.pid = pid;
  v.stop_requested = false;
  v.last.reset();  // its old reports describe a process that is gone
  v.restart_at_us = 0;
  ++v.starts;
}

void ReplicaTracker::KnownPid(const std::string& name, int32_t pid) {
  auto it = views_.find(name);
  if (it == views_.end() || !it->second.process_alive) return;
  DUPLEX_ASSERT(pid > 0, "a known pid is a process's", name, pid);
  it->second.pid = pid;
}

std::optional<bool> ReplicaTracker::Exited(const std::string& name, int64_t /*now_us*/) {
  if (!views_.count(name)) return std::nullopt;
  ReplicaView& v = views_.at(name);
  if (!v.process_alive) return std::nullopt;
  v.process_alive = false;
  v.stop_requested = false;
  v.last.reset();
  v.exited_pids.push_back(v.pid);
  if (v.exited_pids.size() > kExitedPidsKept) v.exited_pids.erase(v.exited_pids.begin());
  DUPLEX_ASSERT(v.exited_pids.size() <= kExitedPidsKept, "exited pids are bounded",
                v.exited_pids.size());
  bool planned = planned_restart_[name];
  planned_restart_[name] = false;
  spdlog::warn("replica {} (pid {}) exited{}", name, v.pid, planned ? " (planned restart)" : "");
  return planned;
}

void ReplicaTracker::ScheduleRestart(const std::string& name, bool planned, int64_t now_us) {
  ReplicaView& v = views_.at(name);
  DUPLEX_ASSERT(!v.process_alive, "restart a process that is down", name);
  if (planned) {
    v.restart_at_us = now_us;  // not a crash: no backoff, not counted
    return;
  }
  // The first restart after a crash comes soon; each further crash in the window doubles
  // the wait, up to the maximum, so that a replica failing for a passing cause (a full
  // disk) does not spend its restarts within a second.
  std::optional<int64_t> delay_ms = RestartDelayMs(options_.restart, &v.crashes_us, now_us);
  if (!delay_ms) {
    spdlog::error("replica {} crashed {} times within {} s: marked failed (not restarted)", name,
                  v.crashes_us.size(), options_.restart.window_s);
    records_->MarkFailed(name);
    return;
  }
  v.restart_at_us = now_us + *delay_ms * 1000;
  DUPLEX_ASSERT(v.restart_at_us >= now_us, "a restart is scheduled ahead", v.restart_at_us, now_us);
}

std::vector<std::string> ReplicaTracker::DueStarts(int64_t now_us) {
  std::vector<std::string> out;
  for (auto& [name, v] : views_) {
    if (records_->Failed(name) || v.process_alive) continue;
    bool first_start = v.starts == 0 && v.restart_at_us == 0 &&
                       now_us - started_us_ >= options_.startup_grace_ms * 1000;
    if (first_start || (v.restart_at_us != 0 && now_us >= v.restart_at_us)) {
      v.restart_at_us = 0;
      out.push_back(name);
    }
  }
  return out;
}

}  // namespace duplex
