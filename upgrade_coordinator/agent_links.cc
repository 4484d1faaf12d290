#include "upgrade_coordinator/agent_links.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/assert.h"
#include "common/epoch_step.h"
#include "common/net.h"

namespace duplex {

namespace {

// --coordinator: every coordinator, comma-separated. A chaos proxy between the replica and
// its coordinator (ReplicaConfig::coordinator_port) stands in for the one coordinator.
std::string CoordinatorFlag(const ClusterConfig& c, const ReplicaConfig& r) {
  if (c.coordinators.size() <= 1 && r.coordinator_port != 0) {
    return TcpEndpoint(c.host, r.coordinator_port);
  }
  std::string flag;
  for (const std::string& endpoint : CoordinatorControlEndpoints(c)) {
    flag += (flag.empty() ? "" : ",") + endpoint;
  }
  return flag;
}

// limits.* as the replica's flags (replica_main.cc), each under its config key's name.
void AddLimitArgs(const LimitsConfig& l, std::vector<std::string>* args) {
  auto n = [](uint64_t v) { return std::to_string(v); };
  args->insert(
      args->end(),
      {"--client-connections-max", n(l.client_connections_max), "--client-idle-timeout-ms",
       n(l.client_idle_timeout_ms), "--client-partial-frame-ms", n(l.client_partial_frame_ms),
       "--client-input-bytes-max", n(l.client_input_bytes_max), "--zmq-parts-max",
       n(l.zmq_parts_max), "--http-body-bytes-max", n(l.http_body_bytes_max), "--epoch-step-max",
       n(l.epoch_step_max), "--admin-jobs-max", n(l.admin_jobs_max)});
}

// The replica's TLS and client-credential flags (replica_main.cc), from security:.
std::vector<std::string> ClientAccessArgs(const ClusterConfig& c) {
  std::vector<std::string> args;
  if (const auto& tls = c.security.tls; tls && (tls->client_port || tls->http)) {
    static const char* const kCerts[] = {"none", "optional", "required"};
    args.insert(args.end(), {"--tls-cert", tls->cert_file, "--tls-key", tls->key_file,
                             "--tls-client-certs", kCerts[static_cast<int>(tls->client_certs)]});
    if (!tls->ca_file.empty()) args.insert(args.end(), {"--tls-ca", tls->ca_file});
    if (tls->client_port) args.push_back("--tls-client-port");
    if (tls->http) args.push_back("--tls-http");
  }
  if (!c.security.client_password_file.empty()) {
    args.insert(args.end(), {"--client-password-file", c.security.client_password_file});
  }
  return args;
}

}  // namespace

std::vector<std::string> ReplicaArgs(const ClusterConfig& c, const ReplicaConfig& r) {
  auto n = [](auto v) { return std::to_string(v); };
  const HostConfig* host = FindHost(c, r.host_name);
  DUPLEX_ASSERT(host != nullptr, "a replica is placed on a host", r.name, r.host_name);
  std::vector<std::string> args = {
      "--name",
      r.name,
      "--host",
      r.host,
      "--port",
      n(r.port),
      "--client-port",
      n(r.client_port),
      "--http-port",
      n(r.http_port),
      "--coordinator",
      CoordinatorFlag(c, r),
      "--data-dir",
      ReplicaDataDir(c, r),
      "--archive-dir",
      HostDataDir(c, *host) + "/archive",
      "--mode",
      c.replication.mode == ReplicationMode::kSync ? "sync" : "async",
      "--heartbeat-ms",
      n(c.timing.heartbeat_ms),
      "--lease-ms",
      n(c.timing.lease_ms),
      "--ack-timeout-ms",
      n(c.timing.ack_timeout_ms),
      "--max-batch-ops",
      n(c.replication.batch_ops_max),
      "--max-lag-ops",
      n(c.replication.lag_ops_max),
      "--max-queue",
      n(c.replication.queue_max),
      "--session-expiry-ms",
      n(c.replication.session_expiry_ms),
      "--snapshot-chunk-bytes",
      n(c.replication.snapshot_chunk_bytes),
      "--log-retain-ops",
      n(c.replication.log_retain_ops),
      "--max-frame-bytes",
      n(c.replication.frame_bytes_max),
      "--log-level",
      c.log_level,
  };
  AddLimitArgs(c.limits, &args);
  if (!r.fault_file.empty()) args.insert(args.end(), {"--fault-file", r.fault_file});
  for (std::string& arg : ClientAccessArgs(c)) args.push_back(std::move(arg));
  return args;
}

AgentLinks::AgentLinks(const ClusterConfig& config) : config_(config) {
  for (const ReplicaConfig& r : config_.replicas) replicas_[r.name].spec.replica = r.name;
  for (const HostConfig& h : config_.hosts) agents_[h.name];
}

AgentLinks::Tracked& AgentLinks::Of(const std::string& replica) {
  auto it = replicas_.find(replica);
  DUPLEX_ASSERT(it != replicas_.end(), "a tracked replica is a member", replica);
  return it->second;
}

void AgentLinks::Touch(const std::string& replica) {
  for (const ReplicaConfig& r : config_.replicas) {
    if (r.name == replica) agents_[r.host_name].dirty = true;
  }
}

void AgentLinks::Start(const std::string& replica, const std::string& package,
                       const std::string& version) {
  Tracked& t = Of(replica);
  const ReplicaConfig* rc = nullptr;
  for (const ReplicaConfig& r : config_.replicas) rc = r.name == replica ? &r : rc;
  // Instances adopted from agents come in steps of at most epoch_step_max: never near the top.
  DUPLEX_ASSERT(t.spec.instance < UINT64_MAX, "an instance number never wraps", replica);
  t.spec.instance += 1;
  t.spec.run = true;
  t.spec.package = package;
  t.spec.version = version;
  t.spec.args = ReplicaArgs(config_, *rc);
  t.decided = true;
  t.known = Known::kStarting;
  t.pid = 0;
  t.stop_on_adopt = false;
  spdlog::info("replica {}: instance {} asked of host {} ({})", replica, t.spec.instance,
               rc->host_name, package.empty() ? version : package + "-" + version);
  Touch(replica);
}

void AgentLinks::Stop(const std::string& replica) {
  Tracked& t = Of(replica);
  if (!t.decided) {
    // Nothing asked of its agent yet: a coordinator that just began (a restart, a new leader)
    // has not heard what runs. Dropping the stop would leave the arbiter waiting for an exit
    // that never comes (a rollback's reload, asked this early, hung so in the simulator); the
    // agent's first report adopts the process, stopped.
    t.stop_on_adopt = true;
    return;
  }
  t.spec.run = false;
  Touch(replica);
}

void AgentLinks::StopAll() {
  for (auto& [name, t] : replicas_) {
    if (!t.decided) {  // adopted from nothing we know of: stop what runs
      t.decided = true;
      t.spec.args = {};
    }
    t.spec.run = false;
    Touch(name);
  }
}

bool AgentLinks::AllStopped() const {
  return std::all_of(replicas_.begin(), replicas_.end(),
                     [](const auto& e) { return e.second.known == Known::kDown; });
}

// One replica: what the coordinator believed against what its agent says now.
SplitEvents SplitFinalExits(const std::vector<ProcessEvent>& events) {
  SplitEvents out;
  for (size_t i = 0; i < events.size(); ++i) {
    const ProcessEvent& e = events[i];
    bool later = false;
    for (size_t j = i + 1; j < events.size(); ++j) later = later || events[j].replica == e.replica;
    if (e.kind == ProcessEvent::Kind::kExited && !later) {
      out.final_exits.push_back(e.replica);
    } else {
      out.in_order.push_back(e);
    }
  }
  return out;
}

void AgentLinks::Reconcile(Tracked& t, const ReplicaProcess& p, std::vector<ProcessEvent>* events) {
  const std::string& name = t.spec.replica;
  const bool believed_running = t.known == Known::kRunning;
  const bool first_word = !t.heard;
  t.heard = true;
  if (p.pid != 0) {
    if (believed_running && t.pid == p.pid) return;
    if (t.known == Known::kStarting && p.instance < t.spec.instance) return;  // the old one
    if (believed_running) events->push_back({ProcessEvent::Kind::kExited, name, t.pid});
    const bool fresh = t.known != Known::kStarting;
    events->push_back(
        {fresh ? ProcessEvent::Kind::kStarted : ProcessEvent::Kind::kPid, name, p.pid});
    t.known = Known::kRunning;
    t.pid = p.pid;
    if (!t.decided) {  // adopted: what runs is what is wanted, until the arbiter says else
      t.spec = {name, p.instance, true, p.package, p.version, {}, t.spec.stop_grace_ms};
      for (const ReplicaConfig& r : config_.replicas) {
        if (r.name == name) t.spec.args = ReplicaArgs(config_, r);
      }
      t.decided = true;
      if (t.stop_on_adopt) {
        t.spec.run = false;
        Touch(name);
      }
    }
    t.stop_on_adopt = false;
    return;
  }
  t.stop_on_adopt = false;  // nothing runs: the exit below (or the known one) is the answer
  const bool start_failed =
      t.known == Known::kStarting && p.exited_instance >= t.spec.instance && p.exited_instance != 0;
  // A start withdrawn before its agent acted on it (a Stop in the same loop turn as the Start,
  // or the desired state that asked for it lost): the agent never runs that instance, so no
  // exit would ever come, and the arbiter would wait for one forever.
  const bool withdrawn = t.known == Known::kStarting && !t.spec.run && p.instance < t.spec.instance;
  // The agent's first word on a replica since this coordinator started, and it does not run:
  // the arbiter may have taken its process for running from a status it sent before it died
  // (the exit itself went to nobody). An exit of a process it does not know is a no-op.
  const bool gone_before_heard = first_word && t.known == Known::kDown;
  if (believed_running || start_failed || withdrawn || gone_before_heard) {
    events->push_back({ProcessEvent::Kind::kExited, name, t.pid});
    t.known = Known::kDown;
    t.pid = 0;
  }
}

std::vector<ProcessEvent> AgentLinks::OnReport(const std::string& route, const AgentReport& r,
                                               int64_t now_us) {
  std::vector<ProcessEvent> events;
  auto agent = agents_.find(r.host);
  if (agent == agents_.end() || !InstancesWithinStep(r)) return events;
  Agent& a = agent->second;
  if (a.last && a.last->started_us != r.started_us) {
    spdlog::info("agent of host {} restarted (pid {})", r.host, r.agent_pid);
  }
  a.last = r;
  a.heard_us = now_us;
  a.route = route;
  a.answer = true;
  for (const ReplicaConfig* rc : ReplicasOn(config_, r.host)) {
    Tracked& t = Of(rc->name);
    ReplicaProcess p;
    p.replica = rc->name;
    for (const ReplicaProcess& q : r.processes) p = q.replica == rc->name ? q : p;
    // A restarted coordinator counts on from the agent's instances.
    t.spec.instance = std::max(t.spec.instance, std::max(p.instance, p.exited_instance));
    Reconcile(t, p, &events);
  }
  return events;
}

bool AgentLinks::InstancesWithinStep(const AgentReport& r) {
  const uint64_t step = config_.limits.epoch_step_max;
  for (const ReplicaProcess& p : r.processes) {
    auto it = replicas_.find(p.replica);
    if (it == replicas_.end()) continue;  // not ours: Reconcile never reads it
    const uint64_t known = it->second.spec.instance;
    const uint64_t seen = std::max(p.instance, p.exited_instance);
    if (!BeyondStep(seen, known, step)) continue;
    if (++instances_refused_ <= 100 || instances_refused_ % 1000 == 0) {
      spdlog::warn("report of host {} refused: replica {} instance {} is more than {} above {}",
                   r.host, p.replica, seen, step, known);
    }
    return false;
  }
  return true;
}

DesiredState AgentLinks::DesiredFor(const std::string& host) const {
  const Agent& a = agents_.at(host);
  DesiredState d{host, a.generation, {}, config_.agent.restart_when_alone, term_};
  for (const ReplicaConfig* rc : ReplicasOn(config_, host)) {
    const Tracked& t = replicas_.at(rc->name);
    if (t.decided) d.replicas.push_back(t.spec);
  }
  return d;
}

std::vector<std::pair<std::string, DesiredState>> AgentLinks::TakeOutgoing() {
  std::vector<std::pair<std::string, DesiredState>> out;
  for (auto& [host, a] : agents_) {
    if ((a.dirty || a.answer) && !a.route.empty()) {
      if (a.dirty) ++a.generation;
      out.emplace_back(a.route, DesiredFor(host));
      a.dirty = false;  // without a route it is kept: sent when the agent first reports
    }
    a.answer = false;
  }
  return out;
}

int32_t AgentLinks::KnownPid(const std::string& replica) const {
  auto it = replicas_.find(replica);
  return it == replicas_.end() ? 0 : it->second.pid;
}

bool AgentLinks::Connected(const std::string& host, int64_t now_us) const {
  auto it = agents_.find(host);
  if (it == agents_.end() || !it->second.last) return false;
  const int64_t limit_us = int64_t{5 * config_.agent.heartbeat_ms} * 1000;
  return now_us - it->second.heard_us < limit_us;
}

int64_t AgentLinks::SilentUs(const std::string& host, int64_t now_us) const {
  auto it = agents_.find(host);
  return it == agents_.end() ? now_us : now_us - it->second.heard_us;
}

std::string AgentLinks::FailoverCause(const std::string& kind, const std::string& replica,
                                      int64_t now_us) const {
  if (kind == "crash failover") return "process_exit";
  std::string host;
  for (const ReplicaConfig& r : config_.replicas) host = r.name == replica ? r.host_name : host;
  // An agent reports every agent heartbeat: silent past this, its machine is gone from view.
  const int64_t limit_us =
      int64_t{std::max(config_.timing.failure_timeout_ms, 2 * config_.agent.heartbeat_ms)} * 1000;
  return SilentUs(host, now_us) > limit_us ? "host_unreachable" : "process_silent";
}

const AgentReport* AgentLinks::LastReport(const std::string& host) const {
  auto it = agents_.find(host);
  return it == agents_.end() || !it->second.last ? nullptr : &*it->second.last;
}

std::optional<std::string> AgentLinks::RouteOf(const std::string& host) const {
  auto it = agents_.find(host);
  if (it == agents_.end() || it->second.route.empty()) return std::nullopt;
  return it->second.route;
}

nlohmann::json AgentLinks::HostsJson(int64_t now_us) const {
  nlohmann::json hosts = nlohmann::json::array();
  for (const HostConfig& h : config_.hosts) {
    const Agent& a = agents_.at(h.name);
    nlohmann::json j = {{"name", h.name},
                        {"address", h.address},
                        {"agent", Connected(h.name, now_us) ? "connected" : "unreachable"}};
    if (a.last) {
      nlohmann::json processes = nlohmann::json::array();
      for (const ReplicaProcess& p : a.last->processes) {
        processes.push_back({{"replica", p.replica},
                             {"pid", p.pid},
                             {"instance", p.instance},
                             {"version", p.version},
                             {"exits", p.exits},
                             {"last_exit", p.last_exit}});
      }
      nlohmann::json packages = nlohmann::json::array();
      for (const StoredPackage& p : a.last->packages) packages.push_back(p.name + "-" + p.version);
      j.update({{"agent_pid", a.last->agent_pid},
                {"last_heartbeat_ms", (now_us - a.heard_us) / 1000},
                {"processes", processes},
                {"packages", packages},
                {"arch", a.last->facts.arch},
                {"memory_available_mb", a.last->facts.memory_available_mb},
                {"disk_available_mb", a.last->facts.disk_available_mb}});
      if (!a.last->package_error.empty()) j["package_error"] = a.last->package_error;
    }
    hosts.push_back(std::move(j));
  }
  return hosts;
}

}  // namespace duplex
