#include "bench/redis_peer.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>
#include <thread>

#include "bench/redis_client.h"
#include "common/clock.h"
#include "common/net.h"
#include "common/subprocess.h"

namespace duplex::bench {

namespace fs = std::filesystem;

namespace {

constexpr int kQueryTimeoutMs = 500;    // one INFO / SENTINEL query during a wait
constexpr int kPollMs = 20;             // between two looks at the nodes during a wait
constexpr int kExitWaitMs = 5000;       // Restart: for a signalled node to exit
constexpr int kFailoverWaitMs = 10000;  // Restart: for the Sentinels to name another primary
constexpr int kAptTimeoutMs = 600000;   // apt-get update or install
constexpr int kSentinels = 3;
constexpr const char* kServerPrograms[] = {"redis-server", "redis-sentinel", "redis-cli"};

int64_t NowMs() { return SteadyClock().NowMs(); }

// PATH first, then the directories Debian installs Redis into (absent from some PATHs).
StatusOr<std::string> FindProgram(const std::string& name) {
  const char* env = std::getenv("PATH");
  std::string dirs = std::string(env != nullptr ? env : "") + ":/usr/bin:/usr/sbin";
  std::istringstream in(dirs);
  for (std::string dir; std::getline(in, dir, ':');) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return NotFound(name + " is not on PATH, /usr/bin or /usr/sbin");
}

// Runs a program (stdout to our stderr: a benchmark prints JSON on stdout) in its own process
// group and waits at most timeout_ms, then kills that group.
Status RunCommand(std::vector<std::string> args, std::vector<std::string> env, int timeout_ms) {
  SpawnOptions options;
  options.argv = std::move(args);
  options.env = std::move(env);
  options.stdout_to = ChildOutput::kStderr;
  options.group = ChildGroup::kOwn;
  StatusOr<RunResult> run = RunProgram(options, timeout_ms);
  if (!run.ok()) return run.status();
  if (run->exit.success() || run->exit.lost) return Status::Ok();
  return Internal(options.argv[0] + " " + run->exit.Describe());
}

// The last non-empty line of a log, for an error about a node that died.
std::string LogTail(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last.empty() ? "(" + path + " is empty)" : path + ": " + last.substr(0, 300);
}

// "role:master\r\nconnected_slaves:1\r\n..." (INFO) as a map.
std::map<std::string, std::string> ParseInfo(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t colon = line.find(':');
    if (colon != std::string::npos && line[0] != '#') {
      out[line.substr(0, colon)] = line.substr(colon + 1);
    }
  }
  return out;
}

// [k1, v1, k2, v2...] (SENTINEL MASTER, one entry of SENTINEL REPLICAS) as a map.
std::map<std::string, std::string> Pairs(const RespValue& v) {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i + 1 < v.elements.size(); i += 2) {
    out[v.elements[i].text] = v.elements[i + 1].text;
  }
  return out;
}

StatusOr<std::map<std::string, std::string>> Info(RedisClient& c, const std::string& section) {
  auto r = c.Command({"INFO", section}, kQueryTimeoutMs);
  if (!r.ok()) return r.status();
  if (r->type != RespValue::Type::kBulkString) {
    return Internal(c.address() + ": INFO " + section + " answered " + r->DebugString());
  }
  return ParseInfo(r->text);
}

std::string Quoted(const std::string& path) { return "\"" + path + "\""; }

// A decimal number among spaces ("  1234 kB" gives 1234); -1 when there is none.
int64_t ParseNumber(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  int64_t n = -1;
  std::from_chars(text.data(), text.data() + text.size(), n);
  return n;
}

}  // namespace

struct RedisPeer::Node {
  std::string name;  // a, b, s1, s2, s3
  bool sentinel = false;
  int port = 0;
  std::string config_path;
  std::string log_path;          // the node's own log (logfile)
  std::string output_path;       // its stdout and stderr: what it says before its log is open
  std::string address;           // a lab host's address it binds too; "" = none
  std::vector<std::string> env;  // ahead of ours: the lab's tags
  pid_t pid = 0;                 // 0: not running
  bool started = false;          // spawned at least once: from then on it should be running
  std::unique_ptr<RedisClient> client;
};

