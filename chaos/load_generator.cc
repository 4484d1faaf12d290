#include "chaos/load_generator.h"

#include <poll.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <random>

#include "common/clock.h"
#include "replica/frame.h"
#include "replica/frame_stream.h"

namespace duplex {
namespace {

constexpr size_t kFrameBytesMax = 16 << 20;

struct Connection {
  std::unique_ptr<FrameStream> stream;
  uint64_t client_id = 0;
  uint64_t next_seq = 1;
  std::deque<std::pair<uint64_t, int64_t>> in_flight;  // (seq, sent_us)
};

// Opens every connection of the load: TLS handshakes done and the Auth frame queued, as the
// options ask.
Status Connect(const LoadOptions& o, std::mt19937_64& rng, std::vector<Connection>* conns) {
  std::shared_ptr<TlsContext> tls;
  std::string host;
  if (!o.tls_ca_file.empty()) {
    int port = 0;
    DUPLEX_RETURN_IF_ERROR(ParseTcpEndpoint(o.endpoint, &host, &port));
    auto ctx = TlsContext::Client({o.tls_ca_file, "", ""});
    if (!ctx.ok()) return ctx.status();
    tls = std::move(ctx).value();
  }
  for (auto& c : *conns) {
    auto fd = ConnectTcp(o.endpoint, o.timeout_ms);
    if (!fd.ok()) return fd.status();
    c.stream = std::make_unique<FrameStream>(*fd, kFrameBytesMax);
    c.client_id = rng() | 1;
    if (tls != nullptr) {
      auto session = TlsSession::Connect(*tls, *fd, host);
      if (!session.ok()) return session.status();
      Status shaken = (*session)->Handshake(o.timeout_ms);
      if (!shaken.ok()) {
        return Unavailable("load connection to " + o.endpoint + ": " + shaken.message());
      }
      c.stream->UseTls(std::move(session).value());
    }
    if (!o.password.empty()) c.stream->Queue(EncodeFrame(Auth{c.client_id, o.password}));
  }
  return Status::Ok();
}

}  // namespace

std::string KeyName(const std::string& prefix, uint64_t n, int key_bytes) {
  std::string number = std::to_string(n);
  size_t width = static_cast<size_t>(std::max(0, key_bytes));
  if (prefix.size() + number.size() < width) {
    number.insert(0, width - prefix.size() - number.size(), '0');
  }
  return prefix + number;
}

StatusOr<LoadResult> RunLoad(const LoadOptions& o) {
  std::mt19937_64 rng(std::random_device{}());
  std::vector<Connection> conns(static_cast<size_t>(o.connections));
  DUPLEX_RETURN_IF_ERROR(Connect(o, rng, &conns));
  std::string value(static_cast<size_t>(o.value_bytes), 'x');
  SteadyClock clock;
  uint64_t next_key = 0;
  auto send = [&](Connection& c) {
    if (o.total_ops > 0 && next_key >= o.total_ops) return;
    uint64_t key = o.total_ops > 0 ? next_key++ : rng() % o.key_space;
    Request r{c.client_id, c.next_seq++, "PUT", {KeyName(o.key_prefix, key, o.key_bytes), value}};
    c.stream->Queue(EncodeFrame(r));  // written by the Flush after this turn
    c.in_flight.emplace_back(r.request_seq, clock.NowUs());
  };
  LoadResult out;
  int64_t start = clock.NowUs();
  int64_t end = start + static_cast<int64_t>(o.seconds * 1e6);
  for (auto& c : conns) {
    for (int i = 0; i < o.pipeline; ++i) send(c);
    c.stream->Flush();
  }
  int64_t last_timeout_check = start;
  std::vector<pollfd> fds;
  for (auto& c : conns) fds.push_back({c.stream->fd(), POLLIN, 0});
  while (clock.NowUs() < end && (o.total_ops == 0 || out.ok + out.errors < o.total_ops)) {
    for (size_t i = 0; i < conns.size(); ++i) {
      fds[i].events = POLLIN | (conns[i].stream->WantsWrite() ? POLLOUT : 0);
    }
    if (::poll(fds.data(), fds.size(), 10) < 0) continue;
    int64_t now = clock.NowUs();
    bool check_timeouts = now - last_timeout_check >= 10000;
    if (check_timeouts) last_timeout_check = now;
    for (size_t i = 0; i < conns.size(); ++i) {
      Connection& c = conns[i];
      if (fds[i].revents & POLLOUT) c.stream->Flush();
      if (fds[i].revents & ~POLLOUT) c.stream->Read();
      // Frames first: a refusal (WRONGPASS) arrives just before the replica closes.
      while (auto bytes = c.stream->NextFrame()) {
        auto frame = DecodeFrame(*bytes, kFrameBytesMax);
        auto* reply = frame.ok() ? std::get_if<ClientReply>(&*frame) : nullptr;
        if (reply != nullptr && reply->request_seq == 0 && reply->response.code != Code::kOk) {
          // Seq 0: the replica refused the connection's Auth (WRONGPASS).
          return Unavailable("load connection to " + o.endpoint + ": " + reply->response.message);
        }
        if (reply == nullptr || c.in_flight.empty() ||
            reply->request_seq != c.in_flight.front().first) {
          continue;
        }
        if (reply->response.code == Code::kOk) {
          ++out.ok;
          out.latency_ms.push_back((now - c.in_flight.front().second) / 1000.0);
        } else {
          ++out.errors;
          if (out.first_error.empty()) out.first_error = reply->response.message;
        }
        c.in_flight.pop_front();
        if (now < end) send(c);
      }
      if (!c.stream->status().ok()) {
        return Unavailable("load connection to " + o.endpoint + ": " +
                           c.stream->status().message());
      }
      // A request lost (e.g. to a dying replica) would stall this connection: time it out.
      while (check_timeouts && !c.in_flight.empty() &&
             now - c.in_flight.front().second > o.timeout_ms * 1000) {
        ++out.timeouts;
        c.in_flight.pop_front();
        if (now < end) send(c);
      }
      c.stream->Flush();
    }
  }
  out.seconds = (clock.NowUs() - start) / 1e6;
  return out;
}

}  // namespace duplex
