#include "chaos/cluster_fixture.h"

#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "chaos/hooks/crash_point.h"
#include "chaos/lab/lab_keys.h"
#include "common/assert.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/net.h"
#include "common/subprocess.h"
#include "replica/client.h"
#include "upgrade_coordinator/admin_client.h"
#include "upgrade_coordinator/admin_http.h"

namespace duplex {
namespace fs = std::filesystem;

namespace {

std::string BuildDir(const std::string& given) {
  if (!given.empty()) return given;
  if (const char* env = std::getenv("DUPLEX_BUILD_DIR"); env != nullptr) return env;
  return "build";
}

// Whether nothing listens on, or holds, `port` on any address right now.
bool PortFree(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);  // clashes with every address's use of the port
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return free;
}

// A free port of [first, last], never the same twice in one process until the range wraps
// (several runs one after another: the ports of the last one may linger in TIME_WAIT).
int PickPort(const FixtureOptions& o) {
  if (o.port_first <= 0) return PickFreePort();
  static std::mutex mu;
  static int next = 0;
  std::lock_guard lock(mu);
  const int span = o.port_last - o.port_first + 1;
  DUPLEX_ASSERT(span > 0, "a port range of at least one port", o.port_first, o.port_last);
  for (int tried = 0; tried < span; ++tried) {
    int port = o.port_first + (next++ % span);
    if (PortFree(port)) return port;
  }
  DUPLEX_ASSERT(false, "no free port in the range", o.port_first, o.port_last);
  return 0;
}

ClusterConfig MakeConfig(const FixtureOptions& o, const std::string& build) {
  ClusterConfig c;
  c.name = "fixture";
  c.data_dir = fs::absolute(o.dir).string();
  c.admin_port = PickPort(o);
  c.control_port = PickPort(o);
  std::string binary = o.processor.empty() ? "examples/kv/kv-1.0.0" : o.processor;
  c.processor.binary = fs::absolute(fs::path(build) / binary).string();
  c.processor.version = "1.0.0";
  for (const char* name : {"a", "b"}) {
    ReplicaConfig r;
    r.name = name;
    r.port = PickPort(o);
    r.client_port = PickPort(o);
    r.http_port = PickPort(o);
    c.replicas.push_back(r);
  }
  c.timing = o.timing;
  c.restart = o.restart;
  c.replication.mode = o.mode;
  c.replication.log_retain_ops = o.log_retain_ops;
  c.log_level = o.log_level;
  return c;
}

// Stop: how long the coordinator has to exit after /shutdown before it is killed.
constexpr int kShutdownWaitMs = 10000;

}  // namespace

StatusOr<std::unique_ptr<ClusterFixture>> ClusterFixture::Start(FixtureOptions options) {
  std::string build = BuildDir(options.build_dir);
  std::error_code ec;
  fs::remove_all(options.dir, ec);
  fs::create_directories(options.dir, ec);
  if (ec) return IOError("cannot create " + options.dir + ": " + ec.message());
  std::unique_ptr<ClusterFixture> f(new ClusterFixture());
  f->dir_ = fs::absolute(options.dir).string();
  f->duplex_binary_ = fs::absolute(fs::path(build) / "duplex").string();
  ClusterConfig made = MakeConfig(options, build);
  // A lab derives its hosts, and so its members: it makes their keys itself (LabUpOptions).
  if (options.curve && options.hosts == 0) {
    DUPLEX_RETURN_IF_ERROR(
        lab::AddClusterKeys(&made, (fs::absolute(options.dir) / "keys").string()));
  }
  if (options.configure) options.configure(&made);
  if (options.hosts > 0) {
    DUPLEX_RETURN_IF_ERROR(f->StartLab(options, made));
    DUPLEX_RETURN_IF_ERROR(f->WaitReady(options.ready_timeout_ms));
    return f;
  }
  std::string path = (fs::absolute(options.dir) / "cluster.yaml").string();
  std::ofstream(path) << ClusterConfigToYaml(made);
  auto config = LoadClusterConfig(path);
  if (!config.ok()) return config.status();
  f->config_ = *config;
  f->config_path_ = path;
  DUPLEX_RETURN_IF_ERROR(f->SpawnAgent());
  DUPLEX_RETURN_IF_ERROR(f->SpawnCoordinator());
  DUPLEX_RETURN_IF_ERROR(f->WaitReady(options.ready_timeout_ms));
  return f;
}