Status RedisPeer::EnsureInstalled() {
  bool missing = false;
  for (const char* p : kServerPrograms) missing = missing || !FindProgram(p).ok();
  if (!missing) return Status::Ok();
  auto apt = FindProgram("apt-get");
  if (!apt.ok()) return FailedPrecondition("Redis is not installed and there is no apt-get");
  std::vector<std::string> prefix;
  if (::geteuid() != 0) {
    auto sudo = FindProgram("sudo");
    if (!sudo.ok()) return FailedPrecondition("Redis is not installed; not root and no sudo");
    // -n: fail rather than wait for a password; env: sudo resets the environment.
    prefix = {*sudo, "-n", "env", "DEBIAN_FRONTEND=noninteractive"};
  }
  auto command = [&](std::vector<std::string> args) {
    std::vector<std::string> all = prefix;
    all.push_back(*apt);
    all.insert(all.end(), args.begin(), args.end());
    return RunCommand(all, {"DEBIAN_FRONTEND=noninteractive"}, kAptTimeoutMs);
  };
  const std::vector<std::string> install = {
      "install", "-y", "--no-install-recommends", "redis-server", "redis-sentinel", "redis-tools"};
  Status s = command(install);
  if (!s.ok()) {
    (void)command({"update", "-qq"});  // stale package lists are the usual cause
    s = command(install);
  }
  if (!s.ok()) {
    return FailedPrecondition(
        "cannot install Redis (apt-get install -y --no-install-recommends "
        "redis-server redis-sentinel redis-tools): " +
        s.message() + "; run scripts/install-deps as root");
  }
  for (const char* p : kServerPrograms) {
    if (auto found = FindProgram(p); !found.ok()) {
      return FailedPrecondition("apt-get installed Redis, yet " + found.status().message());
    }
  }
  return Status::Ok();
}

RedisPeer::RedisPeer(RedisPeerOptions options) : options_(std::move(options)) {}

RedisPeer::~RedisPeer() { Stop(); }

StatusOr<std::unique_ptr<RedisPeer>> RedisPeer::Start(const RedisPeerOptions& options) {
  if (options.dir.empty()) return InvalidArgument("RedisPeerOptions.dir is empty");
  if (options.down_after_ms < kDownAfterMsMin) {
    return InvalidArgument("RedisPeerOptions.down_after_ms " +
                           std::to_string(options.down_after_ms) + " is below " +
                           std::to_string(kDownAfterMsMin) +
                           ": Sentinel would flag each new primary down and fail back");
  }
  if (options.failover_timeout_ms < kFailoverTimeoutMsMin) {
    return InvalidArgument("RedisPeerOptions.failover_timeout_ms " +
                           std::to_string(options.failover_timeout_ms) + " is below " +
                           std::to_string(kFailoverTimeoutMsMin) +
                           ": Sentinel would abort failovers before it sees the promotion");
  }
  auto server = FindProgram("redis-server");
  auto sentinel = FindProgram("redis-sentinel");
  if (!server.ok() || !sentinel.ok()) {
    return FailedPrecondition((server.ok() ? sentinel : server).status().message() +
                              " (RedisPeer::EnsureInstalled or scripts/install-deps installs it)");
  }
  RedisPeerOptions o = options;
  std::error_code ec;
  o.dir = fs::absolute(options.dir, ec).lexically_normal().string();
  fs::remove_all(o.dir, ec);
  fs::create_directories(o.dir, ec);
  if (ec) return IOError("cannot create " + o.dir + ": " + ec.message());
  std::unique_ptr<RedisPeer> peer(new RedisPeer(o));
  peer->server_binary_ = *server;
  peer->sentinel_binary_ = *sentinel;
  if (!o.tls_dir.empty()) {
    auto tls = TlsContext::Client({o.tls_dir + "/ca.crt", "", ""});
    if (!tls.ok()) return tls.status();
    peer->tls_ = std::move(tls).value();
  }
  const char* const names[] = {"a", "b", "s1", "s2", "s3"};
  for (size_t i = 0; i < std::size(names); ++i) {
    Node n;
    n.name = names[i];
    n.sentinel = n.name[0] == 's';
    n.port = i < o.node_ports.size() ? o.node_ports[i] : PickFreePort();
    if (i < o.node_addresses.size()) n.address = o.node_addresses[i];
    if (i < o.node_env.size()) n.env = o.node_env[i];
    n.config_path = o.dir + "/" + n.name + ".conf";
    n.log_path = o.dir + "/" + n.name + ".log";
    n.output_path = o.dir + "/" + n.name + ".out";
    n.client = std::make_unique<RedisClient>(n.port, "127.0.0.1", peer->tls_);
    fs::create_directories(o.dir + "/" + n.name, ec);
    peer->nodes_.push_back(std::move(n));
  }
  DUPLEX_RETURN_IF_ERROR(peer->WriteConfigs());
  // Servers first, and the replica linked before the Sentinels look: a Sentinel discovers
  // replicas from the primary's INFO, which it asks only every 10 s after the first time.
  const int64_t deadline_ms = NowMs() + o.ready_timeout_ms;
  for (size_t i = 0; i < 2; ++i) DUPLEX_RETURN_IF_ERROR(peer->Spawn(peer->nodes_[i], {}));
  DUPLEX_RETURN_IF_ERROR(peer->WaitUntil(deadline_ms, "the replica to link to the primary",
                                         [&] { return peer->LinkProblem(); }));
  for (size_t i = 2; i < peer->nodes_.size(); ++i) {
    DUPLEX_RETURN_IF_ERROR(peer->Spawn(peer->nodes_[i], {}));
  }
  DUPLEX_RETURN_IF_ERROR(peer->WaitUntil(deadline_ms,
                                         "the Sentinels to know the pair and each other",
                                         [&] { return peer->AcquaintanceProblem(); }));
  return peer;
}

