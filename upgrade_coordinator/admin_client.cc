#include "upgrade_coordinator/admin_client.h"

#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "common/install_layout.h"
#include "common/net.h"
#include "common/pid_lock.h"
#include "common/subprocess.h"
#include "upgrade_coordinator/admin_http.h"
#include "upgrade_coordinator/agent/agent_daemon.h"
#include "upgrade_coordinator/coordinator_finder.h"
#include "upgrade_coordinator/package.h"

namespace duplex {
namespace fs = std::filesystem;

namespace {

// The config path of the cluster `up` last started: beside build/duplex in a build tree, in
// the state directory (/var/lib/duplex) when installed, never beside /usr/bin/duplex.
std::string CurrentFile() {
  const InstallLayout layout = SelfLayout();
  return (fs::path(layout.state_dir) / (layout.build_tree ? ".duplex-current" : "current-config"))
      .string();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string PidFile(const ClusterConfig& c) { return c.data_dir + "/coordinator.pid"; }

bool Alive(pid_t pid) { return pid > 0 && ::kill(pid, 0) == 0; }

}  // namespace

std::string ResolveConfigPath(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("DUPLEX_CONFIG"); env != nullptr && *env != '\0') return env;
  std::string current = ReadFile(CurrentFile());
  while (!current.empty() && (current.back() == '\n' || current.back() == ' ')) current.pop_back();
  if (!current.empty() && fs::exists(current)) return current;
  return SelfLayout().default_config;
}

StatusOr<ClusterConfig> LoadConfigOrExplain(const std::string& flag,
                                            const std::string& token_file) {
  std::string path = ResolveConfigPath(flag);
  auto config = LoadClusterConfig(path);
  if (!config.ok()) return config;
  if (!token_file.empty()) {
    config->security.admin_token_file = fs::absolute(token_file).string();
    // Checked now, so that a token file others may read is reported before any call is made.
    if (auto token = AdminToken(*config); !token.ok()) return token.status();
  }
  return config;
}

namespace {

// Each coordinator's /status, asked to find the leader: short, since a frozen coordinator
// answers nothing and the next one is asked after it.
constexpr int kProbeTimeoutMs = 500;
constexpr std::string_view kUnexpectedJson = "coordinator answered unexpected JSON: ";

bool SeveralCoordinators(const ClusterConfig& config) { return config.coordinators.size() > 1; }

// https and the admin token as the config's security: section asks (admin_http.h).
httplib::Client AdminClient(const ClusterConfig& config, const AdminEndpoint& to, int timeout_ms) {
  return AdminHttpClient(config, to.address, to.port, timeout_ms);
}

// The coordinator that decides: the only one, or the one that says it leads.
StatusOr<AdminEndpoint> DecidingCoordinator(const ClusterConfig& config, int timeout_ms) {
  if (!SeveralCoordinators(config)) return AdminEndpoint{config.host, config.admin_port};
  LeaderSearch search =
      FindLeader(config, std::min(timeout_ms, kProbeTimeoutMs), Probing::kUntilLeader);
  if (const CoordinatorProbe* leader = search.Leader()) return leader->admin;
  return search.NoLeader();
}

// An answer and the coordinator that gave it.
struct Sent {
  AdminEndpoint to;
  httplib::Result res;
};

// Sends a request to the deciding coordinator. With several, a 503 "does not lead" (the one
// asked lost the lead between the search and the call) is sent once more, to the leader it
// names.
StatusOr<Sent> SendToLeader(const ClusterConfig& config, int timeout_ms,
                            const std::function<httplib::Result(httplib::Client&)>& send) {
  StatusOr<AdminEndpoint> to = DecidingCoordinator(config, timeout_ms);
  if (!to.ok()) return to.status();
  httplib::Client http = AdminClient(config, *to, timeout_ms);
  Sent sent{*to, send(http)};
  if (!SeveralCoordinators(config) || !sent.res) return sent;
  std::optional<AdminEndpoint> leader = LeaderNamedIn(sent.res->status, sent.res->body);
  if (!leader || leader->ToString() == to->ToString()) return sent;
  httplib::Client again = AdminClient(config, *leader, timeout_ms);
  return Sent{*leader, send(again)};
}

// The coordinator's reason for refusing: the `error` of a JSON body, else the body itself.
std::string RefusalReason(const httplib::Response& res) {
  nlohmann::json body = nlohmann::json::parse(res.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_object()) {
    if (auto it = body.find("error"); it != body.end() && it->is_string()) {
      return it->get<std::string>();
    }
  }
  std::string text = res.body;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) {
    text.pop_back();
  }
  return text.empty() ? "coordinator answered HTTP " + std::to_string(res.status) : text;
}

StatusOr<nlohmann::json> Answer(const std::string& path, const Sent& sent) {
  const httplib::Result& res = sent.res;
  if (!res) {
    return Unavailable("coordinator at " + sent.to.ToString() + " does not answer " + path + " (" +
                       httplib::to_string(res.error()) + " error; is the cluster up?)");
  }
  // 5xx: the coordinator is there but cannot answer now (e.g. still recovering).
  if (res->status >= 500) return Unavailable(RefusalReason(*res));
  if (res->status < 200 || res->status >= 300) return FailedPrecondition(RefusalReason(*res));
  nlohmann::json body = nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    return Corruption(std::string(kUnexpectedJson) + "not JSON: " + res->body.substr(0, 200));
  }
  return body;
}

