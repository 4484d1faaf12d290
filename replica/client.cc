#include "replica/client.h"

#include <zmq.h>

#include <atomic>
#include <chrono>
#include <random>

#include "common/clock.h"
#include "replica/frame.h"

namespace duplex {
namespace {

// One ZeroMQ context (and I/O thread) per process, shared by every Client: a
// context per client costs a thread each, which dominates with many clients.
void* SharedContext() {
  static void* ctx = [] {
    void* c = zmq_ctx_new();
    zmq_ctx_set(c, ZMQ_BLOCKY, 0);
    return c;
  }();
  return ctx;
}

uint64_t RandomId() {
  std::random_device rd;
  uint64_t id = (static_cast<uint64_t>(rd()) << 32) | rd();
  return id == 0 ? 1 : id;
}

}  // namespace

struct Client::Impl {
  struct Replica {
    void* socket = nullptr;
    void* monitor = nullptr;  // ZMQ_EVENT_DISCONNECTED: the replica went away, retry at once
  };

  explicit Impl(ClientOptions o) : options(std::move(o)), ctx(SharedContext()) {
    if (options.client_id == 0) options.client_id = RandomId();
    static std::atomic<uint64_t> monitor_counter{0};
    for (const auto& endpoint : options.endpoints) {
      Replica r;
      r.socket = zmq_socket(ctx, ZMQ_DEALER);
      int zero = 0, one = 1;
      int64_t max_msg = static_cast<int64_t>(options.max_frame_bytes);
      zmq_setsockopt(r.socket, ZMQ_LINGER, &zero, sizeof(zero));
      zmq_setsockopt(r.socket, ZMQ_IMMEDIATE, &one, sizeof(one));  // no queueing to the dead
      zmq_setsockopt(r.socket, ZMQ_MAXMSGSIZE, &max_msg, sizeof(max_msg));
      std::string mon = "inproc://duplex-client-monitor-" + std::to_string(monitor_counter++);
      zmq_socket_monitor(r.socket, mon.c_str(), ZMQ_EVENT_DISCONNECTED);
      r.monitor = zmq_socket(ctx, ZMQ_PAIR);
      zmq_setsockopt(r.monitor, ZMQ_LINGER, &zero, sizeof(zero));
      zmq_connect(r.monitor, mon.c_str());
      zmq_connect(r.socket, endpoint.c_str());
      replicas.push_back(r);
    }
  }

  ~Impl() {
    for (auto& r : replicas) {
      zmq_socket_monitor(r.socket, nullptr, 0);
      zmq_close(r.monitor);
      zmq_close(r.socket);
    }
  }

  bool Send(size_t index, const Request& request) {
    std::string bytes = EncodeFrame(request);
    return zmq_send(replicas[index].socket, bytes.data(), bytes.size(), ZMQ_DONTWAIT) >= 0;
  }

  void DrainMonitor(size_t index, bool* disconnected) {
    for (;;) {
      zmq_msg_t msg;
      zmq_msg_init(&msg);
      int rc = zmq_msg_recv(&msg, replicas[index].monitor, ZMQ_DONTWAIT);
      zmq_msg_close(&msg);
      if (rc < 0) return;
      *disconnected = true;  // event frames come in pairs; any frame means a disconnect
    }
  }

  // Waits up to timeout_ms for the reply to (client_id, seq) from any replica.
  // Returns the reply, or nullopt on timeout or when `watch` disconnected.
  std::optional<ClientReply> Wait(uint64_t seq, int timeout_ms, size_t watch, size_t* from) {
    int64_t deadline = clock.NowMs() + timeout_ms;
    std::vector<zmq_pollitem_t> items;
    for (auto& r : replicas) items.push_back({r.socket, 0, ZMQ_POLLIN, 0});
    items.push_back({replicas[watch].monitor, 0, ZMQ_POLLIN, 0});
    for (int64_t left = timeout_ms; left >= 0; left = deadline - clock.NowMs()) {
      if (zmq_poll(items.data(), static_cast<int>(items.size()), static_cast<long>(left)) < 0) {
        continue;  // EINTR
      }
      bool disconnected = false;
      if (items.back().revents & ZMQ_POLLIN) DrainMonitor(watch, &disconnected);
      for (size_t i = 0; i < replicas.size(); ++i) {
        if (!(items[i].revents & ZMQ_POLLIN)) continue;
        while (auto reply = RecvReply(i)) {
          if (reply->client_id == options.client_id && reply->request_seq == seq) {
            *from = i;
            return reply;
          }
        }
      }
      if (disconnected) return std::nullopt;
    }
    return std::nullopt;
  }