// The lab's processes are children of this process in sessions of their own, tagged with
// the lab's id: Stop takes the lab down, which finds every one of them by its tag.
duplex::Status ClusterFixture::StartLab(const FixtureOptions& options, const ClusterConfig& made) {
  lab::LabUpOptions up;
  up.hosts = options.hosts;
  up.dir = (fs::absolute(options.dir) / "lab").string();
  up.first_host_number = options.lab_first_host;
  up.etcd = options.etcd;
  up.curve = options.curve;
  if (options.etcd) {
    etcd_client_port_ = up.etcd_client_port = PickPort(options);
    etcd_peer_port_ = up.etcd_peer_port = PickPort(options);
  }
  StatusOr<lab::LabPlan> plan = lab::PlanLab(made, up);
  if (!plan.ok()) return plan.status();
  StatusOr<lab::Lab> started = lab::Lab::Start(*plan, duplex_binary_);
  if (!started.ok()) {
    // What did start is recorded in lab.json: take it down.
    if (StatusOr<lab::Lab> open = lab::Lab::Open(plan->dir); open.ok()) (void)open->Down();
    return started.status();
  }
  lab_ = std::move(started).value();
  auto config = LoadClusterConfig(plan->config_path);
  if (!config.ok()) return config.status();
  config_ = *config;
  config_path_ = plan->config_path;
  for (const lab::LabProcessRecord& p : lab_->state().processes) {
    if (p.role == lab::LabRole::kCoordinator) coordinator_pid_ = p.pid;
  }
  return Status::Ok();
}

ClusterConfig ClusterFixture::AdminConfig() const {
  if (!etcd()) return config_;
  ClusterConfig at = config_;
  // The last leader first: asking all three costs a timeout for each one frozen.
  auto point = [&](const std::string& host) {
    for (const lab::LabCoordinator& c : lab_->state().coordinators) {
      if (c.host != host) continue;
      const std::size_t colon = c.admin.rfind(':');
      at.host = c.admin.substr(0, colon);
      at.admin_port = std::atoi(c.admin.c_str() + colon + 1);
    }
  };
  if (!leader_host_.empty()) {
    point(leader_host_);
    StatusOr<nlohmann::json> status = GetStatus(at, 300);
    if (status.ok() && (*status)["coordinator"].value("role", "") == "leader") return at;
  }
  if (StatusOr<std::string> leader = LeaderHost(); leader.ok()) point(*leader);
  return at;
}

StatusOr<std::string> ClusterFixture::LeaderHost() const {
  if (!etcd()) return FailedPrecondition("not a lab with etcd: the scenario needs etcd: true");
  StatusOr<std::string> leader = lab_->LeaderHost(300);
  if (leader.ok()) leader_host_ = *leader;
  return leader;
}

std::vector<std::string> ClusterFixture::CoordinatorHosts() const {
  std::vector<std::string> hosts;
  if (lab_) {
    for (const lab::LabCoordinator& c : lab_->state().coordinators) hosts.push_back(c.host);
  }
  return hosts;
}

StatusOr<pid_t> ClusterFixture::SignalCoordinator(const std::string& host, int sig) {
  if (!etcd()) return FailedPrecondition("not a lab with etcd: the scenario needs etcd: true");
  StatusOr<pid_t> pid = lab_->Signal(lab::LabRole::kCoordinator, host, sig);
  if (pid.ok() && sig == SIGKILL) (void)WaitExited(*pid, 1000);  // our child: no zombie
  return pid;
}

