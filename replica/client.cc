#include "replica/client.h"

#include <poll.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>

#include "common/clock.h"
#include "replica/frame.h"
#include "replica/frame_stream.h"
#include "replica/tls.h"

namespace duplex {
namespace {

uint64_t RandomId() {
  std::random_device rd;
  uint64_t id = (static_cast<uint64_t>(rd()) << 32) | rd();
  return id == 0 ? 1 : id;
}

constexpr size_t kNoWatch = SIZE_MAX;
// The first pause after a round of replicas without an active; it grows by half up to
// ClientOptions::backoff_ms_max. Small, and slow to grow: a crash failover completes in a
// few ms, and a client that sleeps 8 ms after its first rounds adds most of the
// unavailability (it did, doubling from 1 ms: 11.5 ms where the new active was ready
// after about 4).
constexpr int64_t kFirstBackoffUs = 250;

}  // namespace

struct Client::Impl {
  explicit Impl(ClientOptions o) : options(std::move(o)), streams(options.endpoints.size()) {
    if (options.client_id == 0) options.client_id = RandomId();
    if (!options.tls_ca_file.empty()) {
      auto ctx =
          TlsContext::Client({options.tls_ca_file, options.tls_cert_file, options.tls_key_file});
      if (ctx.ok()) tls = std::move(ctx).value();
      if (!ctx.ok()) tls_error = ctx.status().message();
    }
  }

  // Wraps a fresh connection in TLS and queues its Auth frame, as the options ask.
  bool Secure(FrameStream& stream, size_t index) {
    if (!tls_error.empty()) {
      connect_error = tls_error;
      return false;
    }
    if (tls != nullptr) {
      std::string host;
      int port = 0;
      Status parsed = ParseTcpEndpoint(options.endpoints[index], &host, &port);
      auto session = parsed.ok() ? TlsSession::Connect(*tls, stream.fd(), host)
                                 : StatusOr<std::unique_ptr<TlsSession>>(parsed);
      if (!session.ok()) {
        connect_error = session.status().message();
        return false;
      }
      stream.UseTls(std::move(session).value());
    }
    if (!options.password.empty() || !options.tls_cert_file.empty()) {
      stream.Queue(EncodeFrame(Auth{options.client_id, options.password}));
    }
    return true;
  }

  // A live connection to replica index, made now if there is none (a refused connect to a
  // dead replica on loopback fails at once).
  FrameStream* Connected(size_t index) {
    auto& stream = streams[index];
    if (stream && !stream->status().ok()) stream.reset();
    if (!stream) {
      auto fd =
          ConnectTcp(options.endpoints[index], options.attempt_timeout_ms, options.source_address);
      if (!fd.ok()) {
        connect_error = fd.status().message();
        return nullptr;
      }
      stream = std::make_unique<FrameStream>(*fd, options.frame_bytes_max);
      if (!Secure(*stream, index)) {
        stream.reset();
        return nullptr;
      }
    }
    return stream.get();
  }

  bool Send(size_t index, const Frame& frame) {
    FrameStream* stream = Connected(index);
    if (stream == nullptr) return false;
    stream->Send(EncodeFrame(frame));
    return stream->status().ok();
  }

  // Waits up to timeout_us for the reply to (client_id, seq) from any replica. Returns the
  // reply, or nullopt on timeout or when the connection to `watch` breaks. Without a seq,
  // it only sleeps, discarding what arrives.
  std::optional<ClientReply> Wait(std::optional<uint64_t> seq, int64_t timeout_us, size_t watch,
                                  size_t* from) {
    auto answers = [&](const Frame& f) {
      auto* reply = std::get_if<ClientReply>(&f);
      // Request seq 0 with an error: the replica refused this client's Auth (WRONGPASS).
      return reply != nullptr && seq && reply->client_id == options.client_id &&
             (reply->request_seq == *seq ||
              (reply->request_seq == 0 && reply->response.code != Code::kOk));
    };
    auto frame = WaitFor(answers, timeout_us, watch, from);
    if (!frame) return std::nullopt;
    return std::get<ClientReply>(*frame);
  }

