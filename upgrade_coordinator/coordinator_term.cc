#include "upgrade_coordinator/coordinator_term.h"

#include <spdlog/spdlog.h>

#include "common/assert.h"
#include "common/net.h"
#include "replica/frame.h"

namespace duplex {
namespace {

ArbiterOptions MakeOptions(const ClusterConfig& c) {
  ArbiterOptions o;
  for (const auto& r : c.replicas) {
    o.replicas.push_back({r.name, TcpEndpoint(r.host, r.peer_port != 0 ? r.peer_port : r.port)});
  }
  o.async = c.replication.mode == ReplicationMode::kAsync;
  o.heartbeat_ms = c.timing.heartbeat_ms;
  o.lease_ms = c.timing.lease_ms;
  o.failure_timeout_ms = c.timing.failure_timeout_ms;
  o.startup_grace_ms = std::max(300, 5 * c.timing.heartbeat_ms);
  o.restart = c.restart;
  o.initial_version = c.processor.version;
  o.epoch_step_max = c.limits.epoch_step_max;
  return o;
}

nlohmann::json ReplicaJson(const Arbiter& arbiter, const ReplicaConfig& rc, uint64_t active_seq,
                           int64_t now_us) {
  const ClusterRecord& rec = arbiter.record();
  const ReplicaView& v = arbiter.replicas().at(rc.name);
  nlohmann::json r = {{"name", rc.name},
                      {"host", rc.host_name},
                      {"pid", v.process_alive ? v.pid : 0},
                      {"alive", v.process_alive},
                      {"endpoint", TcpEndpoint(rc.host, rc.client_port)},
                      {"failed", rec.failed.count(rc.name) && rec.failed.at(rc.name)},
                      {"starts", v.starts}};
  if (!v.last) return r;
  const StatusReport& s = *v.last;
  bool is_active = rc.name == rec.active;
  r.update({{"version", s.version},
            {"role", WireRoleName(s.role)},
            {"state", s.role_path},
            {"epoch", s.epoch},
            {"applied_seq", s.applied_seq},
            {"lag", is_active || active_seq < s.applied_seq ? 0 : active_seq - s.applied_seq},
            {"in_sync", is_active ? true : (rec.in_sync.count(rc.name) && rec.in_sync.at(rc.name))},
            {"healthy", s.healthy},
            {"health", s.health_detail},
            {"refused_frames", s.refused_frames},
            {"stale_epoch_frames", s.stale_epoch_frames},
            {"last_seen_ms", (now_us - v.last_seen_us) / 1000},
            // Its last report is older than the failure timeout: what it says may be past.
            {"reporting", arbiter.RecentReport(rc.name, now_us).has_value()}});
  return r;
}

}  // namespace

CoordinatorTerm::CoordinatorTerm(const ClusterConfig& config, std::unique_ptr<RecordStore> store,
                                 FeaturesOnReload features_on_reload, uint64_t term,
                                 const std::map<std::string, std::string>* replica_routes,
                                 ControlSender send)
    : config_(config),
      term_(term),
      replica_routes_(replica_routes),
      send_(std::move(send)),
      store_(std::move(store)),
      arbiter_(MakeOptions(config), store_.get()),
      agents_(config),
      upgrades_(config, &arbiter_, store_.get(), &agents_, features_on_reload),
      api_(config, &arbiter_, &upgrades_) {
  DUPLEX_ASSERT(replica_routes_ != nullptr && send_, "a term sends through its coordinator");
  agents_.SetTerm(term_);
}

Status CoordinatorTerm::Begin(int64_t now_us, const std::string& events_path) {
  DUPLEX_RETURN_IF_ERROR(arbiter_.Recover(now_us));
  DUPLEX_RETURN_IF_ERROR(upgrades_.Open());
  return events_.Open(events_path);
}

std::string CoordinatorTerm::OnStatus(const StatusReport& status, int64_t now_us) {
  std::string why = Impostor(status);
  if (why.empty()) why = arbiter_.OnStatus(status, now_us);
  return why;
}

// Why a status cannot be from the replica it names ("" when it can): unknown names, and
// pids other than the one its agent reported, are refused. (A process that reports before
// its agent does is trusted by its first report: the control plane has no authentication.)
std::string CoordinatorTerm::Impostor(const StatusReport& s) const {
  bool known = false;
  for (const auto& r : config_.replicas) known = known || r.name == s.replica;
  if (!known) return "status from unknown replica '" + s.replica + "'";
  int32_t owned = agents_.KnownPid(s.replica);
  if (owned != 0 && owned != s.pid) {
    return "status for " + s.replica + " from pid " + std::to_string(s.pid) +
           ", but its process is " + std::to_string(owned);
  }
  return "";
}

void CoordinatorTerm::OnAgentReport(const std::string& route, const AgentReport& report,
                                    int64_t now_us) {
  // The last exits of one report are taken in together (Arbiter::OnProcessesExited).
  const SplitEvents events = SplitFinalExits(agents_.OnReport(route, report, now_us));
  for (const ProcessEvent& e : events.in_order) {
    if (e.kind == ProcessEvent::Kind::kExited) {
      arbiter_.OnProcessExited(e.replica, now_us);
    } else if (e.kind == ProcessEvent::Kind::kStarted) {
      arbiter_.OnProcessStarted(e.replica, e.pid, now_us);  // adopted: it ran before us
    } else {
      arbiter_.OnProcessPid(e.replica, e.pid);
    }
  }
  if (!events.final_exits.empty()) arbiter_.OnProcessesExited(events.final_exits, now_us);
  SendDesired(now_us);
}

void CoordinatorTerm::Tick(int64_t now_us) {
  arbiter_.OnTick(now_us);
  upgrades_.Tick(now_us / 1000, now_us);
  Execute(now_us);
  events_.Observe(now_us, arbiter_, upgrades_.campaign());
  CountHostFailovers(now_us);
}

void CoordinatorTerm::Execute(int64_t now_us) {
  for (auto& action : arbiter_.TakeActions()) {
    if (auto* assign = std::get_if<SendAssignment>(&action)) {
      auto route = replica_routes_->find(assign->replica);
      if (route == replica_routes_->end()) continue;  // not connected yet: its first status gets it
      assign->assignment.coordinator_term = term_;
      send_(route->second, {EncodeFrame(assign->assignment)});
    } else if (auto* start = std::get_if<StartReplica>(&action)) {
      auto [package, version] = upgrades_.PackageRefFor(start->replica);
      agents_.Start(start->replica, package, version);
      // The start is under way: the agent reports its pid, or its failure as an exit.
      arbiter_.OnProcessStarted(start->replica, 0, now_us);
    } else if (auto* stop = std::get_if<StopReplica>(&action)) {
      agents_.Stop(stop->replica);  // its exit comes back from its agent, then a restart
    }
  }
  SendDesired(now_us);
}

void CoordinatorTerm::SendDesired(int64_t now_us) {
  const std::string tag(kAgentTag);
  for (const auto& [route, desired] : agents_.TakeOutgoing()) {
    send_(route, {tag, EncodeAgentFrame(desired)});
  }
  for (const auto& [route, part] : upgrades_.TakePackageParts(now_us)) {
    send_(route, {tag, EncodeAgentFrame(part)});
  }
}

// Each failover, by what the host's agent said of it (for /metrics).
void CoordinatorTerm::CountHostFailovers(int64_t now_us) {
  const auto& all = arbiter_.transitions();
  for (; transitions_counted_ < all.size(); ++transitions_counted_) {
    const TransitionEvent& t = all[transitions_counted_];
    if (t.kind != "crash failover" && t.kind != "hang failover") continue;
    ++host_failovers_[agents_.FailoverCause(t.kind, t.from, now_us)];
  }
}

nlohmann::json CoordinatorTerm::View(int64_t now_us) const {
  const ClusterRecord& rec = arbiter_.record();
  uint64_t active_seq = 0;
  if (!rec.active.empty()) {
    const auto& av = arbiter_.replicas().at(rec.active);
    if (av.last) active_seq = av.last->applied_seq;
  }
  nlohmann::json replicas = nlohmann::json::array();
  for (const auto& rc : config_.replicas) {
    replicas.push_back(ReplicaJson(arbiter_, rc, active_seq, now_us));
  }
  nlohmann::json transitions = nlohmann::json::array();
  const auto& all = arbiter_.transitions();
  for (size_t i = all.size() > 20 ? all.size() - 20 : 0; i < all.size(); ++i) {
    const auto& t = all[i];
    transitions.push_back({{"kind", t.kind},
                           {"from", t.from},
                           {"to", t.to},
                           {"epoch", t.epoch},
                           {"detected_us", t.detected_us},
                           {"promoted_us", t.promoted_us},
                           {"decision_ms", (t.promoted_us - t.detected_us) / 1000.0}});
  }
  return {{"cluster", config_.name},
          {"epoch", rec.epoch},
          {"active", rec.active},
          {"mode", config_.replication.mode == ReplicationMode::kSync ? "sync" : "async"},
          {"switchover", arbiter_.switchover_state()},
          {"replicas", replicas},
          {"transitions", transitions},
          {"cluster_version", rec.cluster_version},
          {"lock", rec.lock},
          {"campaign", api_.CampaignJson()},
          {"hosts", agents_.HostsJson(now_us)},
          {"host_failovers", host_failovers_},
          {"package_refusals", upgrades_.PackageRefusals()},
          {"agent_package_refusals", upgrades_.AgentPackageRefusals()},
          {"bounds",
           {{"status_epochs", arbiter_.counters().epochs_refused},
            {"solo_request_ids", arbiter_.counters().solo_request_ids_refused},
            {"agent_instances", agents_.instances_refused()}}}};
}

nlohmann::json FollowerView(const ClusterConfig& config) {
  return {{"cluster", config.name},
          {"epoch", 0},
          {"active", ""},
          {"mode", config.replication.mode == ReplicationMode::kSync ? "sync" : "async"},
          {"replicas", nlohmann::json::array()},
          {"transitions", nlohmann::json::array()},
          {"hosts", nlohmann::json::array()}};
}

nlohmann::json CoordinatorsJson(const ClusterConfig& config) {
  nlohmann::json all = nlohmann::json::array();
  for (const CoordinatorConfig& c : config.coordinators) {
    all.push_back({{"host", c.host_name},
                   {"admin", c.address + ":" + std::to_string(c.admin_port)},
                   {"control", TcpEndpoint(c.address, c.control_port)}});
  }
  return all;
}

}  // namespace duplex