Status RedisPeer::WriteConfigs() {
  const Node& a = nodes_[0];
  for (const Node& n : nodes_) {
    std::ofstream out(n.config_path);
    out << "# Written by RedisPeer (bench/redis_peer.cc); Sentinel rewrites it on failovers.\n"
        << (options_.tls_dir.empty() ? "port " : "port 0\ntls-port ") << n.port
        << "\nbind 127.0.0.1" << (n.address.empty() ? "" : " " + n.address)
        << "\nprotected-mode no\ndaemonize no\n"
        << "dir " << Quoted(options_.dir + "/" + n.name) << "\nlogfile " << Quoted(n.log_path)
        << "\n";
    // Redis rewrites its process title over its environment, where the lab's tags are read
    // (/proc/<pid>/environ): a tagged node keeps its title.
    if (!n.env.empty()) out << "set-proc-title no\n";
    if (!options_.tls_dir.empty()) {
      const std::string& d = options_.tls_dir;
      out << "tls-cert-file " << Quoted(d + "/server.crt") << "\ntls-key-file "
          << Quoted(d + "/server.key") << "\ntls-ca-cert-file " << Quoted(d + "/ca.crt")
          << "\ntls-auth-clients no\ntls-replication yes\n";
    }
    if (n.sentinel) {
      const std::string m = std::string(" ") + kSentinelMasterName;
      out << "sentinel monitor" << m << " 127.0.0.1 " << a.port << " 2\n"
          << "sentinel down-after-milliseconds" << m << " " << options_.down_after_ms << "\n"
          << "sentinel failover-timeout" << m << " " << options_.failover_timeout_ms << "\n"
          << "sentinel parallel-syncs" << m << " 1\n";
    } else {
      // No RDB snapshots; full syncs through a file on disk (the diskless default waits 5 s
      // for more replicas before it starts); SIGTERM stops at once instead of waiting up to
      // 10 s for lagging replicas.
      out << "save \"\"\nappendonly " << (options_.appendonly ? "yes" : "no") << "\n"
          << "appendfsync " << options_.appendfsync << "\n"
          << "repl-diskless-sync no\nrepl-diskless-load disabled\nshutdown-on-sigterm now\n";
      if (&n != &a) out << "replicaof 127.0.0.1 " << a.port << "\n";
    }
    out.close();
    if (!out) return IOError("cannot write " + n.config_path);
  }
  return Status::Ok();
}

