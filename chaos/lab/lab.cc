#include "chaos/lab/lab.h"

#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "chaos/lab/etcd_process.h"
#include "chaos/lab/lab_keys.h"
#include "common/assert.h"
#include "common/files.h"
#include "common/subprocess.h"
#include "upgrade_coordinator/admin_client.h"

namespace duplex::lab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// `down` asks the coordinator to stop first; a frozen or isolated one does not answer.
constexpr int kShutdownTimeoutMs = 3000;
// SIGTERM, then this long before SIGKILL; everything gone within kStopTimeoutMs.
constexpr int kTermGraceMs = 2000;
constexpr int kStopTimeoutMs = 5000;
constexpr int kStatusPollMs = 20;
constexpr int kStatusTimeoutMs = 300;
// `lab status` asks each etcd member's /health this long.
constexpr int kHealthTimeoutMs = 300;

// "127.0.1.1:7400" -> {"127.0.1.1", 7400}; port 0 when it is not that shape.
std::pair<std::string, int> SplitEndpoint(const std::string& endpoint) {
  const std::size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos) return {endpoint, 0};
  return {endpoint.substr(0, colon), std::atoi(endpoint.c_str() + colon + 1)};
}

// A GET of JSON, bounded; errors say who did not answer.
StatusOr<json> GetJsonAt(const std::string& host, int port, const std::string& path,
                         int timeout_ms) {
  httplib::Client http(host, port);
  http.set_connection_timeout(0, timeout_ms * 1000);
  http.set_read_timeout(0, timeout_ms * 1000);
  auto res = http.Get(path);
  if (!res) return Unavailable(host + ":" + std::to_string(port) + " does not answer");
  json body = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded())
    return Corruption(host + ":" + std::to_string(port) + path + ": not JSON");
  return body;
}

// "http://127.0.1.1:2379" -> {"127.0.1.1", 2379}: the urls the lab's plan wrote.
std::pair<std::string, int> UrlEndpoint(const std::string& url) {
  const std::size_t scheme = url.find("//");
  return SplitEndpoint(scheme == std::string::npos ? url : url.substr(scheme + 2));
}

// The member as etcd_process.h starts one: its host's name, address and data directory, the
// ports of its urls, loopback timings (lab_plan.h), the lab's id as cluster token and zap logs.
EtcdMemberOptions MemberOptions(const LabEtcdMember& member, const std::string& data_dir,
                                const std::string& token) {
  const auto [address, client_port] = UrlEndpoint(member.client_url);
  const int peer_port = UrlEndpoint(member.peer_url).second;
  DUPLEX_ASSERT(client_port > 0 && peer_port > 0 && address == UrlEndpoint(member.peer_url).first,
                "an etcd member's urls are http://<its host's address>:<port>", member.client_url,
                member.peer_url);
  EtcdMemberOptions options;
  options.name = member.host;
  options.address = address;
  options.client_port = client_port;
  options.peer_port = peer_port;
  // Read on the first start only: a member restarted on its data rejoins as it was.
  options.data_dir = data_dir + "/etcd";
  options.initial_cluster_token = token;
  options.heartbeat_interval_ms = kEtcdHeartbeatMs;
  options.election_timeout_ms = kEtcdElectionMs;
  options.logger = "zap";
  return options;
}

Status MakeDir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return IOError(dir + ": cannot create: " + ec.message());
  return Status::Ok();
}

std::string CommandOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

std::string PidList(const std::vector<pid_t>& pids) {
  std::string out;
  for (pid_t pid : pids) out += (out.empty() ? "" : " ") + std::to_string(pid);
  return out;
}

// The state of a fresh lab: hosts, coordinator, table; no process yet.
LabState StateFor(const LabPlan& plan) {
  LabState state;
  state.lab_id = plan.lab_id;
  state.dir = plan.dir;
  state.config_path = plan.config_path;
  state.table = NftTableName(plan.lab_id);
  for (const HostConfig& h : plan.config.hosts) {
    state.hosts.push_back(LabHost{h.name, h.address, HostDataDir(plan.config, h)});
  }
  state.coordinators = plan.coordinators;
  state.etcd = plan.etcd;
  return state;
}