  // Waits up to timeout_us for a frame `answers` accepts, from any replica; nullopt on
  // timeout or when the connection to `watch` breaks. Other frames (garbage, late answers
  // to earlier attempts) are skipped.
  template <typename Answers>
  std::optional<Frame> WaitFor(const Answers& answers, int64_t timeout_us, size_t watch,
                               size_t* from) {
    int64_t deadline = clock.NowUs() + timeout_us;
    std::vector<pollfd> fds;
    std::vector<size_t> index;
    for (int64_t left = timeout_us; left >= 0; left = deadline - clock.NowUs()) {
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
      timespec wait{static_cast<time_t>(left / 1000000), static_cast<long>(left % 1000000) * 1000};
      if (::ppoll(fds.data(), fds.size(), &wait, nullptr) <= 0) continue;
      for (size_t k = 0; k < fds.size(); ++k) {
        if (fds[k].revents == 0) continue;
        FrameStream& stream = *streams[index[k]];
        if (fds[k].revents & POLLOUT) stream.Flush();
        if (fds[k].revents & ~POLLOUT) stream.Read();
        while (auto bytes = stream.NextFrame()) {
          auto frame = DecodeFrame(*bytes, options.frame_bytes_max);
          if (frame.ok() && answers(*frame)) {
            *from = index[k];
            return std::move(frame).value();
          }
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

  // Sleeps up to us (bounded by deadline_ms).
  void Pause(int64_t us, int64_t deadline_ms) {
    int64_t left = std::min(deadline_ms * 1000, clock.NowUs() + us) - clock.NowUs();
    size_t ignored;
    if (left > 0) Wait(std::nullopt, left, kNoWatch, &ignored);
  }

  ClientOptions options;
  std::vector<std::unique_ptr<FrameStream>> streams;  // one per endpoint; null: not connected
  std::string connect_error;
  SteadyClock clock;
  std::shared_ptr<TlsContext> tls;  // null: plain TCP
  std::string tls_error;            // the options' TLS files could not be loaded
  size_t current = 0;
  uint64_t request_seq = 0;
  uint64_t admin_id = 0;
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
  int64_t backoff_us = kFirstBackoffUs;
  // After a full round without an active (a failover is under way): pause, bounded.
  auto back_off = [&] {
    c.Pause(backoff_us, deadline);
    backoff_us = std::min<int64_t>(backoff_us * 3 / 2, c.options.backoff_ms_max * 1000);
  };
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
      if (c.current == first) back_off();
      continue;
    }
    auto reply =
        c.Wait(request.request_seq, c.options.attempt_timeout_ms * int64_t{1000}, target, &from);
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
    if (c.current == first || code == Code::kUnavailable) back_off();
  }
  return Unavailable("request " + std::to_string(request.request_seq) + " (" + op +
                     "): no active replica answered within " +
                     std::to_string(c.options.deadline_ms) + " ms; last: " + last_error);
}

StatusOr<AdminReply> Client::Admin(size_t replica_index, AdminRequest request, int timeout_ms,
                                   bool legacy_ops) {
  Impl& c = *impl_;
  if (replica_index >= c.streams.size())
    return InvalidArgument("no replica " + std::to_string(replica_index));
  request.id = ++c.admin_id;
  // Legacy ops use seq 0, which no call's reply carries.
  Frame frame = legacy_ops ? Frame(AdminAsClientOp(request, c.options.client_id)) : Frame(request);
  int64_t deadline = c.clock.NowMs() + timeout_ms;
  while (!c.Send(replica_index, frame)) {  // refused: the replica may be (re)starting
    if (c.clock.NowMs() >= deadline) return Unavailable(c.connect_error);
    c.Pause(2000, deadline);
  }
  uint64_t client_id = c.options.client_id, id = request.id;
  auto answers = [&](const Frame& f) {
    if (legacy_ops) {
      auto* r = std::get_if<ClientReply>(&f);
      return r != nullptr && r->client_id == client_id && r->request_seq == 0;
    }
    if (auto* refused = std::get_if<ClientReply>(&f)) {  // the replica refused the Auth
      return refused->client_id == client_id && refused->request_seq == 0 &&
             refused->response.code != Code::kOk;
    }
    auto* r = std::get_if<AdminReply>(&f);
    return r != nullptr && r->id == id;  // an earlier, timed-out request's answer is skipped
  };
  size_t from = replica_index;
  auto reply = c.WaitFor(answers, timeout_ms * int64_t{1000}, replica_index, &from);
  if (!reply) return Unavailable("no answer from " + c.options.endpoints[replica_index]);
  if (auto* refused = std::get_if<ClientReply>(&*reply); refused != nullptr && !legacy_ops) {
    return AdminAnswer(id, refused->response.code, refused->response.message);
  }
  if (!legacy_ops) return std::get<AdminReply>(*reply);
  return AdminFromClientAnswer(request, std::get<ClientReply>(*reply).response);
}

}  // namespace duplex
