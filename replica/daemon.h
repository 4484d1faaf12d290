// The replica daemon: a ReplicaCore driven by one event loop over its sockets (ZeroMQ
// for replication and the coordinator, plain TCP for clients: client_listener.h), a
// RocksDB store, and a small HTTP endpoint (/role, /status). One thread runs the loop;
// the HTTP server reads a published copy of the status under a mutex.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "replica/curve_auth.h"
#include "replica/processor.h"
#include "replica/replica_core.h"
#include "replica/tls.h"

namespace rocksdb {
class Env;
}

namespace duplex {

struct DaemonOptions {
  ReplicaOptions replica;
  std::string host = "127.0.0.1";
  int port = 0;         // ZeroMQ ROUTER: replication (the standby's messages)
  int client_port = 0;  // TCP, length-prefixed frames (frame_stream.h): clients' requests
  int http_port = 0;    // GET /role: 200 when serving as active, else 503
  // Every coordinator's control endpoint (one DEALER each): each status goes to all of
  // them, and assignments are taken from any, the highest coordinator term winning.
  std::vector<std::string> coordinator_endpoints;
  // CURVE on every ZeroMQ socket when curve.on() (curve_auth.h): the replication port a CURVE
  // server, the DEALERs clients of the active's and the coordinators' keys. coordinator_members
  // names the member of each coordinator_endpoints entry, in its order (with CURVE only).
  CurveSettings curve;
  std::vector<std::string> coordinator_members;
  std::string data_dir;
  bool fsync = true;
  uint64_t log_retain_ops = 200000;
  size_t frame_bytes_max = 16 << 20;
  std::string log_level = "info";
  // Bounds at the edges (limits.* of the cluster config; the agent passes them as flags).
  // ReplicaOptions carries the core's (epoch_step_max, admin_jobs_max).
  size_t client_connections_max = 4096;
  int64_t client_idle_timeout_ms = 300000;            // a client connection with no frame this long
  int64_t client_partial_frame_ms = 10000;            // a frame unfinished this long
  size_t client_input_bytes_max = size_t{256} << 20;  // unfinished frames, all connections
  size_t zmq_parts_max = 8;              // parts per ZeroMQ message; more: dropped unread
  size_t http_body_bytes_max = 1 << 20;  // the HTTP port's request bodies
  // TLS (replica/tls.h): the certificate files, used on the client port when
  // tls_client_port and on the HTTP port when tls_http.
  std::optional<TlsServerFiles> tls;
  bool tls_client_port = false;
  bool tls_http = false;
  // Clients must send it in an Auth frame first ("" = no password asked).
  std::string client_password;
  // The HTTP port's routes need `Authorization: Bearer <admin_token>` when it is set, except
  // GET /role, /status and /metrics while open_health (security.open_health of the config).
  std::string admin_token;
  bool open_health = true;
  // Seams, null for the defaults: the store's RocksDB Env (the OS), and the wall clock
  // stamped on client requests (SystemWallClock). Both must outlive the daemon.
  rocksdb::Env* env = nullptr;
  const WallClock* wall_clock = nullptr;
};

// A bound on --coordinator's list: sockets and statuses per heartbeat grow with it. (The
// cluster config allows 3 coordinators; the bound leaves room without being a policy.)
inline constexpr size_t kCoordinatorEndpointsMax = 7;

// Runs until SIGTERM or SIGINT; returns the process exit code. A processor binary's main()
// is ReplicaMain (replica_main.h), which builds the options from its flags.
int RunReplicaDaemon(const DaemonOptions& options, Processor* processor);

}  // namespace duplex
