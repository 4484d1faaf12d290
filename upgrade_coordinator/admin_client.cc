#include "upgrade_coordinator/admin_client.h"

#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "common/net.h"
#include "common/pid_lock.h"
#include "common/subprocess.h"
#include "upgrade_coordinator/agent/agent_daemon.h"

namespace duplex {
namespace fs = std::filesystem;

namespace {

std::string CurrentFile() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return (exe.parent_path() / ".duplex-current").string();
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
  return "examples/kv/cluster.yaml";
}

StatusOr<ClusterConfig> LoadConfigOrExplain(const std::string& flag) {
  std::string path = ResolveConfigPath(flag);
  return LoadClusterConfig(path);
}

StatusOr<nlohmann::json> GetStatus(const ClusterConfig& config, int timeout_ms) {
  httplib::Client http(config.host, config.admin_port);
  http.set_connection_timeout(0, timeout_ms * 1000);
  http.set_read_timeout(0, timeout_ms * 1000);
  auto res = http.Get("/status");
  if (!res) {
    return Unavailable("coordinator at " + config.host + ":" + std::to_string(config.admin_port) +
                       " does not answer (is the cluster up?)");
  }
  try {
    return nlohmann::json::parse(res->body);
  } catch (const std::exception& e) {
    return Corruption(std::string("coordinator status is not JSON: ") + e.what());
  }
}

StatusOr<std::string> Post(const ClusterConfig& config, const std::string& path, int timeout_ms) {
  httplib::Client http(config.host, config.admin_port);
  http.set_connection_timeout(2, 0);
  http.set_read_timeout(timeout_ms / 1000, (timeout_ms % 1000) * 1000);
  auto res = http.Post(path.c_str());
  if (!res) return Unavailable("coordinator does not answer " + path);
  if (res->status != 200) return FailedPrecondition(res->body);
  return res->body;
}

namespace {

constexpr int kConnectTimeoutMs = 2000;
constexpr std::string_view kUnexpectedJson = "coordinator answered unexpected JSON: ";

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

StatusOr<nlohmann::json> Answer(const ClusterConfig& config, const std::string& path,
                                const httplib::Result& res) {
  if (!res) {
    return Unavailable("coordinator at " + config.host + ":" + std::to_string(config.admin_port) +
                       " does not answer " + path + " (" + httplib::to_string(res.error()) +
                       " error; is the cluster up?)");
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

httplib::Client AdminClient(const ClusterConfig& config, int timeout_ms) {
  httplib::Client http(config.host, config.admin_port);
  http.set_connection_timeout(std::chrono::milliseconds(std::min(kConnectTimeoutMs, timeout_ms)));
  http.set_read_timeout(std::chrono::milliseconds(timeout_ms));
  http.set_write_timeout(std::chrono::milliseconds(timeout_ms));
  return http;
}

}  // namespace

StatusOr<nlohmann::json> GetJson(const ClusterConfig& config, const std::string& path,
                                 int timeout_ms) {
  httplib::Client http = AdminClient(config, timeout_ms);
  return Answer(config, path, http.Get(path.c_str()));
}

StatusOr<nlohmann::json> PostJson(const ClusterConfig& config, const std::string& path,
                                  const nlohmann::json& body, int timeout_ms) {
  httplib::Client http = AdminClient(config, timeout_ms);
  return Answer(config, path, http.Post(path.c_str(), body.dump(), "application/json"));
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

Status Down(const ClusterConfig& config) {
  pid_t pid = 0;
  std::ifstream(PidFile(config)) >> pid;
  auto posted = Post(config, "/shutdown", 15000);
  if (!posted.ok()) {
    // No coordinator: stop whatever replica still answers, by the pid it reports.
    for (const auto& r : config.replicas) {
      httplib::Client http(r.host, r.http_port);
      http.set_connection_timeout(0, 300000);
      if (auto res = http.Get("/status")) {
        try {
          pid_t rp = nlohmann::json::parse(res->body).value("pid", 0);
          if (rp > 0) ::kill(rp, SIGKILL);
        } catch (const std::exception&) {
        }
      }
    }
  }
  for (int i = 0; i < 500 && Alive(pid); ++i) SleepMs(20);
  if (Alive(pid)) ::kill(pid, SIGKILL);
  // The agents this machine runs for the config (the embedded default's one): by the pid
  // holding each agent's directory.
  for (const HostConfig& host : config.hosts) {
    const pid_t agent = PidLock::Holder(PidLock::FileIn(AgentDir(config, host)));
    if (agent <= 0) continue;
    ::kill(agent, SIGTERM);
    for (int i = 0; i < 250 && Alive(agent); ++i) SleepMs(20);
    if (Alive(agent)) ::kill(agent, SIGKILL);
  }
  std::error_code ec;
  fs::remove(PidFile(config), ec);
  return Status::Ok();
}

std::vector<std::string> ReplicaEndpoints(const ClusterConfig& config) {
  std::vector<std::string> out;
  for (const auto& r : config.replicas) out.push_back(TcpEndpoint(r.host, r.client_port));
  return out;
}

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
  return out.str();
}

}  // namespace duplex
