// The cluster description's values (cluster_config.h reads and writes them): plain structs
// with their defaults. Thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace duplex {

enum class ReplicationMode { kSync, kAsync };

// A machine of the cluster: its agent runs the replicas placed on it. Without `hosts:` in the
// file there is one, implied: "local", at the cluster's `host` address (the embedded default).
struct HostConfig {
  std::string name;      // [a-z0-9_-]{1,32}, unique
  std::string address;   // its processes bind here and connect from here (lab: 127.0.N.1)
  std::string data_dir;  // its replicas', agent's and packages' files; "" = the default below
};
inline constexpr const char* kImpliedHostName = "local";

struct ReplicaConfig {
  std::string name;                // [a-z0-9_-]{1,32}, unique
  std::string host = "127.0.0.1";  // the address it binds (its host's, when hosts are named)
  std::string host_name = kImpliedHostName;  // the host whose agent runs it
  int port = 0;         // ZeroMQ replication port: where the other replica connects
  int client_port = 0;  // TCP, length-prefixed frames: clients' requests
  int http_port = 0;    // GET /role answers 200 when active, 503 otherwise
  // Chaos testing (chaos/) routes this replica's links through fault-injecting proxies
  // and its storage through a fault filesystem; an operator leaves these out.
  int peer_port = 0;         // where the other replica reaches this one; 0 = port
  int coordinator_port = 0;  // where this replica reaches the coordinator; 0 = control_port
  std::string fault_file;    // control file of chaos/hooks/fault_fs.h; "" = no faults
};

struct TimingConfig {
  int heartbeat_ms = 20;           // status to the coordinator and peer heartbeats
  int lease_ms = 200;              // how long one renewal lets an active serve
  int failure_timeout_ms = 200;    // no status for this long: the coordinator suspects the replica
  int ack_timeout_ms = 100;        // standby silent this long: the active asks to go solo
  int client_timeout_ms = 150;     // client library: wait this long before trying the other replica
  int startup_timeout_ms = 10000;  // `duplex up` waits this long for the pair to serve
};

struct RestartConfig {
  int restarts_max = 5;  // within window_s; one more marks the replica failed
  int window_s = 60;
  int backoff_ms = 50;  // delay before restarting a crashed replica
  // Each further crash within window_s doubles the delay, up to this: a replica that cannot
  // start (a full disk, say) is not spent within a second, and recovers when the cause goes.
  // A maximum below backoff_ms means the delay does not grow.
  int backoff_max_ms = 1000;
};

struct ReplicationConfig {
  ReplicationMode mode = ReplicationMode::kSync;
  uint64_t lag_ops_max = 10000;      // async mode: writes wait when the standby is this far behind
  uint64_t log_retain_ops = 200000;  // delta log entries kept for catch-up by log tail
  uint64_t batch_ops_max = 1024;     // group commit: deltas per WriteBatch
  uint64_t snapshot_chunk_bytes = 64
                                  << 10;  // per loop turn: bounds how long a catch-up holds writes
  uint64_t frame_bytes_max = 16 << 20;    // larger frames are refused
  uint64_t queue_max = 10000;             // pending client requests per replica
  uint64_t session_expiry_ms = 3600 * 1000;  // a client's retry answer is kept this long idle
};

// The node agents (upgrade_coordinator/agent/): how often they report, how fast packages
// reach them.
struct AgentConfig {
  int heartbeat_ms = 100;  // an agent's report when nothing changed; exits are sent at once
  uint64_t distribute_bytes_per_s = 64 << 20;  // package distribution, per host
  // A replica that exits while its agent cannot reach the coordinator is restarted (as an
  // out-of-service process that the coordinator later makes standby) by the agent itself.
  bool restart_when_alone = true;
};

// A coordinator: one (the embedded default, or `coordinators:` with one entry) or several,
// which elect a leader in etcd (`records: {etcd: ...}`); only the leader acts.
struct CoordinatorConfig {
  std::string host_name;  // the host it runs on; "" when no hosts are named
  std::string address;    // where it binds (its host's address)
  int admin_port = 0;     // HTTP+JSON admin API
  int control_port = 0;   // ZeroMQ control socket: replicas and agents connect here
};

