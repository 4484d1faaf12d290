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
  std::string data_dir;
  bool fsync = true;
  uint64_t log_retain_ops = 200000;
  size_t frame_bytes_max = 16 << 20;
  std::string log_level = "info";
  // TLS (replica/tls.h): the certificate files, used on the client port when
  // tls_client_port and on the HTTP port when tls_http.
  std::optional<TlsServerFiles> tls;
  bool tls_client_port = false;
  bool tls_http = false;
  // Clients must send it in an Auth frame first ("" = no password asked).
  std::string client_password;
  // Seams, null for the defaults: the store's RocksDB Env (the OS), and the wall clock
  // stamped on client requests (SystemWallClock). Both must outlive the daemon.
  rocksdb::Env* env = nullptr;
  const WallClock* wall_clock = nullptr;
};

// A bound on --coordinator's list: sockets and statuses per heartbeat grow with it. (The
// cluster config allows 3 coordinators; the bound leaves room without being a policy.)
inline constexpr size_t kCoordinatorEndpointsMax = 7;

// --coordinator's comma-separated list ("tcp://127.0.1.1:7401,tcp://127.0.2.1:7401"), one
// endpoint or several. Errors name the bad item: empty, not tcp://host:port, listed twice,
// or too many.
StatusOr<std::vector<std::string>> ParseCoordinatorEndpoints(std::string_view list);

// Runs until SIGTERM or SIGINT; returns the process exit code. A processor binary's main()
// is ReplicaMain (replica_main.h), which builds the options from its flags.
int RunReplicaDaemon(const DaemonOptions& options, Processor* processor);

}  // namespace duplex