// A lab already up in plan.dir (any process tagged with its id) is refused; a lab.json whose
// processes are all gone is stale and replaced.
Status CheckNotUp(const LabPlan& plan) {
  std::vector<pid_t> live = HostProcesses(plan.lab_id).Of("");
  if (live.empty()) return Status::Ok();
  return FailedPrecondition("lab " + plan.lab_id + " is already up at " + plan.dir +
                            " (processes " + PidList(live) +
                            "): `duplex lab down -c <config>` first");
}

}  // namespace

StatusOr<Lab> Lab::Start(const LabPlan& plan, const std::string& duplex_binary) {
  DUPLEX_RETURN_IF_ERROR(CheckNotUp(plan));
  // A lab of this directory that ended without `down` may have left its rules: a new lab
  // starts with none. (Without root there can be none of ours to remove.)
  if (::geteuid() == 0) DUPLEX_RETURN_IF_ERROR(NftIsolation(plan.lab_id).Heal());
  DUPLEX_RETURN_IF_ERROR(MakeDir(plan.dir));
  DUPLEX_RETURN_IF_ERROR(MakeDir(plan.config.data_dir));
  DUPLEX_ASSERT(plan.keys_dir.empty() || plan.derived, "keys for a config the lab does not write",
                plan.keys_dir);
  if (plan.derived) {
    ClusterConfig config = plan.config;
    if (!plan.keys_dir.empty()) {
      // The lab's own keys, made anew at each `up` (InitClusterKeys overwrites none): no
      // process of an earlier lab runs here (CheckNotUp), so none holds the old ones.
      std::error_code ec;
      std::filesystem::remove_all(plan.keys_dir, ec);
      if (ec) return IOError("cannot clear " + plan.keys_dir + ": " + ec.message());
      DUPLEX_RETURN_IF_ERROR(AddClusterKeys(&config, plan.keys_dir));
    }
    DUPLEX_RETURN_IF_ERROR(WriteFileAtomically(plan.config_path, ClusterConfigToYaml(config)));
  }
  if (!plan.etcd.empty() && ::access(kEtcdBinary, X_OK) != 0) {
    return FailedPrecondition(std::string("--etcd: ") + kEtcdBinary +
                              " is not installed (Debian etcd-server; scripts/install-deps)");
  }
  Lab lab(StateFor(plan));
  // The members first (the coordinators' record store), then the agents, then the
  // coordinators. Recorded after each start: a start that fails leaves lab.json naming what
  // runs, for down.
  std::vector<std::pair<LabRole, std::string>> starts;
  for (const LabEtcdMember& m : lab.state_.etcd) starts.emplace_back(LabRole::kEtcd, m.host);
  for (const LabHost& host : lab.state_.hosts) starts.emplace_back(LabRole::kAgent, host.name);
  for (const LabCoordinator& c : lab.state_.coordinators) {
    starts.emplace_back(LabRole::kCoordinator, c.host);
  }
  for (const auto& [role, host] : starts) {
    StatusOr<LabProcessRecord> record = lab.Spawn(role, host, duplex_binary);
    if (!record.ok()) return record.status();
    lab.state_.processes.push_back(*record);
    DUPLEX_RETURN_IF_ERROR(SaveLabState(lab.state_));
  }
  return lab;
}

StatusOr<Lab> Lab::Open(const std::string& dir) {
  StatusOr<LabState> state = LoadLabState(dir);
  if (!state.ok()) return state.status();
  return Lab(std::move(*state));
}

StatusOr<ClusterConfig> Lab::Config() const { return LoadClusterConfig(state_.config_path); }

