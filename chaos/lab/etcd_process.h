// EtcdProcess: one etcd member (/usr/bin/etcd) started through common/subprocess.h for the lab
// and the tests, with loopback timings (heartbeat 10 ms, election 100 ms, so a lease ttl of
// 1 s is allowed), waited for on /health (bounded) and stopped by its pid. The object owns
// the process: its destructor kills and reaps it. Thread-compatible.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/subprocess.h"

namespace duplex::lab {

inline constexpr const char* kEtcdBinary = "/usr/bin/etcd";

struct EtcdMemberOptions {
  std::string name;     // "m1"
  std::string address;  // 127.0.0.1, or the lab host's 127.0.N.1
  int client_port = 2379;
  int peer_port = 2380;
  std::string data_dir;         // created by etcd; reused on a restart (flags then ignored)
  std::string initial_cluster;  // "m1=http://127.0.0.1:2380,..." (PlanEtcdCluster fills it)
  // "" = etcd's default; the lab gives its members its id, so that no member of another lab
  // (or a test's) is ever taken for a peer.
  std::string initial_cluster_token;
  std::string logger;  // "" = etcd's default (capnslog in 3.4); the lab asks for "zap"
  int heartbeat_interval_ms = 10;
  int election_timeout_ms = 100;
  std::string log_path;          // "" = /dev/null
  std::vector<std::string> env;  // e.g. the lab's tags (host_processes.h)
  ChildGroup group = ChildGroup::kOwn;
  bool die_with_parent = false;  // tests: true, so that a killed test leaves no etcd behind
  std::string binary = kEtcdBinary;

  std::string ClientUrl() const;  // http://<address>:<client_port>
  std::string PeerUrl() const;
};

// Fills initial_cluster of every member from their names and peer urls.
void PlanEtcdCluster(std::vector<EtcdMemberOptions>& members);

// The argv that starts the member (for logs and the lab's `ps`).
std::vector<std::string> EtcdArgv(const EtcdMemberOptions& options);

class EtcdProcess {
 public:
  // Starts the member without waiting for it. FailedPrecondition naming the binary when etcd
  // is not installed ("install it with scripts/install-deps").
  static StatusOr<std::unique_ptr<EtcdProcess>> Start(EtcdMemberOptions options);
  ~EtcdProcess();  // Kill()
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  // Polls GET <client url>/health until it says {"health":"true"}, for at most timeout_ms. A
  // member of a cluster is healthy only once the cluster has a leader (a quorum).
  // Unavailable naming the member and its last answer; FailedPrecondition if it exited.
  Status WaitHealthy(int timeout_ms);
  // SIGKILL and reap (nothing when already stopped).
  void Kill();
  // SIGTERM, then SIGKILL after grace_ms; reaped either way.
  void Stop(int grace_ms);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  const EtcdMemberOptions& options() const { return options_; }

 private:
  EtcdProcess(EtcdMemberOptions options, pid_t pid) : options_(std::move(options)), pid_(pid) {}

  EtcdMemberOptions options_;
  pid_t pid_;  // 0 once stopped
};

// A cluster of 1 or 3 members for tests: m1..mN on `address`, client ports first_port,
// first_port + 2, ..., each peer port one above its client port; data under a fresh temporary
// directory that the destructor removes after killing every member.
class EtcdCluster {
 public:
  // Starts every member and waits (bounded) until each is healthy.
  static StatusOr<std::unique_ptr<EtcdCluster>> Start(int members, const std::string& address,
                                                      int first_port, int healthy_timeout_ms);
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  std::vector<std::string> Endpoints() const;  // client urls, in member order
  int size() const { return static_cast<int>(members_.size()); }
  EtcdProcess& member(int i) { return *members_.at(i); }
  void Kill(int i) { members_.at(i)->Kill(); }
  // Starts member i again on its data dir; waits until it is healthy.
  Status Restart(int i, int healthy_timeout_ms);

 private:
  explicit EtcdCluster(std::string root) : root_(std::move(root)) {}

  std::string root_;
  std::vector<std::unique_ptr<EtcdProcess>> members_;
};

// GET <client_url>/health once: ok when the member answers {"health":"true"} within
// timeout_ms; else Unavailable saying what it answered.
Status EtcdHealth(const std::string& client_url, int timeout_ms);

}  // namespace duplex::lab
