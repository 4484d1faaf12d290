#include "chaos/lab/lab.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <thread>

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
  state.coordinator_host = plan.config.coordinator_host;
  state.coordinator_endpoint = plan.config.host + ":" + std::to_string(plan.config.admin_port);
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
  if (plan.derived) {
    DUPLEX_RETURN_IF_ERROR(WriteFileAtomically(plan.config_path, ClusterConfigToYaml(plan.config)));
  }
  Lab lab(StateFor(plan));
  // Recorded after each start: a start that fails leaves lab.json naming what runs, for down.
  for (const LabHost& host : lab.state_.hosts) {
    StatusOr<LabProcessRecord> agent = lab.Spawn(LabRole::kAgent, host.name, duplex_binary);
    if (!agent.ok()) return agent.status();
    lab.state_.processes.push_back(*agent);
    DUPLEX_RETURN_IF_ERROR(SaveLabState(lab.state_));
  }
  StatusOr<LabProcessRecord> coordinator =
      lab.Spawn(LabRole::kCoordinator, lab.state_.coordinator_host, duplex_binary);
  if (!coordinator.ok()) return coordinator.status();
  lab.state_.processes.push_back(*coordinator);
  DUPLEX_RETURN_IF_ERROR(SaveLabState(lab.state_));
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
  options.argv = {duplex_binary, LabRoleName(role), "-c", state_.config_path};
  if (role == LabRole::kAgent) options.argv.insert(options.argv.end(), {"--host", host});
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

StatusOr<std::string> Lab::WaitActive(int timeout_ms) const {
  StatusOr<ClusterConfig> config = Config();
  if (!config.ok()) return config.status();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string last = "the coordinator at " + state_.coordinator_endpoint + " never answered";
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
    StatusOr<json> status = GetStatus(*config, kStatusTimeoutMs);
    if (status.ok()) {
      const std::string active = status->value("active", "");
      if (!active.empty()) return active;
      last = "the coordinator answers but shows no active";
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
  std::vector<LabRole> roles = {LabRole::kAgent};
  if (state_.coordinator_host == host) roles.push_back(LabRole::kCoordinator);
  std::vector<LabProcessRecord> started;
  for (LabRole role : roles) {
    auto same = [&](const LabProcessRecord& p) { return p.role == role && p.host == host; };
    auto it = std::find_if(state_.processes.begin(), state_.processes.end(), same);
    if (it != state_.processes.end() && Running(*it)) continue;
    StatusOr<LabProcessRecord> record = Spawn(role, host, duplex_binary);
    if (!record.ok()) return record.status();
    if (it != state_.processes.end()) state_.processes.erase(it);
    state_.processes.push_back(*record);
    started.push_back(*record);
    DUPLEX_RETURN_IF_ERROR(SaveLabState(state_));
  }
  return started;
}

Status Lab::Isolate(const std::string& host, Direction direction, const std::string& peer) {
  DUPLEX_RETURN_IF_ERROR(RequireRoot("isolate"));
  DUPLEX_RETURN_IF_ERROR(CheckHost(host));
  Isolation isolation{FindLabHost(host)->address, direction, ""};
  IsolationRecord record{host, direction, ""};
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
    // The coordinator stops the replicas cleanly when it can; what is left is signalled below.
    (void)Post(*config, "/shutdown", kShutdownTimeoutMs);
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
  out["outside_processes"] = by_host.contains("") ? by_host[""] : json::array();
  return out;
}

}  // namespace duplex::lab