// One coordinator's status, as GET /status has always been read.
StatusOr<nlohmann::json> StatusOf(const ClusterConfig& config, const AdminEndpoint& admin,
                                  int timeout_ms) {
  httplib::Client http = AdminClient(config, admin, timeout_ms);
  http.set_connection_timeout(0, timeout_ms * 1000);
  http.set_read_timeout(0, timeout_ms * 1000);
  auto res = http.Get("/status");
  if (!res) {
    return Unavailable("coordinator at " + admin.ToString() +
                       " does not answer (is the cluster up?)");
  }
  try {
    return nlohmann::json::parse(res->body);
  } catch (const std::exception& e) {
    return Corruption(std::string("coordinator status is not JSON: ") + e.what());
  }
}

// The status GET /status shows: the leader's; with no leader, the first follower's (its
// `leader` says none is known); else why nobody answers.
StatusOr<nlohmann::json> StatusFrom(const LeaderSearch& search) {
  if (const CoordinatorProbe* leader = search.Leader()) return *leader->status;
  if (const CoordinatorProbe* follower = search.FirstFollower()) return *follower->status;
  return search.NoLeader();
}

}  // namespace

StatusOr<nlohmann::json> GetStatus(const ClusterConfig& config, int timeout_ms) {
  if (!SeveralCoordinators(config))
    return StatusOf(config, {config.host, config.admin_port}, timeout_ms);
  return StatusFrom(
      FindLeader(config, std::min(timeout_ms, kProbeTimeoutMs), Probing::kUntilLeader));
}

StatusOr<nlohmann::json> GetStatusWithRoles(const ClusterConfig& config, int timeout_ms) {
  if (!SeveralCoordinators(config)) return GetStatus(config, timeout_ms);
  LeaderSearch search =
      FindLeader(config, std::min(timeout_ms, kProbeTimeoutMs), Probing::kEveryone);
  StatusOr<nlohmann::json> status = StatusFrom(search);
  if (!status.ok()) return status;
  nlohmann::json roles = nlohmann::json::array();
  for (const CoordinatorConfig& c : config.coordinators) {
    nlohmann::json entry = {{"host", c.host_name},
                            {"admin", AdminEndpoint{c.address, c.admin_port}.ToString()},
                            {"control", TcpEndpoint(c.address, c.control_port)}};
    for (const CoordinatorProbe& p : search.probes) {
      if (p.host != c.host_name) continue;
      if (!p.status.ok()) {
        entry["role"] = "not answering";
        entry["error"] = p.status.status().message();
      } else {
        entry["role"] = p.Role().empty() ? "unknown" : p.Role();
        entry["term"] = p.status->value("coordinator", nlohmann::json::object()).value("term", 0);
      }
    }
    roles.push_back(std::move(entry));
  }
  (*status)["coordinators"] = std::move(roles);
  return status;
}

