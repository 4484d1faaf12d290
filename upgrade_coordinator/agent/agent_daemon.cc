#include "upgrade_coordinator/agent/agent_daemon.h"

#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/assert.h"
#include "common/files.h"
#include "common/net.h"
#include "common/pid_lock.h"
#include "common/stop_signal.h"
#include "common/subprocess.h"
#include "common/wakeup.h"
#include "replica/curve_auth.h"
#include "replica/zmq_util.h"
#include "upgrade_coordinator/agent/agent_core.h"
#include "upgrade_coordinator/agent/package_receiver.h"
#include "upgrade_coordinator/curve_config.h"
#include "upgrade_coordinator/package.h"

namespace duplex {
namespace {

int64_t SteadyUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t WallUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- The record: what a restarted agent needs to adopt its replicas ----

nlohmann::json SpecJson(const ReplicaSpec& s) {
  return {{"replica", s.replica},
          {"instance", s.instance},
          {"run", s.run},
          {"package", s.package},
          {"version", s.version},
          {"args", s.args},
          {"stop_grace_ms", s.stop_grace_ms}};
}

std::string RecordJson(const AgentCore& core) {
  nlohmann::json desired = {{"host", core.desired().host},
                            {"generation", core.desired().generation},
                            {"restart_when_alone", core.desired().restart_when_alone},
                            {"replicas", nlohmann::json::array()}};
  for (const ReplicaSpec& s : core.desired().replicas) desired["replicas"].push_back(SpecJson(s));
  nlohmann::json processes = nlohmann::json::array();
  // Those not running too: the instance it started last is not started again by a new agent
  // (after a reboot the coordinator decides, with its backoff and its failed marks).
  for (const ReplicaProcess& p : core.processes()) {
    processes.push_back({{"replica", p.replica},
                         {"instance", p.instance},
                         {"pid", p.pid},
                         {"package", p.package},
                         {"version", p.version}});
  }
  return nlohmann::json{{"desired", desired}, {"processes", processes}}.dump(2) + "\n";
}

struct Record {
  DesiredState desired;
  std::vector<ReplicaProcess> processes;  // as recorded: they may have exited since
};

// A damaged record is reported and ignored: the coordinator's next desired state replaces it.
Record ReadRecord(const std::string& path) {
  Record record;
  std::ifstream in(path);
  if (!in) return record;
  try {
    nlohmann::json j = nlohmann::json::parse(in);
    const auto& d = j.at("desired");
    record.desired.host = d.at("host").get<std::string>();
    record.desired.generation = d.at("generation").get<uint64_t>();
    record.desired.restart_when_alone = d.at("restart_when_alone").get<bool>();
    for (const auto& s : d.at("replicas")) {
      record.desired.replicas.push_back(
          {s.at("replica").get<std::string>(), s.at("instance").get<uint64_t>(),
           s.at("run").get<bool>(), s.at("package").get<std::string>(),
           s.at("version").get<std::string>(), s.at("args").get<std::vector<std::string>>(),
           s.at("stop_grace_ms").get<uint32_t>()});
    }
    for (const auto& p : j.at("processes")) {
      ReplicaProcess process;
      process.replica = p.at("replica").get<std::string>();
      process.instance = p.at("instance").get<uint64_t>();
      process.pid = p.at("pid").get<int32_t>();
      process.package = p.at("package").get<std::string>();
      process.version = p.at("version").get<std::string>();
      record.processes.push_back(std::move(process));
    }
  } catch (const std::exception& e) {
    spdlog::error("{}: unreadable record ignored: {}", path, e.what());
    return Record{};
  }
  return record;
}

std::string DescribeExit(int wait_status) {
  if (WIFEXITED(wait_status)) return "exited with " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    return "was killed by signal " + std::to_string(WTERMSIG(wait_status));
  }
  return "ended";
}

class AgentDaemon {
 public:
  AgentDaemon(const ClusterConfig& config, const HostConfig& host)
      : config_(config),
        host_(host),
        dir_(AgentDir(config, host)),
        core_(CoreOptions(config, host)),
        ctx_(zmq_ctx_new()) {}
  ~AgentDaemon() {
    for (auto& [name, p] : procs_) {
      if (p.pidfd >= 0) ::close(p.pidfd);
    }
    dealers_.clear();
    curve_.reset();  // its ZAP socket, before the context ends
    zmq_ctx_term(ctx_);
  }

