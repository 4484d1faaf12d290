#include "replica/client.h"

#include <poll.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>

#include "common/clock.h"
#include "replica/frame.h"
#include "replica/frame_stream.h"

namespace duplex {
namespace {

uint64_t RandomId() {
  std::random_device rd;
  uint64_t id = (static_cast<uint64_t>(rd()) << 32) | rd();
  return id == 0 ? 1 : id;
}

constexpr size_t kNoWatch = SIZE_MAX;

}  // namespace

struct Client::Impl {
  explicit Impl(ClientOptions o) : options(std::move(o)), streams(options.endpoints.size()) {
    if (options.client_id == 0) options.client_id = RandomId();
  }

  // A live connection to replica index, made now if there is none (a refused connect to a
  // dead replica on loopback fails at once).
  FrameStream* Connected(size_t index) {
    auto& stream = streams[index];
    if (stream && !stream->status().ok()) stream.reset();
    if (!stream) {
      auto fd = ConnectTcp(options.endpoints[index], options.attempt_timeout_ms);
      if (!fd.ok()) {
        connect_error = fd.status().message();
        return nullptr;
      }
      stream = std::make_unique<FrameStream>(*fd, options.max_frame_bytes);
    }
    return stream.get();
  }

  bool Send(size_t index, const Request& request) {
    FrameStream* stream = Connected(index);
    if (stream == nullptr) return false;
    stream->Send(EncodeFrame(request));
    return stream->status().ok();
  }

  // Waits up to timeout_ms for the reply to (client_id, seq) from any replica. Returns the
  // reply, or nullopt on timeout or when the connection to `watch` breaks. Without a seq,
  // it only sleeps, discarding what arrives.
  std::optional<ClientReply> Wait(std::optional<uint64_t> seq, int timeout_ms, size_t watch,
                                  size_t* from) {
    int64_t deadline = clock.NowMs() + timeout_ms;
    std::vector<pollfd> fds;
    std::vector<size_t> index;
    for (int64_t left = timeout_ms; left >= 0; left = deadline - clock.NowMs()) {
      fds.clear();
      index.clear();
      for (size_t i = 0; i < streams.size(); ++i) {
        if (!streams[i] || !streams[i]->status().ok()) continue;
        short events = POLLIN | (streams[i]->WantsWrite() ? POLLOUT : 0);
        fds.push_back({streams[i]->fd(), events, 0});
        index.push_back(i);
      }
      if (watch != kNoWatch && (!streams[watch] || !streams[watch]->status().ok())) {
        return std::nullopt;  // the replica went away: retry elsewhere at once
      }
      if (::poll(fds.data(), fds.size(), static_cast<int>(left)) <= 0) continue;
      for (size_t k = 0; k < fds.size(); ++k) {
        if (fds[k].revents == 0) continue;
        FrameStream& stream = *streams[index[k]];
        if (fds[k].revents & POLLOUT) stream.Flush();
        if (fds[k].revents & ~POLLOUT) stream.Read();
        while (auto bytes = stream.NextFrame()) {
          auto frame = DecodeFrame(*bytes, options.max_frame_bytes);
          auto* reply = frame.ok() ? std::get_if<ClientReply>(&*frame) : nullptr;
          if (reply != nullptr && seq && reply->client_id == options.client_id &&
              reply->request_seq == *seq) {
            *from = index[k];
            return *reply;
          }  // else garbage, or a late answer to an earlier attempt: skip it
        }
      }
    }
    return std::nullopt;
  }

  size_t HintIndex(const std::string& hint, size_t from_index) const {
    for (size_t i = 0; i < options.endpoints.size(); ++i) {
      if (options.endpoints[i] == hint && i != from_index) return i;
    }
    return (from_index + 1) % streams.size();
  }

  // Sleeps up to ms (bounded by deadline).
  void Pause(int ms, int64_t deadline) {
    int64_t until = std::min<int64_t>(deadline, clock.NowMs() + ms);
    size_t ignored;
    if (until > clock.NowMs()) {
      Wait(std::nullopt, static_cast<int>(until - clock.NowMs()), kNoWatch, &ignored);
    }
  }

  ClientOptions options;
  std::vector<std::unique_ptr<FrameStream>> streams;  // one per endpoint; null: not connected
  std::string connect_error;
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
  if (c.streams.empty()) return InvalidArgument("client has no replica endpoints");
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
      last_error = c.connect_error;
      c.current = (target + 1) % c.streams.size();
      if (c.current == first) c.Pause(backoff_ms, deadline);
      backoff_ms = std::min(backoff_ms * 2, c.options.max_backoff_ms);
      continue;
    }
    auto reply = c.Wait(request.request_seq, c.options.attempt_timeout_ms, target, &from);
    if (!reply) {
      last_error = "no answer from " + c.options.endpoints[target];
      c.current = (target + 1) % c.streams.size();
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
  if (replica_index >= c.streams.size())
    return InvalidArgument("no replica " + std::to_string(replica_index));
  // Admin reads use seq 0 with a private marker so they never match a call's reply.
  Request request{c.options.client_id, 0, op, std::move(args)};
  int64_t deadline = c.clock.NowMs() + timeout_ms;
  while (!c.Send(replica_index, request)) {  // a new socket connects in the background
    if (c.clock.NowMs() >= deadline) {
      return Unavailable(c.connect_error);
    }
    c.Pause(2, deadline);
  }
  size_t from = replica_index;
  auto reply = c.Wait(0, timeout_ms, replica_index, &from);
  if (!reply) return Unavailable("no answer from " + c.options.endpoints[replica_index]);
  return reply->response;
}

}  // namespace duplex
