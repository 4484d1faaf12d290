// ClientListener: the replica's client port. Accepts TCP connections and serves their
// length-prefixed frames (frame_stream.h) from the replica's own event loop: the loop
// polls these sockets beside its ZeroMQ ones, so a request reaches the core, and its reply
// the client, with no thread hand-off. Each connection is named by a route that the core
// hands back with the reply. One thread (the event loop).
#pragma once

#include <zmq.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "replica/access_control.h"
#include "replica/frame_stream.h"
#include "replica/tls.h"

namespace duplex {

// The client port's bounds (limits.client_*). Connections past connections_max are closed
// at once; a connection that completes no frame for idle_timeout_ms, or leaves a frame
// unfinished for partial_frame_ms (a slow-loris client holding up to max_frame_bytes), is
// closed. Unfinished frames together may hold input_bytes_max: above it, the connections
// holding the most are closed until the rest fit. Each closure is counted by reason.
struct ClientLimits {
  size_t connections_max = 4096;
  int64_t idle_timeout_ms = 300000;
  int64_t partial_frame_ms = 10000;
  size_t input_bytes_max = size_t{256} << 20;
};

// Connections refused or closed for a bound, by reason.
struct ClientLimitCounters {
  uint64_t refused_full = 0;        // past connections_max
  uint64_t closed_idle = 0;         // no frame for idle_timeout_ms
  uint64_t closed_partial = 0;      // a frame unfinished for partial_frame_ms
  uint64_t closed_input_bytes = 0;  // among those holding the most, above input_bytes_max
};

// How clients must prove themselves on the client port. A connection that must AUTH is
// handled by the listener until it has: its first frame must be an Auth frame (frame.h).
struct ClientAccess {
  std::shared_ptr<TlsContext> tls;  // null: plain TCP
  std::string password;             // "": none asked
  bool certs_required = false;      // TLS client certificates required: AUTH too
  bool auth_required() const { return !password.empty() || certs_required; }
};

class ClientListener {
 public:
  // At most this many connections, and fewer when the process may open fewer files: at
  // the file limit accept() would fail and leave the connection pending, and the listening
  // socket would wake the loop on every turn. Beyond it, connections are accepted and
  // closed at once.
  static constexpr size_t kConnectionsMax = 4096;
  static constexpr size_t kFilesKeptForOthers = 128;  // RocksDB files, ZeroMQ, HTTP

  explicit ClientListener(size_t frame_bytes_max) : frame_bytes_max_(frame_bytes_max) {}
  ~ClientListener();
  ClientListener(const ClientListener&) = delete;
  ClientListener& operator=(const ClientListener&) = delete;

  // Before Listen (which lowers connections_max to what the file limit allows).
  void SetLimits(const ClientLimits& limits);
  Status Listen(const std::string& host, int port);
  // Before the first connection: TLS and credentials (none by default). Refusals are
  // counted in `refused` (reasons client_password, client_noauth, client_tls), which must
  // outlive the listener.
  void SetAccess(ClientAccess access, AuthCounters* refused) {
    access_ = std::move(access);
    refused_ = refused;
  }

  // Appends this listener's poll items (the listening socket, then each connection) for
  // zmq_poll; OnPolled takes the same items back with their revents.
  void AddPollItems(std::vector<zmq_pollitem_t>* items);
  // Accepts, reads and writes. Each whole frame goes to on_frame with its connection's
  // route; a connection that breaks the framing is closed and goes to on_error.
  using FrameFn = std::function<void(const std::string& route, std::string frame)>;
  using ErrorFn = std::function<void(const std::string& why)>;
  void OnPolled(const zmq_pollitem_t* items, const FrameFn& on_frame, const ErrorFn& on_error);

  // Queues a frame to the connection that route names; a closed one drops it (its client
  // retries on another connection). Flush writes them: one write per connection for all
  // the replies of one turn of the event loop.
  void Send(const std::string& route, std::string_view frame);
  void Flush();

  size_t connections() const { return streams_.size(); }

  // Closes the connections that broke the idle or partial-frame bound by now_us. Call once
  // per turn of the event loop, after OnPolled, with a monotonic time: a connection's clock
  // starts at the first call that sees it.
  void EnforceLimits(int64_t now_us, const ErrorFn& on_error);
  const ClientLimitCounters& limit_counters() const { return limit_counters_; }
  size_t connections_max() const { return connections_max_; }

 private:
  void Accept(const ErrorFn& on_error);
  void Close(std::map<uint64_t, std::unique_ptr<FrameStream>>::iterator it,
             const ErrorFn& on_error);
  // The frames of a connection that has not authenticated yet: an Auth frame with the right
  // password admits it; anything else is answered and the connection finished.
  void Authenticate(uint64_t id, FrameStream& stream, const std::string& frame);
  void Refused(const char* reason);

  // What EnforceLimits knows of a connection: when it last completed a frame (or was first
  // seen), and since when a frame has stood unfinished (0: none).
  struct Activity {
    uint64_t frames = 0;  // the stream's frames_read() when last looked at
    int64_t last_frame_us = 0;
    int64_t partial_since_us = 0;
  };
  // The reason a connection breaks a bound by now_us, or nullptr.
  const char* Expired(Activity& activity, const FrameStream& stream, int64_t now_us);
  // Closes the connections holding the most unfinished input while all of them together hold
  // more than input_bytes_max; returns how many it closed.
  uint64_t EnforceInputBytes();

  static constexpr int64_t kEnforceEveryUs = 10000;

  size_t frame_bytes_max_;
  int listen_fd_ = -1;
  ClientLimits limits_;
  int64_t enforced_us_ = 0;
  ClientLimitCounters limit_counters_;
  std::map<uint64_t, Activity> activity_;  // by connection id, as streams_
  size_t connections_max_ = kConnectionsMax;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::unique_ptr<FrameStream>> streams_;  // by connection id
  std::vector<uint64_t> polled_;     // the connection behind each poll item after the first
  std::vector<uint64_t> unflushed_;  // connections with frames queued since the last Flush
  ClientAccess access_;
  AuthCounters* refused_ = nullptr;
  std::set<uint64_t> unauthenticated_;  // connections whose first frame must be an Auth
};

}  // namespace duplex