duplex::Status ClusterFixture::StartCoordinator(const std::string& host) {
  if (!etcd()) return FailedPrecondition("not a lab with etcd: the scenario needs etcd: true");
  return lab_->Start(lab::LabRole::kCoordinator, host, duplex_binary_).status();
}

StatusOr<pid_t> ClusterFixture::KillEtcdMember(const std::string& host) {
  if (!etcd()) return FailedPrecondition("not a lab with etcd: the scenario needs etcd: true");
  StatusOr<pid_t> pid = lab_->Signal(lab::LabRole::kEtcd, host, SIGKILL);
  if (pid.ok()) (void)WaitExited(*pid, 1000);
  return pid;
}

duplex::Status ClusterFixture::StartEtcdMember(const std::string& host) {
  if (!etcd()) return FailedPrecondition("not a lab with etcd: the scenario needs etcd: true");
  return lab_->Start(lab::LabRole::kEtcd, host, duplex_binary_).status();
}

duplex::Status ClusterFixture::IsolateCoordinator(const std::string& host,
                                                  const std::string& from) {
  if (!etcd()) return FailedPrecondition("not a lab with etcd: the scenario needs etcd: true");
  if (from == "etcd") {
    return lab_->IsolatePorts(host, {etcd_client_port_, etcd_peer_port_}, lab::PortScope::kLinks);
  }
  if (from == "replicas") {
    return lab_->IsolatePorts(host, {config_.control_port}, lab::PortScope::kService);
  }
  return InvalidArgument("coordinator isolation from " + from + ": not etcd or replicas");
}

std::vector<std::string> ClusterFixture::EventLogPaths() const {
  if (!etcd()) return {config_.data_dir + "/events.jsonl"};
  std::vector<std::string> paths;
  for (const std::string& name : CoordinatorHosts()) {
    const HostConfig* host = FindHost(config_, name);
    if (host != nullptr) paths.push_back(HostDataDir(config_, *host) + "/coordinator/events.jsonl");
  }
  return paths;
}

std::string ClusterFixture::HostOfReplica(const std::string& replica) const {
  for (const auto& r : config_.replicas) {
    if (r.name == replica) return r.host_name;
  }
  return "";
}

duplex::Status ClusterFixture::HealHosts() {
  if (!lab_) return FailedPrecondition("not a lab: host faults need hosts: 2 or 3");
  return lab_->Heal();
}

// A killed process of the lab is our child: reaped here, not left a zombie.
void ClusterFixture::ReapHostRecords(const std::string& host) {
  for (const lab::LabProcessRecord& p : lab_->state().processes) {
    if (p.host == host && lab::StateOf(p.pid) == lab::ProcessState::kZombie) {
      (void)WaitExited(p.pid, 1000);
    }
  }
}

StatusOr<int> ClusterFixture::CrashHost(const std::string& host) {
  if (!lab_) return FailedPrecondition("not a lab: host faults need hosts: 2 or 3");
  StatusOr<int> killed = lab_->Crash(host);
  ReapHostRecords(host);
  return killed;
}

StatusOr<int> ClusterFixture::FreezeHost(const std::string& host) {
  if (!lab_) return FailedPrecondition("not a lab: host faults need hosts: 2 or 3");
  return lab_->Freeze(host);
}

StatusOr<int> ClusterFixture::ThawHost(const std::string& host) {
  if (!lab_) return FailedPrecondition("not a lab: host faults need hosts: 2 or 3");
  return lab_->Thaw(host);
}

duplex::Status ClusterFixture::BootHost(const std::string& host) {
  if (!lab_) return FailedPrecondition("not a lab: host faults need hosts: 2 or 3");
  auto started = lab_->StartHost(host, duplex_binary_);
  return started.ok() ? Status::Ok() : started.status();
}