Status RedisPeer::Spawn(Node& node, const std::vector<std::string>& extra_args) {
  if (stopped_) return FailedPrecondition("the peer in " + options_.dir + " was stopped");
  SpawnOptions options;
  options.argv = {node.sentinel ? sentinel_binary_ : server_binary_, node.config_path};
  options.argv.insert(options.argv.end(), extra_args.begin(), extra_args.end());
  options.env = node.env;
  options.stdin_null = true;
  options.stdout_to = ChildOutput::kLogFile;  // what it says before its own log is open
  options.stderr_to = ChildOutput::kLogFile;
  options.log_path = node.output_path;
  // Own process group: a Ctrl-C meant for the benchmark does not reach the node directly;
  // the death signal still takes it down with the thread that started it.
  options.group = ChildGroup::kOwn;
  options.die_with_parent = true;
  options.close_other_fds = true;  // sockets and files of the benchmark stay with it
  StatusOr<pid_t> pid = duplex::Spawn(options);
  if (!pid.ok()) return pid.status();
  node.pid = *pid;
  node.started = true;
  return Status::Ok();
}

bool RedisPeer::Reap(Node& node) {
  if (node.pid == 0) return true;
  if (!WaitExited(node.pid, 0).has_value()) return false;
  node.pid = 0;
  return true;
}

std::string RedisPeer::DeadNodeProblem() {
  for (Node& n : nodes_) {
    if (!n.started || !Reap(n)) continue;
    std::error_code ec;
    const bool said_something = fs::file_size(n.output_path, ec) > 0 && !ec;
    return n.name + " (" + n.client->address() + ") is not running; " +
           LogTail(said_something ? n.output_path : n.log_path);
  }
  return "";
}

Status RedisPeer::WaitUntil(int64_t deadline_ms, const std::string& what,
                            const std::function<std::string()>& problem) {
  for (;;) {
    if (std::string dead = DeadNodeProblem(); !dead.empty()) {
      return Unavailable("waiting for " + what + ": " + dead);
    }
    const std::string last = problem();
    if (last.empty()) return Status::Ok();
    if (NowMs() > deadline_ms) return Unavailable("gave up waiting for " + what + ": " + last);
    SleepMs(kPollMs);
  }
}

std::string RedisPeer::LinkProblem() {
  Node& b = nodes_[1];
  auto info = Info(*b.client, "replication");
  if (!info.ok()) return info.status().message();
  if ((*info)["master_link_status"] != "up") {
    return "b: master_link_status is '" + (*info)["master_link_status"] + "'";
  }
  return "";
}

std::string RedisPeer::AcquaintanceProblem() {
  for (size_t i = 2; i < nodes_.size(); ++i) {
    Node& s = nodes_[i];
    auto r = s.client->Command({"SENTINEL", "MASTER", kSentinelMasterName}, kQueryTimeoutMs);
    if (!r.ok()) return r.status().message();
    auto m = Pairs(*r);
    if (m["flags"] != "master" || m["num-slaves"] != "1" ||
        m["num-other-sentinels"] != std::to_string(kSentinels - 1)) {
      return s.name + " sees the primary flagged '" + m["flags"] + "', " + m["num-slaves"] +
             " replicas and " + m["num-other-sentinels"] + " other Sentinels";
    }
  }
  return "";
}

std::string RedisPeer::SentinelProblem(Node& s, int primary_port, int replica_port) {
  const std::string m = kSentinelMasterName;
  auto r = s.client->Pipeline({{"SENTINEL", "get-master-addr-by-name", m},
                               {"SENTINEL", "MASTER", m},
                               {"SENTINEL", "REPLICAS", m}},
                              kQueryTimeoutMs);
  if (!r.ok()) return r.status().message();
  const RespValue& addr = (*r)[0];
  if (addr.elements.size() != 2 || addr.elements[1].text != std::to_string(primary_port)) {
    return s.name + " names " + addr.DebugString() + " primary, not " + Address(primary_port);
  }
  auto master = Pairs((*r)[1]);
  if (master["flags"] != "master" ||
      master["num-other-sentinels"] != std::to_string(kSentinels - 1)) {
    return s.name + " flags the primary '" + master["flags"] + "' and knows " +
           master["num-other-sentinels"] + " other Sentinels";
  }
  // The replica must pass Sentinel's own choice of a replica to promote (sentinelSelectSlave):
  // not down, linked, its link to the primary not down for long. Its master-link-status is not
  // looked at: Sentinel refreshes it from INFO only every 10 s.
  for (const RespValue& entry : (*r)[2].elements) {
    auto replica = Pairs(entry);
    if (replica["port"] != std::to_string(replica_port)) continue;
    const int64_t link_down_ms = ParseNumber(replica["master-link-down-time"]);
    if (replica["flags"] == "slave" && link_down_ms >= 0 &&
        link_down_ms <= int64_t{options_.down_after_ms} * 10) {
      return "";
    }
    return s.name + " flags the replica '" + replica["flags"] + "', its link down for " +
           replica["master-link-down-time"] + " ms";
  }
  return s.name + " does not list " + Address(replica_port) + " among the replicas";
}