// The coordinators' record store and election in etcd (`records: {etcd: ...}`); without it
// the coordinator keeps its record in its own RocksDB (one coordinator only).
struct EtcdConfig {
  std::vector<std::string> endpoints;  // http://address:port, loopback in the lab
  std::string prefix;                  // every key lives under it: /duplex/<cluster>
  // The leader key's lease: a dead leader's key is gone this long after its last renewal.
  // etcd raises it to its own minimum (1.5 election timeouts, rounded up to a second).
  int lease_ttl_s = 2;
};

// Who may talk to whom, and how (`security:`); all optional: absent, the sockets are open, as
// they may be only on loopback (protected mode). Paths are absolute once loaded.
enum class ClientCerts { kNone, kOptional, kRequired };

struct TlsConfig {
  std::string cert_file;  // the server's certificate (PEM), on client ports and HTTP ports
  std::string key_file;   // its private key
  std::string ca_file;    // clients verify the server with it; it verifies client certificates
  ClientCerts client_certs = ClientCerts::kNone;
  bool client_port = true;  // TLS on every replica's client port
  bool http = true;         // TLS on every HTTP port (replica /role, coordinator admin API)
};

struct SecurityConfig {
  // Each member's CURVE secret key is <keys_dir>/<member>.secret (mode 0600), where a member
  // is "replica.a", "agent.h1" or "coordinator.h1" (security_config.h).
  std::string keys_dir;
  std::map<std::string, std::string> public_keys;  // member -> Z85 CURVE public key
  std::string admin_token_file;                    // "" = mutating admin calls need no token
  bool open_health = true;                         // GET /role, /status, /metrics need no token
  std::string client_password_file;                // "" = clients need no AUTH frame
  std::optional<TlsConfig> tls;
  std::vector<std::string> package_keys;  // trusted Ed25519 signers, 64 lowercase hex chars
  std::string package_dir;  // POST /packages {"path"} only under it; "" = uploads only
  bool curve() const { return !public_keys.empty(); }
};

// Bounds on what outside input may hold (`limits:`). Every one has a default.
struct LimitsConfig {
  uint64_t client_connections_max = 4096;    // per replica client port
  uint64_t client_idle_timeout_ms = 300000;  // a client connection silent this long is closed
  uint64_t client_partial_frame_ms = 10000;  // a frame begun and not completed within this: closed
  // Bytes of unfinished frames held across all of a replica's client connections; above it
  // the connections holding the most are closed (4,096 slow clients x a 16 MiB frame = 64 GiB).
  uint64_t client_input_bytes_max = uint64_t{256} << 20;
  uint64_t http_body_bytes_max = 1 << 20;          // every HTTP server (uploads: package_bytes_max)
  uint64_t package_bytes_max = uint64_t{1} << 30;  // an uploaded or added package, at most
  uint64_t admin_jobs_max = 8;        // queued digest and other admin jobs; more are refused
  uint64_t zmq_parts_max = 8;         // parts per ZeroMQ message; more: dropped unread
  uint64_t epoch_step_max = 1000000;  // an epoch or id this far above the highest known: refused
};

struct ProcessorConfig {
  std::string binary;   // path to the processor executable (relative to the config file)
  std::string version;  // e.g. "1.0.0"
};

struct ClusterConfig {
  std::string name;
  std::string data_dir;            // relative to the config file unless absolute
  std::string host = "127.0.0.1";  // the coordinator's address
  int admin_port = 0;              // coordinator HTTP+JSON API
  int control_port = 0;  // coordinator ZeroMQ control socket: replicas and agents connect here
  std::vector<HostConfig> hosts;  // as written, or the one implied host
  bool hosts_named = false;       // `hosts:` was written
  std::string coordinator_host;   // the host (by name) the coordinator runs on; "" = none named
  // Every coordinator; host/admin_port/control_port above are this process's own entry
  // (SelectCoordinator), the first by default.
  std::vector<CoordinatorConfig> coordinators;
  std::optional<EtcdConfig> etcd;  // `records: {etcd: ...}`; none: the coordinator's RocksDB
  ProcessorConfig processor;
  std::vector<ReplicaConfig> replicas;  // exactly two
  TimingConfig timing;
  RestartConfig restart;
  ReplicationConfig replication;
  AgentConfig agent;
  SecurityConfig security;
  LimitsConfig limits;
  std::string log_level = "info";
  std::string source_path;  // where it was loaded from (absolute), empty if from a string
};

// The host `name` (null when there is none of that name).
inline const HostConfig* FindHost(const ClusterConfig& config, const std::string& name) {
  for (const HostConfig& h : config.hosts) {
    if (h.name == name) return &h;
  }
  return nullptr;
}

}  // namespace duplex