duplex::Status ClusterFixture::IsolateHost(const std::string& host, const std::string& direction) {
  if (!lab_) return FailedPrecondition("not a lab: host faults need hosts: 2 or 3");
  // in: nothing reaches the host (it hears nobody); out: nothing it sends arrives.
  if (direction == "in") return lab_->Isolate(host, lab::Direction::kFrom, "all");
  if (direction == "out") return lab_->Isolate(host, lab::Direction::kTo, "all");
  if (direction == "both") return lab_->Isolate(host, lab::Direction::kBoth, "");
  return InvalidArgument("isolation direction " + direction + " is not both, in or out");
}

StatusOr<pid_t> ClusterFixture::KillAgent(const std::string& host) {
  if (!lab_) return FailedPrecondition("not a lab: host faults need hosts: 2 or 3");
  const lab::HostProcesses processes(lab_->state().lab_id);
  for (const lab::LabProcessRecord& p : lab_->state().processes) {
    if (p.role != lab::LabRole::kAgent || p.host != host) continue;
    if (processes.HostOf(p.pid) != host) continue;  // gone (or its pid reused)
    KillAndReap(p.pid);
    return p.pid;
  }
  return NotFound("no agent runs on " + host);
}

// A child of this process in its process group: stopped by its PID, and by a Ctrl-C too.
duplex::Status ClusterFixture::SpawnCoordinator() {
  SpawnOptions options;
  options.argv = {duplex_binary_,       "coordinator",    "-c",           config_path_,
                  "--crash-point-file", CrashPointFile(), "--fault-file", CoordinatorFaultFile()};
  options.stdout_to = ChildOutput::kLogFile;
  options.stderr_to = ChildOutput::kLogFile;
  options.log_path = config_.data_dir + "/coordinator.log";
  StatusOr<pid_t> pid = Spawn(options);
  if (!pid.ok()) return pid.status();
  coordinator_pid_ = *pid;
  return Status::Ok();
}

// The one host's agent, a child of this process as the coordinator is.
duplex::Status ClusterFixture::SpawnAgent() {
  SpawnOptions options;
  options.argv = {duplex_binary_, "agent", "-c", config_path_, "--host", config_.hosts[0].name};
  options.stdout_to = ChildOutput::kLogFile;
  options.stderr_to = ChildOutput::kLogFile;
  options.log_path = config_.data_dir + "/agent.log";
  StatusOr<pid_t> pid = Spawn(options);
  if (!pid.ok()) return pid.status();
  agent_pid_ = *pid;
  return Status::Ok();
}

duplex::Status ClusterFixture::KillAndRestartAgent() {
  if (lab_) return FailedPrecondition("a lab's agents: KillAgent and BootHost");
  RememberOrphans();
  if (agent_pid_ != 0) KillAndReap(agent_pid_);
  agent_pid_ = 0;
  return SpawnAgent();
}

duplex::Status ClusterFixture::KillAndRestartCoordinator() {
  KillCoordinator();
  return RestartCoordinator();
}

void ClusterFixture::RememberOrphans() {
  for (const auto& r : config_.replicas) {
    if (auto pid = PidOf(r.name); pid.ok() && *pid > 0) orphans_.push_back(*pid);
  }
}

void ClusterFixture::KillCoordinator() {
  if (coordinator_pid_ == 0) return;
  RememberOrphans();  // their pids, should the agent go too
  KillAndReap(coordinator_pid_);
  coordinator_pid_ = 0;
}

duplex::Status ClusterFixture::ArmCoordinatorCrash(const std::string& after, int n) {
  RememberOrphans();  // it will exit on its own, taking their pids with it
  std::string text = after + " " + std::to_string(n) + "\n";
  std::string what;
  int count = 0;
  DUPLEX_RETURN_IF_ERROR(ParseCrashPoint(text, &what, &count));
  return WriteFileAtomically(CrashPointFile(), text);
}

void ClusterFixture::DisarmCoordinatorCrash() {
  std::error_code ec;
  fs::remove(CrashPointFile(), ec);
}

