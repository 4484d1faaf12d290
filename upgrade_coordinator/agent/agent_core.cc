#include "upgrade_coordinator/agent/agent_core.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "common/assert.h"
#include "upgrade_coordinator/restart_policy.h"

namespace duplex {

AgentCore::AgentCore(AgentCoreOptions options) : options_(std::move(options)) {
  DUPLEX_ASSERT(options_.alone_after_ms > 0, "an agent is alone after some silence",
                options_.alone_after_ms);
}

void AgentCore::Restore(const DesiredState& desired, const std::vector<ReplicaProcess>& known,
                        int64_t now_us) {
  desired_ = desired;
  for (const ReplicaProcess& r : known) {
    DUPLEX_ASSERT(r.pid >= 0 && (r.pid > 0 || r.instance > 0), "a known process ran", r.replica,
                  r.pid, r.instance);
    Proc& p = procs_[r.replica];
    p.view = r;
    p.view.stopping = false;
    p.started_instance = r.instance;
    if (r.pid > 0) {
      spdlog::info("replica {} (pid {}, instance {}) still runs: adopted", r.replica, r.pid,
                   r.instance);
    } else {
      // An exit nobody saw: reported as one, so that a coordinator still waiting for this
      // instance to start (or run) learns it is gone and asks for a new one.
      ++p.view.exits;
      p.view.exited_instance = r.instance;
      p.view.last_exit = "gone while its agent was down (a host reboot?)";
      spdlog::info("replica {} (instance {}) is gone: the coordinator restarts it", r.replica,
                   r.instance);
    }
  }
  // Silence since the restart counts from now: the coordinator may well be there.
  heard_us_ = now_us;
  Converge(now_us);
}

// The latest wins: one connection keeps a coordinator's messages in order, only the leader
// sends, and a restarted coordinator's (or a new leader's) generations start again from 1.
void AgentCore::OnDesired(const DesiredState& desired, int64_t now_us) {
  if (!InstancesWithinStep(desired) || !FollowsTerm(desired.term)) return;
  heard_us_ = now_us;
  if (!(desired == desired_)) {
    desired_ = desired;
    actions_.push_back(SaveRecord{});
  }
  Converge(now_us);
}

bool AgentCore::FollowsTerm(uint64_t term) {
  if (term == 0) return true;  // the embedded coordinator has no rival to be deposed by
  if (term >= term_) {
    if (term > term_ && term_ != 0) spdlog::info("coordinator term {} (was {})", term, term_);
    term_ = term;
    return true;
  }
  // A leader deposed without knowing it yet (frozen, cut off from etcd): its view is older
  // than the one the new leader acts on.
  ++stale_term_states_;
  if (stale_term_logged_ != term) {
    stale_term_logged_ = term;
    spdlog::warn("ignoring desired states of coordinator term {}: term {} leads", term, term_);
  }
  return false;
}

bool AgentCore::InstancesWithinStep(const DesiredState& desired) {
  for (const ReplicaSpec& spec : desired.replicas) {
    auto it = procs_.find(spec.replica);
    const uint64_t known = it == procs_.end() ? 0 : it->second.started_instance;
    if (!BeyondStep(spec.instance, known, options_.epoch_step_max)) continue;
    if (++instances_refused_ <= 100 || instances_refused_ % 1000 == 0) {
      spdlog::warn("desired state refused: replica {} instance {} is more than {} above {}",
                   spec.replica, spec.instance, options_.epoch_step_max, known);
    }
    return false;
  }
  return true;
}

void AgentCore::OnCoordinatorHeard(int64_t now_us) { heard_us_ = now_us; }

bool AgentCore::Alone(int64_t now_us) const {
  return now_us - heard_us_ >= int64_t{options_.alone_after_ms} * 1000;
}

void AgentCore::OnStarted(const std::string& replica, int32_t pid, int64_t /*now_us*/) {
  Proc& p = procs_[replica];
  DUPLEX_ASSERT(pid > 0 && p.view.pid == 0, "a started process is the only one", replica, pid,
                p.view.pid);
  p.view.pid = pid;
  actions_.push_back(SaveRecord{});
  actions_.push_back(SendReport{true});  // its pid: the coordinator trusts its status by it
}

void AgentCore::OnStartFailed(const std::string& replica, const std::string& why, int64_t now_us) {
  Proc& p = procs_[replica];
  ++p.view.exits;
  p.view.last_exit = "cannot start: " + why;
  p.view.exited_instance = p.view.instance;
  p.crashed = true;
  spdlog::error("replica {}: {}", replica, p.view.last_exit);
  actions_.push_back(SendReport{true});
  Converge(now_us);
}

void AgentCore::OnExited(const std::string& replica, int32_t pid, const std::string& how,
                         int64_t now_us) {
  auto it = procs_.find(replica);
  if (it == procs_.end() || it->second.view.pid != pid) return;  // not ours, or told already
  Proc& p = it->second;
  const bool planned = p.view.stopping;
  p.view.pid = 0;
  p.view.stopping = false;
  p.kill_at_us = 0;
  ++p.view.exits;
  p.view.last_exit = how;
  p.view.exited_instance = p.view.instance;
  p.crashed = !planned;
  spdlog::warn("replica {} (pid {}, instance {}) {}{}", replica, pid, p.view.instance, how,
               planned ? " (stopped)" : "");
  actions_.push_back(SaveRecord{});
  actions_.push_back(SendReport{true});  // the fast failover path: one message, now
  Converge(now_us);
}

void AgentCore::OnTick(int64_t now_us) {
  for (auto& [name, p] : procs_) {
    if (p.view.pid != 0 && p.kill_at_us != 0 && now_us >= p.kill_at_us) {
      spdlog::warn("replica {} (pid {}) did not stop within its grace: SIGKILL", name, p.view.pid);
      actions_.push_back(SignalProcess{name, p.view.pid, SIGKILL});
      p.kill_at_us = 0;
    }
  }
  Converge(now_us);
}

int64_t AgentCore::NextTickUs(int64_t now_us) const {
  int64_t next_us = std::numeric_limits<int64_t>::max();
  auto at = [&](int64_t due_us) {
    if (due_us > now_us) next_us = std::min(next_us, due_us);
  };
  for (const auto& [name, p] : procs_) {
    if (p.view.pid != 0 && p.kill_at_us != 0) at(p.kill_at_us);
    if (p.restart_at_us != 0) at(p.restart_at_us);
    if (p.crashed && p.view.pid == 0) at(heard_us_ + int64_t{options_.alone_after_ms} * 1000);
  }
  return next_us;
}

std::vector<AgentAction> AgentCore::TakeActions() {
  std::vector<AgentAction> out;
  out.swap(actions_);
  return out;
}

std::vector<ReplicaProcess> AgentCore::processes() const {
  std::vector<ReplicaProcess> out;
  for (const auto& [name, p] : procs_) out.push_back(p.view);
  for (const ReplicaSpec& s : desired_.replicas) {
    if (procs_.count(s.replica) != 0) continue;
    ReplicaProcess never_started;
    never_started.replica = s.replica;
    never_started.package = s.package;
    never_started.version = s.version;
    out.push_back(never_started);
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.replica < b.replica; });
  return out;
}