StatusOr<std::string> Post(const ClusterConfig& config, const std::string& path, int timeout_ms) {
  auto sent = SendToLeader(config, timeout_ms, [&](httplib::Client& http) {
    http.set_connection_timeout(2, 0);
    http.set_read_timeout(timeout_ms / 1000, (timeout_ms % 1000) * 1000);
    return http.Post(path.c_str());
  });
  if (!sent.ok()) return sent.status();
  const httplib::Result& res = sent->res;
  if (!res) return Unavailable("coordinator does not answer " + path);
  // Still "does not lead" after the retry: nobody leads now; worth trying again later.
  if (res->status == 503 && res->body.find("does not lead") != std::string::npos) {
    return Unavailable(RefusalReason(*res));
  }
  if (res->status != 200) return FailedPrecondition(res->body);
  return res->body;
}

StatusOr<nlohmann::json> GetJson(const ClusterConfig& config, const std::string& path,
                                 int timeout_ms) {
  auto sent = SendToLeader(config, timeout_ms,
                           [&](httplib::Client& http) { return http.Get(path.c_str()); });
  if (!sent.ok()) return sent.status();
  return Answer(path, *sent);
}

StatusOr<nlohmann::json> PostJson(const ClusterConfig& config, const std::string& path,
                                  const nlohmann::json& body, int timeout_ms) {
  const std::string text = body.dump();
  auto sent = SendToLeader(config, timeout_ms, [&](httplib::Client& http) {
    return http.Post(path.c_str(), text, "application/json");
  });
  if (!sent.ok()) return sent.status();
  return Answer(path, *sent);
}

namespace {

// A write to a connection the coordinator closed (an upload it refused before reading it)
// raises SIGPIPE, which would end the CLI silently: blocked on this thread while a body is
// sent, and one left pending is consumed before the mask is restored.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;
  ~SigpipeBlocked() {
    const timespec now{};
    while (sigtimedwait(&pipe_, nullptr, &now) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t pipe_{};
  sigset_t old_{};
};

// The file at `path` streamed as a request body, 64 KiB at a time.
httplib::Result PostFile(httplib::Client& http, const std::string& path, const std::string& file,
                         uint64_t size) {
  auto provider = [file](size_t offset, size_t length, httplib::DataSink& sink) {
    std::ifstream in(file, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset));
    std::string buffer(std::min<size_t>(length, 64 * 1024), '\0');
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() <= 0) return false;
    return sink.write(buffer.data(), static_cast<size_t>(in.gcount()));
  };
  return http.Post(path.c_str(), size, provider, "application/octet-stream");
}

}  // namespace

StatusOr<nlohmann::json> UploadPackage(const ClusterConfig& config, const std::string& path,
                                       int timeout_ms) {
  std::error_code ec;
  std::string file = path;
  std::string packed_dir;  // removed at the end when a directory was packed
  if (fs::is_directory(path, ec)) {
    packed_dir = (fs::temp_directory_path(ec) / "duplex-upload-XXXXXX").string();
    if (::mkdtemp(packed_dir.data()) == nullptr) {
      return IOError(packed_dir + ": cannot create: " + std::strerror(errno));
    }
    file = packed_dir + "/package.tar";
    Status packed = PackPackageDir(path, file);
    if (!packed.ok()) {
      fs::remove_all(packed_dir, ec);
      return packed;
    }
  }
  const auto size = fs::file_size(file, ec);
  StatusOr<Sent> sent = InvalidArgument(path + ": " + ec.message());
  if (!ec && size > config.limits.package_bytes_max) {
    // Refused here rather than cut off by the coordinator halfway through the upload.
    sent = InvalidArgument(path + ": " + std::to_string(size) +
                           " bytes to upload, larger than limits.package_bytes_max (" +
                           std::to_string(config.limits.package_bytes_max) + ")");
  } else if (!ec) {
    SigpipeBlocked blocked;
    sent = SendToLeader(config, timeout_ms, [&](httplib::Client& http) {
      return PostFile(http, "/packages", file, size);
    });
  }
  if (!packed_dir.empty()) fs::remove_all(packed_dir, ec);
  if (!sent.ok()) return sent.status();
  return Answer("/packages", *sent);
}