StatusOr<LabProcessRecord> Lab::Spawn(LabRole role, const std::string& host,
                                      const std::string& duplex_binary) const {
  const LabHost* lab_host = host.empty() ? nullptr : FindLabHost(host);
  DUPLEX_ASSERT(host.empty() || lab_host != nullptr, "the lab starts processes on its hosts", host);
  const std::string dir = lab_host != nullptr ? lab_host->data_dir : state_.dir;
  DUPLEX_RETURN_IF_ERROR(MakeDir(dir));
  LabProcessRecord record;
  record.role = role;
  record.host = host;
  record.log_path = dir + "/" + LabRoleName(role) + ".log";
  SpawnOptions options;
  options.argv = ProcessArgv(role, host, duplex_binary);
  options.env = LabEnvironment(state_.lab_id, host);
  options.group = ChildGroup::kNewSession;  // outlives `duplex lab up`, as a host's daemons do
  options.stdin_null = true;
  options.stdout_to = ChildOutput::kLogFile;
  options.stderr_to = ChildOutput::kLogFile;
  options.log_path = record.log_path;
  options.close_other_fds = true;
  StatusOr<pid_t> pid = ::duplex::Spawn(options);
  if (!pid.ok()) return pid.status();
  record.pid = *pid;
  return record;
}

std::vector<std::string> Lab::ProcessArgv(LabRole role, const std::string& host,
                                          const std::string& duplex_binary) const {
  if (role == LabRole::kEtcd) {
    DUPLEX_ASSERT(FindMember(host) != nullptr, "an etcd member runs on a host the lab placed one",
                  host);
    std::vector<EtcdMemberOptions> members;
    for (const LabEtcdMember& m : state_.etcd) {
      members.push_back(MemberOptions(m, FindLabHost(m.host)->data_dir, state_.lab_id));
    }
    PlanEtcdCluster(members);
    for (const EtcdMemberOptions& m : members) {
      if (m.name == host) return EtcdArgv(m);
    }
  }
  std::vector<std::string> argv = {duplex_binary, LabRoleName(role), "-c", state_.config_path};
  // Several coordinators: each is told which one it is.
  if (role == LabRole::kAgent ||
      (role == LabRole::kCoordinator && state_.coordinators.size() > 1)) {
    argv.insert(argv.end(), {"--host", host});
  }
  return argv;
}

const LabProcessRecord* Lab::FindRecord(LabRole role, const std::string& host) const {
  // The last one: a process started again is recorded in place of the first.
  const LabProcessRecord* found = nullptr;
  for (const LabProcessRecord& p : state_.processes) {
    if (p.role == role && p.host == host) found = &p;
  }
  return found;
}

const LabEtcdMember* Lab::FindMember(const std::string& host) const {
  for (const LabEtcdMember& m : state_.etcd) {
    if (m.host == host) return &m;
  }
  return nullptr;
}

bool Lab::HasCoordinator(const std::string& host) const {
  for (const LabCoordinator& c : state_.coordinators) {
    if (c.host == host) return true;
  }
  return false;
}

bool Lab::Running(const LabProcessRecord& record) const {
  const ProcessState state = StateOf(record.pid);
  if (state != ProcessState::kRunning && state != ProcessState::kStopped) return false;
  // The tag proves the pid is still ours, not a reused one.
  return HostProcesses(state_.lab_id).HostOf(record.pid) == record.host;
}

const LabHost* Lab::FindLabHost(const std::string& name) const {
  for (const LabHost& h : state_.hosts) {
    if (h.name == name) return &h;
  }
  return nullptr;
}

Status Lab::CheckHost(const std::string& name) const {
  if (FindLabHost(name) != nullptr) return Status::Ok();
  std::string names;
  for (const LabHost& h : state_.hosts) names += (names.empty() ? "" : ", ") + h.name;
  return InvalidArgument("unknown host " + name + ": the lab's hosts are " + names);
}

StatusOr<json> Lab::LeaderStatus(int timeout_ms) const {
  // Asked together: a frozen coordinator costs one timeout, not one per coordinator.
  std::vector<std::future<StatusOr<json>>> asked;
  for (const LabCoordinator& c : state_.coordinators) {
    asked.push_back(std::async(std::launch::async, [admin = c.admin, timeout_ms] {
      const auto [address, port] = SplitEndpoint(admin);
      return GetJsonAt(address, port, "/status", timeout_ms);
    }));
  }
  std::optional<json> leader;
  std::string last = "no coordinator answers";
  for (std::future<StatusOr<json>>& answer : asked) {
    StatusOr<json> status = answer.get();
    if (!status.ok()) continue;
    if (state_.coordinators.size() == 1) return status;
    const json self = status->value("coordinator", json::object());
    if (self.value("role", "") != "leader") {
      last = "no coordinator says it leads";
      continue;
    }
    const uint64_t term = self.value("term", uint64_t{0});
    if (!leader || term > (*leader)["coordinator"].value("term", uint64_t{0})) leader = *status;
  }
  if (leader) return *leader;
  return Unavailable(last);
}

