#include "chaos/lab/etcd_process.h"

#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "common/clock.h"

namespace duplex::lab {
namespace {

// Between two /health polls: short, the member is usually up within a few hundred ms.
constexpr int kHealthPollMs = 20;
constexpr int kHealthRequestTimeoutMs = 300;

}  // namespace

std::string EtcdMemberOptions::ClientUrl() const {
  return "http://" + address + ":" + std::to_string(client_port);
}

std::string EtcdMemberOptions::PeerUrl() const {
  return "http://" + address + ":" + std::to_string(peer_port);
}

void PlanEtcdCluster(std::vector<EtcdMemberOptions>& members) {
  std::string cluster;
  for (const EtcdMemberOptions& member : members) {
    if (!cluster.empty()) cluster += ",";
    cluster += member.name + "=" + member.PeerUrl();
  }
  for (EtcdMemberOptions& member : members) member.initial_cluster = cluster;
}

std::vector<std::string> EtcdArgv(const EtcdMemberOptions& o) {
  std::vector<std::string> argv = {
      o.binary,
      "--name",
      o.name,
      "--data-dir",
      o.data_dir,
      "--listen-client-urls",
      o.ClientUrl(),
      "--advertise-client-urls",
      o.ClientUrl(),
      "--listen-peer-urls",
      o.PeerUrl(),
      "--initial-advertise-peer-urls",
      o.PeerUrl(),
      "--initial-cluster",
      o.initial_cluster.empty() ? o.name + "=" + o.PeerUrl() : o.initial_cluster,
      "--initial-cluster-state",
      "new",
      "--heartbeat-interval",
      std::to_string(o.heartbeat_interval_ms),
      "--election-timeout",
      std::to_string(o.election_timeout_ms)};
  if (!o.initial_cluster_token.empty()) {
    argv.insert(argv.end(), {"--initial-cluster-token", o.initial_cluster_token});
  }
  if (!o.logger.empty()) argv.insert(argv.end(), {"--logger", o.logger});
  return argv;
}

StatusOr<std::unique_ptr<EtcdProcess>> EtcdProcess::Start(EtcdMemberOptions options) {
  if (::access(options.binary.c_str(), X_OK) != 0) {
    return FailedPrecondition("etcd is not installed: " + options.binary +
                              " is missing or not executable (install it with "
                              "scripts/install-deps: Debian's etcd-server)");
  }
  if (options.name.empty() || options.address.empty() || options.data_dir.empty()) {
    return InvalidArgument("etcd member: name, address and data_dir are required");
  }
  SpawnOptions spawn;
  spawn.argv = EtcdArgv(options);
  spawn.env = options.env;
  spawn.stdin_null = true;
  spawn.stdout_to = options.log_path.empty() ? ChildOutput::kNull : ChildOutput::kLogFile;
  spawn.stderr_to = spawn.stdout_to;
  spawn.log_path = options.log_path;
  spawn.group = options.group;
  spawn.die_with_parent = options.die_with_parent;
  spawn.close_other_fds = true;
  spawn.unblock_signals = true;
  StatusOr<pid_t> pid = Spawn(spawn);
  if (!pid.ok()) return pid.status();
  return std::unique_ptr<EtcdProcess>(new EtcdProcess(std::move(options), *pid));
}

EtcdProcess::~EtcdProcess() { Kill(); }

Status EtcdHealth(const std::string& client_url, int timeout_ms) {
  httplib::Client http(client_url);
  http.set_connection_timeout(0, timeout_ms * 1000);
  http.set_read_timeout(0, timeout_ms * 1000);
  httplib::Result result = http.Get("/health");
  if (!result) {
    return Unavailable("etcd " + client_url + "/health: no answer (" +
                       httplib::to_string(result.error()) + ")");
  }
  if (result->status == 200 && result->body.find("\"health\":\"true\"") != std::string::npos) {
    return Status::Ok();
  }
  return Unavailable("etcd " + client_url + "/health: HTTP " + std::to_string(result->status) +
                     " " + result->body.substr(0, 200));
}

Status EtcdProcess::WaitHealthy(int timeout_ms) {
  int64_t deadline_us = NowUs() + int64_t{timeout_ms} * 1000;
  Status last = Unavailable("etcd " + options_.ClientUrl() + ": not asked yet");
  while (true) {
    if (pid_ == 0) return FailedPrecondition("etcd " + options_.name + " is not running");
    if (std::optional<ExitStatus> exit = WaitExited(pid_, 0)) {
      pid_ = 0;
      return FailedPrecondition("etcd " + options_.name + " " + exit->Describe() +
                                " before it was healthy (see " +
                                (options_.log_path.empty() ? "its log" : options_.log_path) + ")");
    }
    last = EtcdHealth(options_.ClientUrl(), kHealthRequestTimeoutMs);
    if (last.ok()) return last;
    if (NowUs() >= deadline_us) break;
    SleepMs(kHealthPollMs);
  }
  return Unavailable("etcd " + options_.name + " not healthy within " + std::to_string(timeout_ms) +
                     " ms: " + last.message());
}

void EtcdProcess::Kill() {
  if (pid_ == 0) return;
  KillAndReap(pid_);
  pid_ = 0;
}

void EtcdProcess::Stop(int grace_ms) {
  if (pid_ == 0) return;
  ::kill(pid_, SIGTERM);
  if (!WaitExited(pid_, grace_ms)) KillAndReap(pid_);
  pid_ = 0;
}

StatusOr<std::unique_ptr<EtcdCluster>> EtcdCluster::Start(int members, const std::string& address,
                                                          int first_port, int healthy_timeout_ms) {
  if (members < 1) return InvalidArgument("an etcd cluster needs a member");
  std::string pattern = (std::filesystem::temp_directory_path() / "duplex-etcd-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return IOError("cannot create a temporary directory " + pattern);
  }
  std::unique_ptr<EtcdCluster> cluster(new EtcdCluster(pattern));
  std::vector<EtcdMemberOptions> plan(members);
  for (int i = 0; i < members; ++i) {
    plan[i].name = "m" + std::to_string(i + 1);
    plan[i].address = address;
    plan[i].client_port = first_port + 2 * i;
    plan[i].peer_port = first_port + 2 * i + 1;
    plan[i].data_dir = pattern + "/" + plan[i].name;
    plan[i].log_path = pattern + "/" + plan[i].name + ".log";
    plan[i].die_with_parent = true;
  }
  PlanEtcdCluster(plan);
  for (EtcdMemberOptions& options : plan) {
    StatusOr<std::unique_ptr<EtcdProcess>> member = EtcdProcess::Start(std::move(options));
    if (!member.ok()) return member.status();
    cluster->members_.push_back(std::move(member).value());
  }
  for (auto& member : cluster->members_) {
    Status healthy = member->WaitHealthy(healthy_timeout_ms);
    if (!healthy.ok()) return healthy;
  }
  return cluster;
}

EtcdCluster::~EtcdCluster() {
  for (auto& member : members_) member->Kill();
  std::error_code ignored;
  std::filesystem::remove_all(root_, ignored);
}

std::vector<std::string> EtcdCluster::Endpoints() const {
  std::vector<std::string> urls;
  for (const auto& member : members_) urls.push_back(member->options().ClientUrl());
  return urls;
}

Status EtcdCluster::Restart(int i, int healthy_timeout_ms) {
  EtcdMemberOptions options = members_.at(i)->options();
  members_.at(i)->Kill();
  StatusOr<std::unique_ptr<EtcdProcess>> member = EtcdProcess::Start(std::move(options));
  if (!member.ok()) return member.status();
  members_.at(i) = std::move(member).value();
  return members_.at(i)->WaitHealthy(healthy_timeout_ms);
}

}  // namespace duplex::lab