std::string RedisPeer::ReadyProblem() {
  Node* primary = nullptr;
  Node* replica = nullptr;
  for (size_t i = 0; i < 2; ++i) {
    auto info = Info(*nodes_[i].client, "replication");
    if (!info.ok()) return info.status().message();
    if ((*info)["role"] == "master" && primary != nullptr) return "a and b both report role:master";
    ((*info)["role"] == "master" ? primary : replica) = &nodes_[i];
  }
  if (primary == nullptr) return "neither a nor b reports role:master";
  // The primary's offset first: a replica at or past it had everything written before.
  auto p = Info(*primary->client, "replication");
  if (!p.ok()) return p.status().message();
  auto r = Info(*replica->client, "replication");
  if (!r.ok()) return r.status().message();
  if ((*r)["master_port"] != std::to_string(primary->port) || (*r)["master_link_status"] != "up") {
    return replica->name + " replicates from port '" + (*r)["master_port"] + "', link '" +
           (*r)["master_link_status"] + "'";
  }
  if (ParseNumber((*r)["slave_repl_offset"]) < ParseNumber((*p)["master_repl_offset"])) {
    return replica->name + " at offset " + (*r)["slave_repl_offset"] + ", primary at " +
           (*p)["master_repl_offset"];
  }
  for (size_t i = 2; i < nodes_.size(); ++i) {
    std::string problem = SentinelProblem(nodes_[i], primary->port, replica->port);
    if (!problem.empty()) return problem;
  }
  return "";
}

Status RedisPeer::WaitReady(int timeout_ms) {
  return WaitUntil(NowMs() + timeout_ms, "a ready pair", [this] { return ReadyProblem(); });
}

StatusOr<int> RedisPeer::PrimaryPort() {
  if (sentinel_view_ == nullptr) {
    sentinel_view_ = std::make_unique<SentinelView>(SentinelPorts(), kSentinelMasterName, tls_);
  }
  return sentinel_view_->PrimaryPort(kQueryTimeoutMs);
}

StatusOr<pid_t> RedisPeer::SignalPrimary(int sig) {
  auto port = PrimaryPort();
  if (!port.ok()) return port.status();
  Node* n = NodeOn(*port);
  if (n == nullptr || n->sentinel)
    return Internal("the Sentinels name " + Address(*port) +
                    " primary, which is no server of this peer");
  if (Reap(*n)) return FailedPrecondition("the primary " + n->name + " is not running");
  if (::kill(n->pid, sig) != 0) {
    return IOError("kill(" + std::to_string(n->pid) + "): " + std::strerror(errno));
  }
  return n->pid;
}

Status RedisPeer::Restart(int port) {
  if (stopped_) return FailedPrecondition("the peer in " + options_.dir + " was stopped");
  Node* n = NodeOn(port);
  if (n == nullptr) return NotFound("no node of this peer listens on " + Address(port));
  for (int64_t deadline = NowMs() + kExitWaitMs; !Reap(*n); SleepMs(kPollMs)) {
    if (NowMs() > deadline) {
      return FailedPrecondition(n->name + " (" + Address(port) + ") is still running as pid " +
                                std::to_string(n->pid));
    }
  }
  std::vector<std::string> extra;
  if (!n->sentinel) {
    // A client may see the new primary (from the Sentinel that ran the failover) before a
    // majority of Sentinels name it: give them a moment.
    StatusOr<int> primary = PrimaryPort();
    for (int64_t deadline = NowMs() + kFailoverWaitMs;
         (!primary.ok() || *primary == port) && NowMs() < deadline; primary = PrimaryPort()) {
      SleepMs(kPollMs);
    }
    if (!primary.ok()) return primary.status();
    if (*primary != port) {
      extra = {"--replicaof", "127.0.0.1", std::to_string(*primary)};
    } else if (!options_.appendonly) {
      // Without persistence it would come back empty, still primary, and its replica would
      // copy the empty data set (the hazard the Redis docs warn of).
      return FailedPrecondition("the Sentinels still name " + n->name + " (" + Address(port) +
                                ") primary; restarted now it would wipe its replica");
    }
  }
  n->client->Close();
  return Spawn(*n, extra);
}