bool ClusterFixture::CoordinatorExited() {
  if (coordinator_pid_ != 0 && WaitExited(coordinator_pid_, 0).has_value()) coordinator_pid_ = 0;
  return coordinator_pid_ == 0;
}

duplex::Status ClusterFixture::RestartCoordinator() {
  if (coordinator_pid_ != 0) return Status::Ok();
  if (lab_) return FailedPrecondition("a lab's coordinator is not restarted by the fixture");
  return SpawnCoordinator();
}

ClusterFixture::~ClusterFixture() { Stop(); }

void ClusterFixture::Stop() {
  if (stopped_) return;
  stopped_ = true;
  // Remember every replica PID first: they must not outlive the fixture.
  std::vector<pid_t> pids;
  for (const auto& r : config_.replicas) {
    if (auto pid = PidOf(r.name); pid.ok() && *pid > 0) pids.push_back(*pid);
  }
  if (lab_) {
    // Heals the isolation first, then stops every process tagged with the lab.
    StatusOr<int> down = lab_->Down();
    if (!down.ok()) std::fprintf(stderr, "lab down: %s\n", down.status().message().c_str());
    lab_.reset();
    coordinator_pid_ = 0;
    for (pid_t pid : pids) ::kill(pid, SIGKILL);
    return;
  }
  (void)Post(config_, "/shutdown", 10000);
  if (coordinator_pid_ != 0 && !WaitExited(coordinator_pid_, kShutdownWaitMs).has_value()) {
    KillAndReap(coordinator_pid_);
  }
  coordinator_pid_ = 0;
  if (agent_pid_ != 0) KillAndReap(agent_pid_);
  agent_pid_ = 0;
  for (pid_t pid : pids) ::kill(pid, SIGKILL);  // already gone unless shutdown failed
  for (pid_t pid : orphans_) ::kill(pid, SIGKILL);
}

std::vector<std::string> ClusterFixture::Endpoints() const { return ReplicaEndpoints(config_); }

StatusOr<nlohmann::json> ClusterFixture::Status() const {
  if (etcd()) return GetStatus(AdminConfig(), 1000);
  return GetStatus(config_, 1000);
}

duplex::Status ClusterFixture::WaitFor(const std::function<bool(const nlohmann::json&)>& pred,
                                       int timeout_ms, const std::string& what) const {
  if (etcd()) {
    // The acting coordinator may change while we wait: asked again on every look.
    const int64_t deadline_us = NowUs() + int64_t{timeout_ms} * 1000;
    std::string last = "no coordinator leads";
    while (NowUs() < deadline_us) {
      StatusOr<nlohmann::json> status = Status();
      if (status.ok() && pred(*status)) return Status::Ok();
      last = status.ok() ? FormatStatusTable(*status) : status.status().message();
      SleepMs(20);
    }
    return Unavailable(what + ": not ready after " + std::to_string(timeout_ms) + " ms:\n" + last);
  }
  auto st = duplex::WaitFor(config_, timeout_ms, pred);
  if (!st.ok()) return Unavailable(what + ": " + st.status().message());
  return Status::Ok();
}

duplex::Status ClusterFixture::WaitReady(int timeout_ms) const {
  return WaitFor(PairReady, timeout_ms, "pair ready");
}

StatusOr<std::string> ClusterFixture::ActiveName() const {
  auto st = Status();
  if (!st.ok()) return st.status();
  std::string active = st->value("active", "");
  if (active.empty()) return Unavailable("no active");
  return active;
}

StatusOr<uint64_t> ClusterFixture::Epoch() const {
  auto st = Status();
  if (!st.ok()) return st.status();
  return st->value("epoch", uint64_t{0});
}

StatusOr<pid_t> ClusterFixture::PidOf(const std::string& replica) const {
  auto st = Status();
  if (!st.ok()) return st.status();
  for (const auto& r : (*st)["replicas"]) {
    if (r.value("name", "") == replica) return static_cast<pid_t>(r.value("pid", 0));
  }
  return NotFound("no replica " + replica);
}