bool PairReady(const nlohmann::json& status) {
  if (!status.contains("replicas") || status.value("active", "").empty()) return false;
  int active = 0, in_sync = 0;
  uint64_t active_seq = 0;
  for (const auto& r : status["replicas"]) {
    if (r.value("state", "") == "Active/Replicating" || r.value("state", "") == "Active/Solo") {
      ++active;
      active_seq = r.value("applied_seq", uint64_t{0});
    }
  }
  for (const auto& r : status["replicas"]) {
    // At or past the active's seq: the two reports are taken at different instants, and
    // under a steady load the standby's may be the newer one. (Equality, required
    // before, almost never held under load: CI waited 15 s for it with both in sync.)
    if (r.value("state", "") == "Standby/InSync" && r.value("in_sync", false) &&
        r.value("applied_seq", uint64_t{0}) >= active_seq) {
      ++in_sync;
    }
  }
  return active == 1 && in_sync == 1;
}

StatusOr<nlohmann::json> WaitFor(const ClusterConfig& config, int timeout_ms,
                                 const std::function<bool(const nlohmann::json&)>& ready) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  Status last = Unavailable("no status yet");
  nlohmann::json last_status;
  while (std::chrono::steady_clock::now() < deadline) {
    auto st = GetStatus(config, 500);
    if (st.ok()) {
      if (ready(*st)) return *st;
      last_status = *st;
    } else {
      last = st.status();
    }
    SleepMs(20);
  }
  if (!last_status.is_null()) {
    return Unavailable("not ready after " + std::to_string(timeout_ms) + " ms:\n" +
                       FormatStatusTable(last_status));
  }
  return last;
}

Status Up(const ClusterConfig& config, const std::string& duplex_binary, int timeout_ms) {
  if (::access(config.processor.binary.c_str(), X_OK) != 0) {
    return InvalidArgument("processor.binary: " + config.processor.binary +
                           " is not an executable file (build it first: make build)");
  }
  if (GetStatus(config, 300).ok()) {
    return WaitFor(config, timeout_ms, PairReady).status();  // already up
  }
  if (config.hosts_named) {
    return FailedPrecondition(
        "this config names hosts: run `duplex agent -c <config> --host <name>` on each host and "
        "`duplex coordinator -c <config>` on one (or `duplex lab up -c <config>` to run them all "
        "on this machine)");
  }
  std::error_code ec;
  fs::create_directories(config.data_dir, ec);
  if (ec) return IOError("data_dir: cannot create " + config.data_dir + ": " + ec.message());
  // The embedded default: one agent for the one host, and the coordinator, both outliving
  // this command (`duplex down` stops them).
  auto daemon = [&](std::vector<std::string> argv, const std::string& log) {
    SpawnOptions options;
    options.argv = std::move(argv);
    options.group = ChildGroup::kNewSession;
    options.stdin_null = true;
    options.stdout_to = ChildOutput::kLogFile;
    options.stderr_to = ChildOutput::kLogFile;
    options.log_path = log;
    return Spawn(options);
  };
  const std::string agent_log = config.data_dir + "/agent.log";
  if (PidLock::Holder(PidLock::FileIn(AgentDir(config, config.hosts[0]))) == 0) {
    StatusOr<pid_t> agent =
        daemon({duplex_binary, "agent", "-c", config.source_path, "--host", config.hosts[0].name},
               agent_log);
    if (!agent.ok()) return agent.status();
  }
  std::string log = config.data_dir + "/coordinator.log";
  StatusOr<pid_t> spawned = daemon({duplex_binary, "coordinator", "-c", config.source_path}, log);
  if (!spawned.ok()) return spawned.status();
  const pid_t pid = *spawned;
  std::ofstream(PidFile(config)) << pid << "\n";
  std::ofstream(CurrentFile()) << config.source_path << "\n";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (WaitExited(pid, 0).has_value()) {
      return Internal("the coordinator exited at start; see " + log);
    }
    auto st = GetStatus(config, 300);
    if (st.ok() && PairReady(*st)) return Status::Ok();
    SleepMs(20);
  }
  return Unavailable("the pair did not become ready within " + std::to_string(timeout_ms) +
                     " ms; see " + log + ", " + agent_log + " and the replica logs in " +
                     config.data_dir);
}