  Status Start() {
    std::error_code ec;
    std::filesystem::create_directories(dir_ + "/incoming", ec);
    if (ec) return IOError(dir_ + ": " + ec.message());
    auto lock = PidLock::Acquire(PidLock::FileIn(dir_));
    if (!lock.ok())
      return FailedPrecondition("another agent runs for host " + host_.name + ": " +
                                lock.status().message());
    lock_ = std::make_unique<PidLock>(std::move(lock).value());
    auto store = PackageStore::Open(dir_ + "/packages", PackagePolicyOf(config_));
    if (!store.ok()) return store.status();
    store_ = std::move(store).value();
    receiver_ = std::make_unique<PackageReceiver>(store_.get(), dir_ + "/incoming");
    auto settings = AgentCurve(config_, host_.name);
    if (!settings.ok()) return settings.status();
    auto curve = CurveAuth::Start(ctx_, std::move(settings).value());
    if (!curve.ok()) return curve.status();
    curve_ = std::move(curve).value();
    const std::vector<std::string> endpoints = CoordinatorControlEndpoints(config_);
    const std::vector<std::string> members = CoordinatorMembers(config_);
    DUPLEX_ASSERT(endpoints.size() == members.size(), "a member per coordinator", endpoints.size(),
                  members.size());
    for (size_t i = 0; i < endpoints.size(); ++i) {
      DUPLEX_RETURN_IF_ERROR(Connect(endpoints[i], members[i]));
    }
    started_wall_us_ = WallUs();
    Adopt();
    RefreshFacts();
    return Status::Ok();
  }

  void Run() {
    while (!StopRequested()) {
      Poll();
      const int64_t now = SteadyUs();
      core_.OnTick(tick_us_ = now);
      if (now - last_report_us_ >= int64_t{config_.agent.heartbeat_ms} * 1000) {
        if (now - facts_us_ >= 5'000'000) RefreshFacts();
        Report(false);
      }
      Execute();
    }
    spdlog::info("agent for host {} stops; its replicas keep running", host_.name);
  }

 private:
  // Per coordinator and poll: a flood from one (package parts) leaves room for the others.
  static constexpr int kMessagesPerPollMax = 256;

  struct Proc {
    int32_t pid = 0;
    int pidfd = -1;
    bool child = false;
  };

  static AgentCoreOptions CoreOptions(const ClusterConfig& c, const HostConfig& host) {
    AgentCoreOptions o;
    o.host = host.name;
    o.alone_after_ms = 5 * c.agent.heartbeat_ms;
    o.restart = c.restart;
    o.epoch_step_max = c.limits.epoch_step_max;
    return o;
  }

  // One DEALER per coordinator, leaving from the host's address (the lab's firewall rules
  // tell hosts apart by it). Reports are queued only on a live connection (ZMQ_IMMEDIATE):
  // a coordinator down for hours would otherwise get its backlog of stale reports when it
  // returns; a report is level-triggered, the next one says it all again. With CURVE, the
  // coordinator must hold its listed key, and ours tells it which host's agent reports.
  Status Connect(const std::string& coordinator, const std::string& member) {
    auto dealer = std::make_unique<ZSocket>(ctx_, ZMQ_DEALER, config_.replication.frame_bytes_max);
    DUPLEX_RETURN_IF_ERROR(curve_->ClientOf(dealer->s, member));
    int immediate = 1;
    zmq_setsockopt(dealer->s, ZMQ_IMMEDIATE, &immediate, sizeof(immediate));
    DUPLEX_RETURN_IF_ERROR(ZmqConnect(dealer->s, coordinator, host_.address));
    dealers_.push_back(std::move(dealer));
    return Status::Ok();
  }

