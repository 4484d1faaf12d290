// RedisPeer: the Redis side of `duplex bench --peer redis` — a primary, its replica and three
// Sentinels, real processes on 127.0.0.1 in one directory, started, signalled, restarted and
// stopped by PID (never by name). Owns its processes: none survives the object. Thread-
// compatible: one thread drives it (call Start and Restart from a thread that lives as long as
// the peer: the children die with the thread that forked them).
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "replica/tls.h"

namespace duplex::bench {

class SentinelView;

struct RedisPeerOptions {
  std::string dir;  // removed and created again by Start
  // Sentinel's view of a crash: a node silent this long is subjectively down. At least
  // kDownAfterMsMin: Sentinel reconnects to an instance at most once a second, so after a
  // failover it would find the new primary silent for longer than a shorter value and fail
  // back, again and again (seen at 100, 250 and 500 ms).
  int down_after_ms = 1000;
  // Bounds each failover step; Sentinel waits 2x this before retrying a failed one. At least
  // kFailoverTimeoutMsMin: Sentinel sees the promotion through INFO, which it sends the
  // replica once a second during a failover; a shorter bound aborts good failovers.
  int failover_timeout_ms = 2000;
  bool appendonly = false;  // AOF; RDB snapshots are always off
  // With appendonly, when the AOF is fsynced: "everysec", or "always" (before the replies
  // of each event-loop turn, as duplex fsyncs every group commit).
  std::string appendfsync = "everysec";
  int ready_timeout_ms = 15000;  // Start: replica linked and Sentinels acquainted
  // On a lab (`bench failover --hosts 2`), per node in the order a, b, s1, s2, s3: the host
  // address it binds besides 127.0.0.1 (every client and link still goes through 127.0.0.1:
  // a crash or a freeze of the host does not care which address), the environment entries
  // it starts with (the lab's host tags, so that the lab's crash and freeze reach it), and
  // its port. Empty: 127.0.0.1 only, no tags, ports picked free.
  std::vector<std::string> node_addresses;
  std::vector<std::vector<std::string>> node_env;
  std::vector<int> node_ports;
  int stop_grace_ms = 3000;  // SIGTERM, then SIGKILL after this long
  // TLS: a directory with ca.crt, server.crt and server.key (WriteTlsFiles, replica/tls.h).
  // Every node then listens on TLS only (port 0, tls-port), replication and the Sentinels'
  // links speak TLS (tls-replication yes), and clients need no certificate (tls-auth-clients
  // no, as duplex's client_certs none). "" = plain TCP everywhere.
  std::string tls_dir;
};

class RedisPeer {
 public:
  static constexpr int kDownAfterMsMin = 1000;
  static constexpr int kFailoverTimeoutMsMin = 1500;

  // Installs redis-server, redis-sentinel and redis-cli with apt-get (through `sudo -n` when
  // not root) if any of them is missing from PATH, /usr/bin and /usr/sbin.
  static Status EnsureInstalled();

  static StatusOr<std::unique_ptr<RedisPeer>> Start(const RedisPeerOptions& options);
  ~RedisPeer();
  RedisPeer(const RedisPeer&) = delete;
  RedisPeer& operator=(const RedisPeer&) = delete;

  // SIGTERM every process by PID, SIGKILL what is left after stop_grace_ms, reap all.
  // Idempotent.
  void Stop();

  // The primary's port as a majority of the Sentinels see it.
  StatusOr<int> PrimaryPort();
  // Sends `sig` (SIGKILL, SIGSTOP, SIGCONT...) to the node the Sentinels name primary.
  StatusOr<pid_t> SignalPrimary(int sig);
  // Restarts the server or Sentinel on `port` from its config file once its process has
  // exited (bounded wait). A server comes back as a replica of the primary the Sentinels
  // name: left alone it would rejoin as a second, empty primary for 8 s, until Sentinel
  // converts it (Sentinel waits 4 hello periods first). Waits (bounded, 10 s) for a majority
  // of Sentinels to name another primary; refused if they still name this one, unless
  // appendonly: it would come back empty and wipe its replica.
  Status Restart(int port);
  // SIGCONT to a node paused with SIGSTOP.
  Status Resume(pid_t pid);
  // One primary; one replica linked to it and caught up with the primary's offset; every
  // Sentinel naming that primary (not flagged down, no failover in progress), knowing the two
  // other Sentinels and seeing a replica it would promote. Bounded.
  Status WaitReady(int timeout_ms);
  // A planned switchover: SENTINEL FAILOVER on one Sentinel. Returns once it was accepted.
  Status Failover();
  // VmRSS of the current primary's (or replica's) process.
  StatusOr<uint64_t> RssBytes(bool primary);

  std::array<int, 2> ServerPorts() const;
  std::vector<int> SentinelPorts() const;
  // The PID running on `port`, 0 when that node is not running.
  pid_t PidOf(int port) const;
  // Every process this peer runs now.
  std::vector<pid_t> Pids() const;
  const std::string& dir() const { return options_.dir; }
  // The client context every connection to a node needs (trusting tls_dir's CA); null when
  // the peer runs plain TCP.
  const std::shared_ptr<TlsContext>& tls() const { return tls_; }
  const RedisPeerOptions& options() const { return options_; }

 private:
  struct Node;

  explicit RedisPeer(RedisPeerOptions options);
  Status WriteConfigs();
  Status Spawn(Node& node, const std::vector<std::string>& extra_args);
  // Polls problem() until it returns "" (ready); fails at the deadline with the last problem,
  // or at once when a node died (with the last line of its log).
  Status WaitUntil(int64_t deadline_ms, const std::string& what,
                   const std::function<std::string()>& problem);
  std::string DeadNodeProblem();
  std::string LinkProblem();
  std::string AcquaintanceProblem();
  std::string ReadyProblem();
  std::string SentinelProblem(Node& sentinel, int primary_port, int replica_port);
  Node* NodeOn(int port);
  const Node* NodeOn(int port) const;
  // Reaps the node's process if it has exited; true when it is not running.
  bool Reap(Node& node);

  RedisPeerOptions options_;
  std::vector<Node> nodes_;  // servers a and b, then sentinels s1..s3
  std::unique_ptr<SentinelView> sentinel_view_;
  std::string server_binary_, sentinel_binary_;
  std::shared_ptr<TlsContext> tls_;
  bool stopped_ = false;
};

}  // namespace duplex::bench