StatusOr<std::string> Lab::LeaderHost(int timeout_ms) const {
  StatusOr<json> status = LeaderStatus(timeout_ms);
  if (!status.ok()) return status.status();
  if (state_.coordinators.size() == 1) return state_.coordinators[0].host;
  return status->value("coordinator", json::object()).value("host", "");
}

StatusOr<std::string> Lab::WaitActive(int timeout_ms) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string last = "the coordinator at " + state_.coordinators[0].admin + " never answered";
  while (std::chrono::steady_clock::now() < deadline) {
    for (const LabProcessRecord& p : state_.processes) {
      // Only our own children can be waited for; for others this says `lost` and nothing more.
      std::optional<ExitStatus> exit = WaitExited(p.pid, 0);
      if (exit.has_value() && !exit->lost) {
        return Unavailable(std::string(LabRoleName(p.role)) + " " + std::to_string(p.pid) +
                           (p.host.empty() ? "" : " on " + p.host) + " " + exit->Describe() +
                           " at start; see " + p.log_path);
      }
    }
    StatusOr<json> status = LeaderStatus(kStatusTimeoutMs);
    if (status.ok()) {
      const std::string active = status->value("active", "");
      if (!active.empty()) return active;
      last = "the coordinator answers but shows no active";
    } else {
      last = status.status().message();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kStatusPollMs));
  }
  return Unavailable("no active within " + std::to_string(timeout_ms) + " ms (" + last +
                     "); the lab stays up for `duplex lab down`; logs in " + state_.dir +
                     " and the hosts' data directories");
}

StatusOr<int> Lab::Crash(const std::string& host) const {
  DUPLEX_RETURN_IF_ERROR(CheckHost(host));
  return HostProcesses(state_.lab_id).Crash(host);
}

StatusOr<int> Lab::Freeze(const std::string& host) const {
  DUPLEX_RETURN_IF_ERROR(CheckHost(host));
  return HostProcesses(state_.lab_id).Freeze(host);
}

StatusOr<int> Lab::Thaw(const std::string& host) const {
  DUPLEX_RETURN_IF_ERROR(CheckHost(host));
  return HostProcesses(state_.lab_id).Thaw(host);
}

StatusOr<std::vector<LabProcessRecord>> Lab::StartHost(const std::string& host,
                                                       const std::string& duplex_binary) {
  DUPLEX_RETURN_IF_ERROR(CheckHost(host));
  std::vector<LabRole> roles;
  if (FindMember(host) != nullptr) roles.push_back(LabRole::kEtcd);
  roles.push_back(LabRole::kAgent);
  if (HasCoordinator(host)) roles.push_back(LabRole::kCoordinator);
  std::vector<LabProcessRecord> started;
  for (LabRole role : roles) {
    StatusOr<std::optional<LabProcessRecord>> record = Start(role, host, duplex_binary);
    if (!record.ok()) return record.status();
    if (record->has_value()) started.push_back(**record);
  }
  return started;
}

StatusOr<std::optional<LabProcessRecord>> Lab::Start(LabRole role, const std::string& host,
                                                     const std::string& duplex_binary) {
  if (!host.empty()) DUPLEX_RETURN_IF_ERROR(CheckHost(host));
  if (role == LabRole::kEtcd && FindMember(host) == nullptr) {
    return NotFound("the lab runs no etcd member on " + host);
  }
  if (role == LabRole::kCoordinator && !HasCoordinator(host)) {
    return NotFound("the lab runs no coordinator on " + (host.empty() ? "no host" : host));
  }
  auto same = [&](const LabProcessRecord& p) { return p.role == role && p.host == host; };
  auto it = std::find_if(state_.processes.begin(), state_.processes.end(), same);
  if (it != state_.processes.end() && Running(*it)) return std::optional<LabProcessRecord>();
  StatusOr<LabProcessRecord> record = Spawn(role, host, duplex_binary);
  if (!record.ok()) return record.status();
  if (it != state_.processes.end()) state_.processes.erase(it);
  state_.processes.push_back(*record);
  DUPLEX_RETURN_IF_ERROR(SaveLabState(state_));
  return std::optional<LabProcessRecord>(*record);
}