namespace {

// No coordinator stopped the replicas: stop whichever still answers, by the pid it reports.
void KillAnsweringReplicas(const ClusterConfig& config) {
  for (const auto& r : config.replicas) {
    httplib::Client http = AdminHttpClient(config, r.host, r.http_port, 300);
    if (auto res = http.Get("/status")) {
      try {
        pid_t rp = nlohmann::json::parse(res->body).value("pid", 0);
        if (rp > 0) ::kill(rp, SIGKILL);
      } catch (const std::exception&) {
      }
    }
  }
}

// The agents this machine runs for the config (the embedded default's one): by the pid
// holding each agent's directory.
void StopLocalAgents(const ClusterConfig& config) {
  for (const HostConfig& host : config.hosts) {
    const pid_t agent = PidLock::Holder(PidLock::FileIn(AgentDir(config, host)));
    if (agent <= 0) continue;
    ::kill(agent, SIGTERM);
    for (int i = 0; i < 250 && Alive(agent); ++i) SleepMs(20);
    if (Alive(agent)) ::kill(agent, SIGKILL);
  }
}

constexpr int kShutdownTimeoutMs = 15000;  // the leader stops the replicas first

// Several coordinators: the leader first, which stops the replicas (it holds the leader key
// until they are stopped, so no follower takes over meanwhile), then every other one. A
// follower that took the lead in between stops the replicas again on its own /shutdown.
void DownSeveral(const ClusterConfig& config) {
  auto sent = SendToLeader(config, kShutdownTimeoutMs,
                           [](httplib::Client& http) { return http.Post("/shutdown"); });
  const bool leader_stopped = sent.ok() && sent->res && sent->res->status == 200;
  if (!leader_stopped) KillAnsweringReplicas(config);
  for (const CoordinatorConfig& c : config.coordinators) {
    const AdminEndpoint admin{c.address, c.admin_port};
    if (leader_stopped && admin.ToString() == sent->to.ToString()) continue;
    httplib::Client http = AdminClient(config, admin, kShutdownTimeoutMs);
    http.set_connection_timeout(std::chrono::milliseconds(kProbeTimeoutMs));
    (void)http.Post("/shutdown");  // one that does not answer is down already
  }
}

}  // namespace

Status Down(const ClusterConfig& config) {
  if (SeveralCoordinators(config)) {
    DownSeveral(config);
    StopLocalAgents(config);
    return Status::Ok();
  }
  pid_t pid = 0;
  std::ifstream(PidFile(config)) >> pid;
  auto posted = Post(config, "/shutdown", kShutdownTimeoutMs);
  if (!posted.ok()) KillAnsweringReplicas(config);
  for (int i = 0; i < 500 && Alive(pid); ++i) SleepMs(20);
  if (Alive(pid)) ::kill(pid, SIGKILL);
  StopLocalAgents(config);
  std::error_code ec;
  fs::remove(PidFile(config), ec);
  return Status::Ok();
}

std::vector<std::string> ReplicaEndpoints(const ClusterConfig& config) {
  std::vector<std::string> out;
  for (const auto& r : config.replicas) out.push_back(TcpEndpoint(r.host, r.client_port));
  return out;
}

