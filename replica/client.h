// Client: duplex's client library. Knows both replicas, finds the active,
// retries on the other after a timeout, a lost connection or a "not active"
// answer, and tags every request (client id, request seq) so that a retry after
// a failover returns the original answer instead of applying twice.
// One Client per thread; not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "replica/frame.h"
#include "replica/processor.h"

namespace duplex {

struct ClientOptions {
  std::vector<std::string> endpoints;  // "tcp://127.0.0.1:7410", one per replica
  int attempt_timeout_ms = 150;        // no answer this long: try the other replica
  int deadline_ms = 10000;             // give up (Unavailable) after this long
  int backoff_ms_max = 20;             // between rounds when no replica is active yet
  uint64_t client_id = 0;              // 0: random
  size_t frame_bytes_max = 16 << 20;
  // Connections leave from this address (bound before connecting), so that per-host
  // firewall rules can tell hosts apart; "" = the kernel's choice.
  std::string source_address;
  // TLS on the client port: the CA that signed the replicas' certificate ("" = plain TCP),
  // and a client certificate when the replicas ask for one.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  // Sent in an Auth frame first on every connection when set (or with a client certificate).
  std::string password;
};

struct CallStats {
  int attempts = 0;
  bool failed_over = false;  // answered by another replica than the first one tried
};

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends a request with the next request seq and retries it (same seq) until a
  // replica that is active answers, or the deadline passes (Unavailable). The
  // Response carries the application's own code (OK, NotFound, ...).
  StatusOr<Response> Call(const std::string& op, std::vector<std::string> args,
                          CallStats* stats = nullptr);

  // The admin path (digests, checkpoints): one attempt at one replica, no retry, waiting at
  // most timeout_ms. The reply's own code says whether the replica did it. `legacy_ops`: the
  // replica is a release older than AdminRequest frames (its status lacks admin_frames), so
  // the request goes as the "_digest..." client op that release took, its answer read back.
  StatusOr<AdminReply> Admin(size_t replica_index, AdminRequest request, int timeout_ms,
                             bool legacy_ops = false);

  uint64_t client_id() const;
  uint64_t last_request_seq() const;
  size_t active_index() const;  // the replica that answered last

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace duplex