  // A process survives its agent: what the record names and still holds its replica's
  // directory (the pid lock, so a reused pid is never taken for it) is adopted.
  void Adopt() {
    Record record = ReadRecord(dir_ + "/record.json");
    std::vector<ReplicaProcess> known;
    for (const ReplicaConfig* r : ReplicasOn(config_, host_.name)) {
      const pid_t holder = PidLock::Holder(PidLock::FileIn(ReplicaDataDir(config_, *r)));
      if (holder <= 0) {
        for (ReplicaProcess p : record.processes) {
          if (p.replica != r->name || p.instance == 0) continue;
          p.pid = 0;  // gone (the host rebooted, or it exited while no agent watched)
          known.push_back(p);
        }
        continue;
      }
      ReplicaProcess adopted;
      adopted.replica = r->name;
      adopted.pid = holder;
      for (const ReplicaProcess& p : record.processes) {
        if (p.replica == r->name && p.pid == holder) adopted = p;
      }
      if (adopted.instance == 0) {
        spdlog::warn("replica {} (pid {}) runs but is not in the record: adopted", r->name, holder);
      }
      Watch(r->name, holder, /*child=*/false);
      known.push_back(adopted);
    }
    record.desired.host = host_.name;
    core_.Restore(record.desired, known, SteadyUs());
  }