namespace {

// Who leads, in which term, each coordinator's role and etcd: only with several coordinators
// (a coordinator alone always leads, with term 0).
void FormatCoordinators(const nlohmann::json& st, std::ostringstream& out) {
  const nlohmann::json all = st.value("coordinators", nlohmann::json::array());
  if (all.size() <= 1) return;
  const nlohmann::json leader = st.value("leader", nlohmann::json::object());
  const nlohmann::json self = st.value("coordinator", nlohmann::json::object());
  const std::string leader_host = leader.value("host", "");
  out << "coordinators  leader "
      << (leader_host.empty() ? std::string("(none known)")
                              : leader_host + " term " + std::to_string(leader.value("term", 0)));
  if (st.contains("etcd") && st["etcd"].is_object()) {
    const nlohmann::json& etcd = st["etcd"];
    out << "  etcd "
        << (etcd.value("reachable", false)
                ? std::string("reachable")
                : "unreachable (" + etcd.value("error", std::string("?")) + "; silent " +
                      std::to_string(etcd.value("silent_ms", 0)) + " ms)");
  }
  out << "  (as " << self.value("host", "?") << " sees it)\n";
  char line[256];
  std::snprintf(line, sizeof(line), "%-12s %-22s %-14s %s\n", "COORDINATOR", "ADMIN", "ROLE",
                "TERM");
  out << line;
  for (const auto& c : all) {
    const std::string host = c.value("host", "?");
    // The role each one gave itself (GetStatusWithRoles), else what this status tells.
    std::string role = c.value("role", "");
    if (role.empty()) {
      role = host == self.value("host", "") ? self.value("role", "?")
             : host == leader_host          ? "leader"
                                            : "-";
    }
    const std::string term = c.contains("term") ? std::to_string(c.value("term", 0)) : "-";
    std::snprintf(line, sizeof(line), "%-12s %-22s %-14s %s", host.c_str(),
                  c.value("admin", "?").c_str(), role.c_str(), term.c_str());
    out << line << (c.contains("error") ? "  " + c.value("error", "") : "") << "\n";
  }
}

}  // namespace

std::string FormatStatusTable(const nlohmann::json& st) {
  std::ostringstream out;
  out << "cluster " << st.value("cluster", "?") << "  epoch " << st.value("epoch", 0) << "  active "
      << (st.value("active", "").empty() ? "(none)" : st.value("active", "")) << "  mode "
      << st.value("mode", "?") << "\n";
  char line[256];
  std::snprintf(line, sizeof(line), "%-8s %-8s %-8s %-8s %-20s %-6s %-10s %-6s %-8s %s\n",
                "REPLICA", "HOST", "PID", "VERSION", "ROLE", "EPOCH", "APPLIED", "LAG", "IN-SYNC",
                "HEALTH");
  out << line;
  for (const auto& r : st.value("replicas", nlohmann::json::array())) {
    std::string health =
        !r.value("alive", false)   ? "down"
        : r.value("failed", false) ? "failed"
        : !r.value("reporting", true)
            ? "silent " + std::to_string(r.value("last_seen_ms", 0)) + " ms (as last reported)"
        : r.value("healthy", false) ? "ok"
                                    : r.value("health", "?");
    std::snprintf(line, sizeof(line), "%-8s %-8s %-8d %-8s %-20s %-6llu %-10llu %-6llu %-8s %s\n",
                  r.value("name", "?").c_str(), r.value("host", "-").c_str(), r.value("pid", 0),
                  r.value("version", "-").c_str(), r.value("state", "-").c_str(),
                  static_cast<unsigned long long>(r.value("epoch", uint64_t{0})),
                  static_cast<unsigned long long>(r.value("applied_seq", uint64_t{0})),
                  static_cast<unsigned long long>(r.value("lag", uint64_t{0})),
                  r.value("in_sync", false) ? "yes" : "no", health.c_str());
    out << line;
  }
  const auto hosts = st.value("hosts", nlohmann::json::array());
  if (!hosts.empty()) {
    std::snprintf(line, sizeof(line), "%-8s %-16s %-12s %-10s %-10s %s\n", "HOST", "ADDRESS",
                  "AGENT", "AGENT-PID", "HEARTBEAT", "PROCESSES");
    out << line;
  }
  for (const auto& h : hosts) {
    std::string processes;
    for (const auto& p : h.value("processes", nlohmann::json::array())) {
      processes += (processes.empty() ? "" : ", ") + p.value("replica", "?") + ":" +
                   (p.value("pid", 0) != 0 ? std::to_string(p.value("pid", 0)) : "down");
    }
    const std::string beat = h.contains("last_heartbeat_ms")
                                 ? std::to_string(h.value("last_heartbeat_ms", 0)) + " ms ago"
                                 : "never";
    std::snprintf(line, sizeof(line), "%-8s %-16s %-12s %-10d %-10s %s\n",
                  h.value("name", "?").c_str(), h.value("address", "?").c_str(),
                  h.value("agent", "?").c_str(), h.value("agent_pid", 0), beat.c_str(),
                  processes.empty() ? "-" : processes.c_str());
    out << line;
  }
  FormatCoordinators(st, out);
  return out.str();
}

}  // namespace duplex