StatusOr<pid_t> Lab::Signal(LabRole role, const std::string& host, int signal) const {
  const LabProcessRecord* record = FindRecord(role, host);
  const std::string what =
      std::string(LabRoleName(role)) + " on " + (host.empty() ? "no host" : host);
  if (record == nullptr || !Running(*record)) return NotFound("no " + what + " runs");
  if (::kill(record->pid, signal) != 0) {
    return IOError("kill " + std::to_string(record->pid) + " (" + what +
                   "): " + std::strerror(errno));
  }
  return record->pid;
}

Status Lab::Isolate(const std::string& host, Direction direction, const std::string& peer) {
  DUPLEX_RETURN_IF_ERROR(RequireRoot("isolate"));
  DUPLEX_RETURN_IF_ERROR(CheckHost(host));
  Isolation isolation{FindLabHost(host)->address, direction, ""};
  IsolationRecord record{host, direction, "", {}, PortScope::kService};
  if (direction != Direction::kBoth) {
    const std::string flag = std::string("--") + DirectionName(direction) + " " + peer;
    if (peer == host) return InvalidArgument(flag + ": a host is never isolated from itself");
    if (peer != "all") {
      Status known = CheckHost(peer);
      if (!known.ok()) return InvalidArgument(flag + ": " + known.message() + " (or all)");
      isolation.peer_address = FindLabHost(peer)->address;
    }
    record.peer = peer;
  }
  for (const IsolationRecord& r : state_.isolation) {
    if (r == record) return Status::Ok();  // in force already
  }
  DUPLEX_RETURN_IF_ERROR(NftIsolation(state_.lab_id).Apply(isolation));
  state_.isolation.push_back(record);
  return SaveLabState(state_);
}

Status Lab::IsolatePorts(const std::string& host, const std::vector<int>& ports, PortScope scope) {
  DUPLEX_RETURN_IF_ERROR(RequireRoot("isolate"));
  DUPLEX_RETURN_IF_ERROR(CheckHost(host));
  if (ports.empty()) return InvalidArgument("isolate " + host + ": which ports?");
  IsolationRecord record{host, Direction::kBoth, "", ports, scope};
  for (const IsolationRecord& r : state_.isolation) {
    if (r == record) return Status::Ok();  // in force already
  }
  DUPLEX_RETURN_IF_ERROR(
      NftIsolation(state_.lab_id).Apply(PortIsolation{FindLabHost(host)->address, ports, scope}));
  state_.isolation.push_back(record);
  return SaveLabState(state_);
}

Status Lab::Heal() {
  DUPLEX_RETURN_IF_ERROR(RequireRoot("heal"));
  DUPLEX_RETURN_IF_ERROR(NftIsolation(state_.lab_id).Heal());
  state_.isolation.clear();
  return SaveLabState(state_);
}