StatusOr<pid_t> ClusterFixture::SignalReplica(const std::string& replica, int sig) const {
  auto pid = PidOf(replica);
  if (!pid.ok()) return pid.status();
  if (*pid <= 0) return Unavailable("replica " + replica + " is not running");
  if (::kill(*pid, sig) != 0) return IOError("kill " + std::to_string(*pid) + " failed");
  return *pid;
}

StatusOr<std::string> ClusterFixture::ReplicaHttpGet(const std::string& replica,
                                                     const std::string& path) const {
  for (const auto& r : config_.replicas) {
    if (r.name != replica) continue;
    // HTTPS and the admin token when the config has them (security.tls.http, open_health).
    httplib::Client http = AdminHttpClient(config_, r.host, r.http_port, 1000);
    auto res = http.Get(path);
    if (!res) return Unavailable("replica " + replica + " " + path + " does not answer");
    return res->body;
  }
  return NotFound("no replica " + replica);
}

StatusOr<nlohmann::json> ClusterFixture::ReplicaStatus(const std::string& replica) const {
  auto body = ReplicaHttpGet(replica, "/status");
  if (!body.ok()) return body.status();
  try {
    return nlohmann::json::parse(*body);
  } catch (const std::exception& e) {
    return Corruption(e.what());
  }
}

StatusOr<std::vector<std::string>> ClusterFixture::Digests() const {
  ClientOptions options;
  options.endpoints = Endpoints();
  Client client(options);
  std::vector<std::string> out;
  for (size_t i = 0; i < options.endpoints.size(); ++i) {
    AdminRequest digest;
    digest.op = AdminOp::kDigest;
    auto r = client.Admin(i, digest, 5000);
    if (!r.ok()) return r.status();
    if (r->code != Code::kOk) return duplex::Status(r->code, "digest: " + r->message);
    out.push_back(DigestText(*r));
  }
  return out;
}

duplex::Status ClusterFixture::WaitConverged(int timeout_ms) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string last = "no digests";
  while (std::chrono::steady_clock::now() < deadline) {
    auto d = Digests();
    if (d.ok() && d->size() == 2 && (*d)[0] == (*d)[1]) return Status::Ok();
    last = d.ok() ? (*d)[0] + " vs " + (*d)[1] : d.status().message();
    SleepMs(50);
  }
  return Unavailable("replicas did not converge within " + std::to_string(timeout_ms) +
                     " ms: " + last);
}

std::vector<std::string> ClusterFixture::LogFindings() const {
  std::vector<std::string> out;
  std::error_code ec;
  // The processes' logs: in the data directory on one host; a lab keeps them in its hosts'
  // directories and its own, below the scratch directory. Never RocksDB's write-ahead logs
  // (000012.log).
  std::vector<fs::path> logs;
  auto consider = [&](const fs::directory_entry& entry) {
    const std::string stem = entry.path().stem().string();
    if (entry.path().extension() == ".log" &&
        stem.find_first_not_of("0123456789") != std::string::npos) {
      logs.push_back(entry.path());
    }
  };
  if (lab_) {
    for (const auto& entry : fs::recursive_directory_iterator(dir_, ec)) consider(entry);
  } else {
    for (const auto& entry : fs::directory_iterator(config_.data_dir, ec)) consider(entry);
  }
  for (const fs::path& path : logs) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      if (line.find("ERROR: AddressSanitizer") != std::string::npos ||
          line.find("ERROR: LeakSanitizer") != std::string::npos ||
          line.find("runtime error:") != std::string::npos ||
          line.find("assertion failed") != std::string::npos ||
          line.find("critical:") != std::string::npos) {
        if (out.size() < 20) out.push_back(path.filename().string() + ": " + line);
      }
    }
  }
  return out;
}

}  // namespace duplex