void AgentCore::Converge(int64_t now_us) {
  for (const ReplicaSpec& spec : desired_.replicas) ConvergeOne(spec, procs_[spec.replica], now_us);
}

void AgentCore::ConvergeOne(const ReplicaSpec& spec, Proc& p, int64_t now_us) {
  const bool running = p.view.pid != 0;
  if (!spec.run || (running && p.view.instance < spec.instance)) {
    // Not wanted, or wanted afresh (a newer instance: another version, or the coordinator
    // counted this one as gone): it goes first; the start follows its exit.
    if (running && !p.view.stopping) Stop(p, spec.stop_grace_ms, now_us);
    return;
  }
  if (running) return;
  if (p.started_instance < spec.instance) {
    Start(spec, p);
    return;
  }
  // A crash while the coordinator cannot be reached: restarted here, as the coordinator
  // would (it starts out of service; only the coordinator makes it standby).
  if (!p.crashed || !desired_.restart_when_alone || !Alone(now_us)) {
    p.restart_at_us = 0;  // the coordinator decides, or it is back and will
    return;
  }
  if (p.restart_at_us == 0) {
    ScheduleAloneRestart(p, now_us);
  } else if (now_us >= p.restart_at_us) {
    spdlog::warn("replica {}: restarted by its agent (the coordinator is unreachable)",
                 spec.replica);
    Start(spec, p);
  }
}

void AgentCore::Stop(Proc& p, uint32_t grace_ms, int64_t now_us) {
  DUPLEX_ASSERT(p.view.pid > 0, "only a running process is stopped", p.view.replica);
  p.view.stopping = true;
  p.kill_at_us = now_us + int64_t{grace_ms} * 1000;
  actions_.push_back(SignalProcess{p.view.replica, p.view.pid, SIGTERM});
  actions_.push_back(SendReport{false});
}

void AgentCore::Start(const ReplicaSpec& spec, Proc& p) {
  DUPLEX_ASSERT(p.view.pid == 0, "one process per replica", spec.replica, p.view.pid);
  p.view.replica = spec.replica;
  p.view.instance = spec.instance;
  p.view.package = spec.package;
  p.view.version = spec.version;
  p.started_instance = std::max(p.started_instance, spec.instance);
  p.restart_at_us = 0;
  p.crashed = false;
  actions_.push_back(StartProcess{spec});
}

// Alone, a crash is restarted with the cluster's policy: a doubling backoff, and no more
// than restarts_max in the window (then it waits for the coordinator).
void AgentCore::ScheduleAloneRestart(Proc& p, int64_t now_us) {
  std::optional<int64_t> delay_ms = RestartDelayMs(options_.restart, &p.alone_crashes_us, now_us);
  if (!delay_ms) {
    spdlog::error("replica {} crashed {} times within {} s while alone: left stopped",
                  p.view.replica, p.alone_crashes_us.size(), options_.restart.window_s);
    p.crashed = false;  // given up: only the coordinator starts it again
    return;
  }
  p.restart_at_us = now_us + *delay_ms * 1000;
}

}  // namespace duplex