StatusOr<int> Lab::Down() {
  // Rules left behind would isolate the next lab's hosts: without root, stop before anything.
  if (!state_.isolation.empty()) DUPLEX_RETURN_IF_ERROR(RequireRoot("down"));
  // Healed first, so that the coordinator hears the shutdown and reaches the agents. Also
  // without recorded rules: a command that died between nft and lab.json may have left one.
  if (::geteuid() == 0) DUPLEX_RETURN_IF_ERROR(NftIsolation(state_.lab_id).Heal());
  state_.isolation.clear();
  if (StatusOr<ClusterConfig> config = Config(); config.ok()) {
    // The (acting) coordinator stops the replicas cleanly when it can; what is left is
    // signalled below.
    if (StatusOr<json> leader = LeaderStatus(kStatusTimeoutMs); leader.ok()) {
      const std::string leads = leader->value("coordinator", json::object()).value("host", "");
      for (const LabCoordinator& c : state_.coordinators) {
        if (state_.coordinators.size() > 1 && c.host != leads) continue;
        const auto [address, port] = SplitEndpoint(c.admin);
        ClusterConfig at = *config;
        at.host = address;
        at.admin_port = port;
        (void)Post(at, "/shutdown", kShutdownTimeoutMs);
      }
    }
  }
  StatusOr<int> stopped = HostProcesses(state_.lab_id).StopAll(kTermGraceMs, kStopTimeoutMs);
  if (!stopped.ok()) return stopped.status();
  for (const LabProcessRecord& p : state_.processes) (void)WaitExited(p.pid, 0);  // our children
  std::error_code ec;
  fs::remove(LabStatePath(state_.dir), ec);
  if (ec) return IOError(LabStatePath(state_.dir) + ": cannot remove: " + ec.message());
  return stopped;
}

json Lab::StatusJson() const {
  const HostProcesses processes(state_.lab_id);
  std::map<std::string, json> by_host;  // "" = on no host
  std::set<pid_t> listed;
  auto add = [&](pid_t pid, const std::string& host, const std::string& role) {
    const ProcessState state = StateOf(pid);
    by_host[host].push_back({{"pid", pid},
                             {"role", role},
                             {"state", ProcessStateName(state)},
                             {"command", CommandOf(pid)}});
    listed.insert(pid);
  };
  for (const LabProcessRecord& p : state_.processes) {
    if (Running(p)) {
      add(p.pid, p.host, LabRoleName(p.role));
    } else {
      by_host[p.host].push_back(
          {{"pid", p.pid}, {"role", LabRoleName(p.role)}, {"state", "gone"}, {"command", ""}});
    }
  }
  // What the lab's processes started (the replicas): the host's too.
  for (pid_t pid : processes.Of("")) {
    if (listed.contains(pid)) continue;
    if (std::optional<std::string> host = processes.HostOf(pid)) add(pid, *host, "child");
  }
  json hosts = json::array();
  for (const LabHost& h : state_.hosts) {
    hosts.push_back({{"name", h.name},
                     {"address", h.address},
                     {"data_dir", h.data_dir},
                     {"processes", by_host.contains(h.name) ? by_host[h.name] : json::array()}});
  }
  json out = LabStateToJson(state_);
  out.erase("processes");
  out["hosts"] = hosts;
  out["coordinators"] = CoordinatorsJson();
  out["etcd"] = EtcdJson();
  out["outside_processes"] = by_host.contains("") ? by_host[""] : json::array();
  return out;
}

json Lab::CoordinatorsJson() const {
  json out = json::array();
  for (const LabCoordinator& c : state_.coordinators) {
    json row = {{"host", c.host}, {"admin", c.admin}};
    const auto [address, port] = SplitEndpoint(c.admin);
    StatusOr<json> status = GetJsonAt(address, port, "/status", kStatusTimeoutMs);
    if (!status.ok()) {
      row["role"] = "down";
      row["error"] = status.status().message();
    } else if (const json self = status->value("coordinator", json()); self.is_object()) {
      row["role"] = self.value("role", "?");
      row["term"] = self.value("term", uint64_t{0});
    } else {
      row["role"] = "alone";  // a coordinator without etcd says nothing of leadership
    }
    out.push_back(std::move(row));
  }
  return out;
}

json Lab::EtcdJson() const {
  json out = json::array();
  for (const LabEtcdMember& m : state_.etcd) {
    json row = {{"host", m.host}, {"client_url", m.client_url}, {"peer_url", m.peer_url}};
    const auto [address, port] = UrlEndpoint(m.client_url);
    StatusOr<json> health = GetJsonAt(address, port, "/health", kHealthTimeoutMs);
    // A member is healthy only while its cluster has a leader (a quorum).
    row["health"] = !health.ok()                            ? "down"
                    : health->value("health", "") == "true" ? "healthy"
                                                            : "no quorum";
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace duplex::lab