  std::optional<ClientReply> RecvReply(size_t index) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, replicas[index].socket, ZMQ_DONTWAIT) < 0) {
      zmq_msg_close(&msg);
      return std::nullopt;
    }
    std::string_view bytes(static_cast<const char*>(zmq_msg_data(&msg)), zmq_msg_size(&msg));
    auto frame = DecodeFrame(bytes, options.max_frame_bytes);
    zmq_msg_close(&msg);
    if (!frame.ok()) return ClientReply{};  // garbage from a replica: skip it
    if (auto* r = std::get_if<ClientReply>(&*frame)) return *r;
    return ClientReply{};
  }

  size_t HintIndex(const std::string& hint, size_t from_index) const {
    for (size_t i = 0; i < options.endpoints.size(); ++i) {
      if (options.endpoints[i] == hint && i != from_index) return i;
    }
    return (from_index + 1) % replicas.size();
  }

  // Sleeps up to ms (bounded by deadline) while draining nothing in particular.
  void Pause(int ms, int64_t deadline) {
    int64_t until = std::min<int64_t>(deadline, clock.NowMs() + ms);
    size_t ignored;
    if (until > clock.NowMs()) Wait(0, static_cast<int>(until - clock.NowMs()), 0, &ignored);
  }

  ClientOptions options;
  void* ctx;
  std::vector<Replica> replicas;
  SteadyClock clock;
  size_t current = 0;
  uint64_t request_seq = 0;
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() = default;

uint64_t Client::client_id() const { return impl_->options.client_id; }
uint64_t Client::last_request_seq() const { return impl_->request_seq; }
size_t Client::active_index() const { return impl_->current; }

StatusOr<Response> Client::Call(const std::string& op, std::vector<std::string> args,
                                CallStats* stats) {
  Impl& c = *impl_;
  if (c.replicas.empty()) return InvalidArgument("client has no replica endpoints");
  Request request{c.options.client_id, ++c.request_seq, op, std::move(args)};
  int64_t deadline = c.clock.NowMs() + c.options.deadline_ms;
  size_t first = c.current;
  int backoff_ms = 1;
  std::string last_error = "no answer";
  CallStats local;
  CallStats& st = stats != nullptr ? *stats : local;
  while (c.clock.NowMs() < deadline) {
    ++st.attempts;
    size_t target = c.current;
    size_t from = target;
    if (!c.Send(target, request)) {
      last_error = "not connected to " + c.options.endpoints[target];
      c.current = (target + 1) % c.replicas.size();
      if (c.current == first) c.Pause(backoff_ms, deadline);
      backoff_ms = std::min(backoff_ms * 2, c.options.max_backoff_ms);
      continue;
    }
    auto reply = c.Wait(request.request_seq, c.options.attempt_timeout_ms, target, &from);
    if (!reply) {
      last_error = "no answer from " + c.options.endpoints[target];
      c.current = (target + 1) % c.replicas.size();
      continue;
    }
    Code code = reply->response.code;
    if (code != Code::kNotActive && code != Code::kUnavailable) {
      c.current = from;
      st.failed_over = from != first;
      return reply->response;
    }
    last_error = reply->response.message;
    c.current = c.HintIndex(reply->active_hint, from);
    if (c.current == first || code == Code::kUnavailable) {
      // A full round without an active: a failover is under way. Back off, bounded.
      c.Pause(backoff_ms, deadline);
      backoff_ms = std::min(backoff_ms * 2, c.options.max_backoff_ms);
    }
  }
  return Unavailable("request " + std::to_string(request.request_seq) + " (" + op +
                     "): no active replica answered within " +
                     std::to_string(c.options.deadline_ms) + " ms; last: " + last_error);
}

StatusOr<Response> Client::Ask(size_t replica_index, const std::string& op,
                               std::vector<std::string> args, int timeout_ms) {
  Impl& c = *impl_;
  if (replica_index >= c.replicas.size())
    return InvalidArgument("no replica " + std::to_string(replica_index));
  // Admin reads use seq 0 with a private marker so they never match a call's reply.
  Request request{c.options.client_id, 0, op, std::move(args)};
  int64_t deadline = c.clock.NowMs() + timeout_ms;
  while (!c.Send(replica_index, request)) {  // a new socket connects in the background
    if (c.clock.NowMs() >= deadline) {
      return Unavailable("not connected to " + c.options.endpoints[replica_index]);
    }
    c.Pause(2, deadline);
  }
  size_t from = replica_index;
  auto reply = c.Wait(0, timeout_ms, replica_index, &from);
  if (!reply) return Unavailable("no answer from " + c.options.endpoints[replica_index]);
  return reply->response;
}

}  // namespace duplex