Status RedisPeer::Resume(pid_t pid) {
  for (Node& n : nodes_) {
    if (n.pid == pid && pid != 0) {
      if (::kill(pid, SIGCONT) != 0)
        return IOError("kill(SIGCONT): " + std::string(std::strerror(errno)));
      return Status::Ok();
    }
  }
  return NotFound("pid " + std::to_string(pid) + " is no running node of this peer");
}

Status RedisPeer::Failover() {
  std::string errors;
  for (size_t i = 2; i < nodes_.size(); ++i) {
    Node& s = nodes_[i];
    auto r = s.client->Command({"SENTINEL", "FAILOVER", kSentinelMasterName}, kQueryTimeoutMs);
    if (!r.ok()) {
      errors += (errors.empty() ? "" : "; ") + r.status().message();
      continue;  // another Sentinel can run it
    }
    if (!r->IsOk()) {
      return FailedPrecondition(s.client->address() + ": SENTINEL FAILOVER: " + r->DebugString());
    }
    return Status::Ok();
  }
  return Unavailable("no Sentinel took SENTINEL FAILOVER: " + errors);
}

StatusOr<uint64_t> RedisPeer::RssBytes(bool primary) {
  auto port = PrimaryPort();
  if (!port.ok()) return port.status();
  const Node* n = nullptr;
  for (size_t i = 0; i < 2; ++i) {
    if ((nodes_[i].port == *port) == primary) n = &nodes_[i];
  }
  if (n == nullptr || n->pid == 0) return FailedPrecondition("that server is not running");
  const std::string path = "/proc/" + std::to_string(n->pid) + "/status";
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) != 0) continue;
    const int64_t kb = ParseNumber(std::string_view(line).substr(6));  // "VmRSS:  1234 kB"
    if (kb < 0) return Corruption(path + ": cannot read '" + line + "'");
    return static_cast<uint64_t>(kb) * 1024;
  }
  return IOError("no VmRSS in " + path);
}

void RedisPeer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  sentinel_view_.reset();
  // Sentinels first, so that none of them fails over a server being stopped.
  for (bool sentinels : {true, false}) {
    for (Node& n : nodes_) {
      n.client->Close();
      if (n.sentinel != sentinels || Reap(n)) continue;
      ::kill(n.pid, SIGTERM);
      ::kill(n.pid, SIGCONT);  // a paused node handles SIGTERM only once it runs
    }
    const int64_t deadline = NowMs() + options_.stop_grace_ms;
    for (Node& n : nodes_) {
      while (n.sentinel == sentinels && !Reap(n) && NowMs() < deadline) SleepMs(5);
      if (n.sentinel != sentinels || n.pid == 0) continue;
      KillAndReap(n.pid);
      n.pid = 0;
    }
  }
}

RedisPeer::Node* RedisPeer::NodeOn(int port) {
  for (Node& n : nodes_) {
    if (n.port == port) return &n;
  }
  return nullptr;
}

const RedisPeer::Node* RedisPeer::NodeOn(int port) const {
  for (const Node& n : nodes_) {
    if (n.port == port) return &n;
  }
  return nullptr;
}

std::array<int, 2> RedisPeer::ServerPorts() const { return {nodes_[0].port, nodes_[1].port}; }

std::vector<int> RedisPeer::SentinelPorts() const {
  std::vector<int> out;
  for (const Node& n : nodes_) {
    if (n.sentinel) out.push_back(n.port);
  }
  return out;
}

pid_t RedisPeer::PidOf(int port) const {
  const Node* n = NodeOn(port);
  return n == nullptr ? 0 : n->pid;
}

std::vector<pid_t> RedisPeer::Pids() const {
  std::vector<pid_t> out;
  for (const Node& n : nodes_) {
    if (n.pid != 0) out.push_back(n.pid);
  }
  return out;
}

}  // namespace duplex::bench