  void Watch(const std::string& replica, int32_t pid, bool child) {
    Proc& p = procs_[replica];
    if (p.pidfd >= 0) ::close(p.pidfd);
    p = {pid, static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)), child};
    if (p.pidfd < 0) spdlog::warn("pidfd_open({}): {}; its exit is polled", pid, errno);
  }

  // Waits for a coordinator or a process exit, at most until the next heartbeat is due.
  // Desired states come from whichever coordinator leads; AgentCore keeps to the highest
  // term, so a deposed leader still sending is ignored.
  void Poll() {
    std::vector<zmq_pollitem_t> items;
    for (auto& dealer : dealers_) items.push_back({dealer->s, 0, ZMQ_POLLIN, 0});
    for (auto& [name, p] : procs_) {
      if (p.pid != 0 && p.pidfd >= 0) items.push_back({nullptr, p.pidfd, ZMQ_POLLIN, 0});
    }
    zmq_poll(items.data(), static_cast<int>(items.size()), WaitMs());
    for (auto& dealer : dealers_) {
      for (int i = 0; i < kMessagesPerPollMax; ++i) {
        const uint64_t refused_before = zmq_parts_refused_;
        std::vector<std::string> parts =
            RecvParts(dealer->s, nullptr, config_.limits.zmq_parts_max, &zmq_parts_refused_);
        if (zmq_parts_refused_ != refused_before && zmq_parts_refused_ <= 100) {
          spdlog::warn("dropped {} message(s) of more than limits.zmq_parts_max ({}) parts",
                       zmq_parts_refused_ - refused_before, config_.limits.zmq_parts_max);
        }
        if (parts.empty()) break;
        OnMessage(parts);
      }
    }
    CheckExits();
  }

  // Until the core's next timer or the next report, whichever is first; 10 ms (the old
  // pace) while a process without a pidfd is watched (its exit is found only by looking) or
  // actions decided while the last were carried out wait (a start failing again and again is
  // paced by it).
  int WaitMs() const {
    constexpr int kPaceMs = 10;
    if (core_.HasActions()) return kPaceMs;
    for (const auto& [name, p] : procs_) {
      if (p.pid != 0 && p.pidfd < 0) return kPaceMs;
    }
    const int64_t heartbeat_us = int64_t{config_.agent.heartbeat_ms} * 1000;
    const int64_t due_us = std::min(core_.NextTickUs(tick_us_), last_report_us_ + heartbeat_us);
    return PollWaitMs(due_us, SteadyUs(), config_.agent.heartbeat_ms);
  }

  void CheckExits() {
    for (auto& [name, p] : procs_) {
      if (p.pid == 0) continue;
      if (p.pidfd >= 0) {
        pollfd fd = {p.pidfd, POLLIN, 0};
        if (::poll(&fd, 1, 0) == 0) continue;  // readable once the process has ended
      }
      int status = 0;
      std::string how;
      if (p.child) {
        if (::waitpid(p.pid, &status, WNOHANG) != p.pid) continue;
        how = DescribeExit(status);
      } else {
        if (::kill(p.pid, 0) == 0 && !IsZombie(p.pid)) continue;
        how = "exited (adopted: its status went to its parent)";
      }
      const int32_t pid = p.pid;
      p.pid = 0;
      if (p.pidfd >= 0) ::close(p.pidfd);
      p.pidfd = -1;
      core_.OnExited(name, pid, how, SteadyUs());
    }
  }

  static bool IsZombie(int32_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    auto close = line.rfind(')');
    return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
  }

  void OnMessage(const std::vector<std::string>& parts) {
    auto frame = parts.size() == 2 && parts[0] == kAgentTag
                     ? DecodeAgentFrame(parts[1], config_.replication.frame_bytes_max)
                     : StatusOr<AgentFrame>(Corruption("not an agent message"));
    if (!frame.ok()) {
      spdlog::warn("refused coordinator message: {}", frame.status().message());
      return;
    }
    const int64_t now = SteadyUs();
    if (auto* desired = std::get_if<DesiredState>(&*frame)) {
      if (desired->host != host_.name) {
        spdlog::warn("refused desired state for host '{}' (this is {})", desired->host, host_.name);
        return;
      }
      core_.OnDesired(*desired, now);
    } else if (auto* part = std::get_if<PackagePart>(&*frame)) {
      core_.OnCoordinatorHeard(now);
      Status s = receiver_->OnPart(*part);
      const bool last = part->offset + part->data.size() >= part->total_bytes;
      if (!s.ok()) {
        package_error_ = s.message();
        spdlog::error("package refused: {}", s.message());
      } else if (last) {
        package_error_.clear();
        spdlog::info("package {}-{} received and verified", part->name, part->version);
      }
      if (last || !s.ok()) Report(false);
    }
  }

  void Execute() {
    for (auto& action : core_.TakeActions()) {
      if (auto* start = std::get_if<StartProcess>(&action)) {
        StartOne(start->spec);
      } else if (auto* sig = std::get_if<SignalProcess>(&action)) {
        ::kill(sig->pid, sig->signal);
      } else if (auto* report = std::get_if<SendReport>(&action)) {
        if (report->urgent) Report(true);
      } else if (std::holds_alternative<SaveRecord>(action)) {
        Status s = WriteFileAtomically(dir_ + "/record.json", RecordJson(core_));
        if (!s.ok()) spdlog::error("cannot save the record: {}", s.message());
      }
    }
  }

  StatusOr<std::string> BinaryFor(const ReplicaSpec& spec) const {
    if (spec.package.empty()) return config_.processor.binary;
    auto version = ParseVersion(spec.version);
    if (!version.ok()) return version.status();
    auto manifest = store_->Get(spec.package, *version);
    if (!manifest.ok()) {
      return NotFound("package " + spec.package + "-" + spec.version + " is not on host " +
                      host_.name + " (not distributed yet?)");
    }
    // Verified again before every start: the signature against security.package_keys, and the
    // binary against the signed sha256 (a file changed on this host since it was stored).
    DUPLEX_RETURN_IF_ERROR(VerifyPackage(*manifest, store_->policy()));
    return manifest->BinaryPath();
  }

  void StartOne(const ReplicaSpec& spec) {
    const int64_t now = SteadyUs();
    const ReplicaConfig* replica = nullptr;
    for (const ReplicaConfig* r : ReplicasOn(config_, host_.name)) {
      if (r->name == spec.replica) replica = r;
    }
    if (replica == nullptr) {
      core_.OnStartFailed(spec.replica, "not a replica of host " + host_.name, now);
      return;
    }
    if (pid_t holder = PidLock::Holder(PidLock::FileIn(ReplicaDataDir(config_, *replica)))) {
      core_.OnStartFailed(spec.replica, "its directory is held by pid " + std::to_string(holder),
                          now);
      return;
    }
    StatusOr<std::string> binary = BinaryFor(spec);
    if (!binary.ok()) {
      core_.OnStartFailed(spec.replica, binary.status().message(), now);
      return;
    }
    SpawnOptions options;
    options.argv = {*binary};
    options.argv.insert(options.argv.end(), spec.args.begin(), spec.args.end());
    // The replica's keys are this host's: its agent names them, not the coordinator.
    for (std::string& arg : ReplicaCurveArgs(config_, *replica)) {
      options.argv.push_back(std::move(arg));
    }
    options.stdout_to = ChildOutput::kLogFile;
    options.stderr_to = ChildOutput::kLogFile;
    options.log_path = HostDataDir(config_, host_) + "/" + spec.replica + ".log";
    options.group = ChildGroup::kOwn;  // a signal meant for the agent does not reach it
    options.unblock_signals = true;
    options.close_other_fds = true;  // the agent's sockets stay the agent's
    StatusOr<pid_t> pid = Spawn(options);
    if (!pid.ok()) {
      core_.OnStartFailed(spec.replica, pid.status().message(), now);
      return;
    }
    spdlog::info("started replica {} (pid {}, instance {}, {})", spec.replica, *pid, spec.instance,
                 *binary);
    Watch(spec.replica, *pid, /*child=*/true);
    core_.OnStarted(spec.replica, *pid, now);
  }

  void RefreshFacts() {
    facts_us_ = SteadyUs();
    auto facts = ReadPlatformFacts(HostDataDir(config_, host_));
    if (!facts.ok()) return;
    facts_ = {facts->arch, facts->available_memory_mb, facts->available_disk_mb, facts->disk_path};
  }

  void Report(bool urgent) {
    last_report_us_ = SteadyUs();
    AgentReport r;
    r.host = host_.name;
    r.agent_pid = ::getpid();
    r.started_us = started_wall_us_;
    r.sent_us = WallUs();
    r.generation = core_.desired().generation;
    r.processes = core_.processes();
    r.facts = facts_;
    for (const PackageManifest& m : store_->List()) {
      r.packages.push_back({m.name, m.version.ToString(), m.sha256});
    }
    r.urgent = urgent;
    r.package_error = package_error_;
    r.term = core_.term();
    const std::string frame = EncodeAgentFrame(r);
    // To every coordinator: followers keep their view of the host warm for a takeover.
    for (auto& dealer : dealers_) SendMultipart(dealer->s, {kAgentTag, frame});
  }

  const ClusterConfig& config_;
  const HostConfig host_;
  const std::string dir_;
  AgentCore core_;
  void* ctx_;
  std::unique_ptr<CurveAuth> curve_;
  std::vector<std::unique_ptr<ZSocket>> dealers_;  // one per coordinator, in config order
  std::unique_ptr<PidLock> lock_;
  std::unique_ptr<PackageStore> store_;
  std::unique_ptr<PackageReceiver> receiver_;
  std::map<std::string, Proc> procs_;
  HostFacts facts_;
  std::string package_error_;
  int64_t started_wall_us_ = 0;
  int64_t last_report_us_ = 0;
  int64_t tick_us_ = 0;  // the time the core's last OnTick ran with
  int64_t facts_us_ = 0;
  uint64_t zmq_parts_refused_ = 0;  // messages of more than limits.zmq_parts_max parts
};

}  // namespace

std::string AgentDir(const ClusterConfig& config, const HostConfig& host) {
  return HostDataDir(config, host) + "/agent-" + host.name;
}

int RunAgent(const ClusterConfig& config, const std::string& host_name) {
  InstallStopSignals();
  const HostConfig* host = FindHost(config, host_name);
  if (host == nullptr) {
    std::string names;
    for (const HostConfig& h : config.hosts) names += (names.empty() ? "" : ", ") + h.name;
    spdlog::critical("--host {}: not one of the config's hosts ({})", host_name, names);
    return 2;
  }
  AgentDaemon agent(config, *host);
  Status s = agent.Start();
  if (!s.ok()) {
    spdlog::critical("agent for host {} cannot start: {}", host_name, s.ToString());
    return 2;
  }
  std::string coordinators;
  for (const std::string& endpoint : CoordinatorControlEndpoints(config)) {
    coordinators += (coordinators.empty() ? "" : ", ") + endpoint;
  }
  spdlog::info("agent for host {} ({}), coordinators at {}", host->name, host->address,
               coordinators);
  agent.Run();
  return 0;
}

}  // namespace duplex
