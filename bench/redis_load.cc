#include "bench/redis_load.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <random>

#include "bench/redis_client.h"
#include "bench/resp.h"
#include "chaos/workload.h"
#include "common/clock.h"

namespace duplex::bench {

namespace {

constexpr int kPollMs = 10;                   // RunRedisLoad's poll, as RunLoad's
constexpr size_t kAbandonedPerConnMax = 256;  // timed-out requests whose replies may still come
constexpr int kReadBackBatch = 1000;          // CountLost: GETs per pipelined batch
constexpr int kReadBackTimeoutMs = 10000;     // CountLost: per batch
constexpr int kLagProbeTimeoutMs = 5000;      // MeasureLagMs: per sample
constexpr int kLagCallTimeoutMs = 2000;       // MeasureLagMs: per SET or GET

// A request on a RESP connection, answered in the order sent. With wait_replica it has two
// replies: SET's, then WAIT's.
struct Request {
  int64_t sent_us = 0;
  int replies_left = 1;
  bool timed_out = false;  // counted already; its reply, if it comes, is dropped
  std::string set_error;   // wait_replica: SET's error, reported when WAIT answers
};

struct Conn {
  int fd = -1;
  bool connecting = false;
  std::unique_ptr<TlsSession> tls;  // with RedisLoadOptions::tls, once connected
  bool read_wants_write = false;    // TLS: the last read needs the socket writable
  RespParser parser;
  std::string out;                // bytes not yet written
  std::deque<Request> in_flight;  // sent on this connection
  std::deque<int64_t> orphans;    // sent on a connection since broken: they can only time out
};

// The state of one RunRedisLoad call. Mirrors RunLoad (chaos/load_generator.cc) step for
// step; the differences come from RESP having no request ids: replies are matched by order,
// and a connection that breaks leaves its requests to time out.
class LoadRun {
 public:
  explicit LoadRun(const RedisLoadOptions& o)
      : o_(o),
        conns_(static_cast<size_t>(o.connections)),
        rng_(std::random_device{}()),
        value_(static_cast<size_t>(o.value_bytes), 'x') {}
  ~LoadRun() {
    for (Conn& c : conns_) Break(c);
  }

  StatusOr<LoadResult> Run();

 private:
  bool Open(Conn& c);
  bool StartTls(Conn& c);
  Status ConnectAll();
  // One send or receive, through TLS when on: bytes moved, 0 when it would block, -1 when the
  // connection is lost.
  long SendSome(Conn& c, const char* data, size_t size);
  long RecvSome(Conn& c, char* buffer, size_t size);
  void Send(Conn& c);
  void Flush(Conn& c);
  void Break(Conn& c);
  void Read(Conn& c, int64_t now);
  void OnReply(Conn& c, const RespValue& v, int64_t now);
  void ExpireTimeouts(Conn& c, int64_t now);
  void Service(Conn& c, short revents, int64_t now);

  const RedisLoadOptions& o_;
  std::vector<Conn> conns_;
  std::mt19937_64 rng_;
  std::string value_;
  uint64_t next_key_ = 0;
  int64_t end_us_ = 0;
  LoadResult out_;
};

// Starts a non-blocking connect; false when it failed at once.
bool LoadRun::Open(Conn& c) {
  c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) return false;
  int one = 1;
  ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(o_.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return StartTls(c);
  if (errno == EINPROGRESS) {
    c.connecting = true;
    return true;
  }
  Break(c);
  return false;
}

// On a connected socket, with TLS on: the handshake, to completion (bounded by timeout_ms).
// False when it failed (the connection is dropped).
bool LoadRun::StartTls(Conn& c) {
  if (o_.tls == nullptr) return true;
  auto session = TlsSession::Connect(*o_.tls, c.fd, "127.0.0.1");
  if (session.ok() && (*session)->Handshake(o_.timeout_ms).ok()) {
    c.tls = std::move(session).value();
    return true;
  }
  Break(c);
  errno = ECONNABORTED;
  return false;
}

long LoadRun::SendSome(Conn& c, const char* data, size_t size) {
  if (c.tls != nullptr) {
    TlsSession::Io io = c.tls->Write(data, size);
    if (io.bytes > 0) return static_cast<long>(io.bytes);
    const bool blocked =
        io.state == TlsSession::State::kWantRead || io.state == TlsSession::State::kWantWrite;
    return blocked ? 0 : -1;
  }
  for (;;) {
    const ssize_t n = ::send(c.fd, data, size, MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    if (errno != EINTR) return -1;
  }
}

long LoadRun::RecvSome(Conn& c, char* buffer, size_t size) {
  if (c.tls != nullptr) {
    TlsSession::Io io = c.tls->Read(buffer, size);
    c.read_wants_write = io.state == TlsSession::State::kWantWrite;
    if (io.bytes > 0) return static_cast<long>(io.bytes);
    return io.state == TlsSession::State::kWantRead || c.read_wants_write ? 0 : -1;
  }
  for (;;) {
    const ssize_t n = ::recv(c.fd, buffer, size, 0);
    if (n > 0) return n;
    if (n == 0) return -1;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    if (errno != EINTR) return -1;
  }
}

Status LoadRun::ConnectAll() {
  const int64_t deadline = NowUs() + int64_t{o_.timeout_ms} * 1000;
  for (Conn& c : conns_) {
    int err = Open(c) ? 0 : errno;
    while (err == 0 && c.connecting) {
      pollfd p{c.fd, POLLOUT, 0};
      const int64_t left_ms = (deadline - NowUs()) / 1000;
      if (left_ms <= 0) {
        err = ETIMEDOUT;
      } else if (::poll(&p, 1, static_cast<int>(left_ms)) > 0) {
        socklen_t len = sizeof(err);
        ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        c.connecting = false;
        if (err == 0 && !StartTls(c)) err = ECONNABORTED;
      }
    }
    if (err != 0) {
      return Unavailable("RunRedisLoad: " + Address(o_.port) + ": connect: " + std::strerror(err));
    }
  }
  return Status::Ok();
}

void LoadRun::Send(Conn& c) {
  if (o_.total_ops > 0 && next_key_ >= o_.total_ops) return;
  const uint64_t key = o_.total_ops > 0 ? next_key_++ : rng_() % o_.key_space;
  const int64_t now = NowUs();
  if (c.fd < 0 && !Open(c)) {
    c.orphans.push_back(now);  // nothing listens: it times out, and its replacement retries
    return;
  }
  AppendCommand({"SET", KeyName(o_.key_prefix, key, o_.key_bytes), value_}, &c.out);
  if (o_.wait_replica) AppendCommand({"WAIT", "1", "0"}, &c.out);
  Request r;
  r.sent_us = now;
  r.replies_left = o_.wait_replica ? 2 : 1;
  c.in_flight.push_back(std::move(r));
}

void LoadRun::Flush(Conn& c) {
  size_t done = 0;
  while (c.fd >= 0 && !c.connecting && done < c.out.size()) {
    const long n = SendSome(c, c.out.data() + done, c.out.size() - done);
    if (n == 0) break;
    if (n < 0) {
      Break(c);
      return;
    }
    done += static_cast<size_t>(n);
  }
  c.out.erase(0, done);
}

void LoadRun::Break(Conn& c) {
  c.tls.reset();
  c.read_wants_write = false;
  if (c.fd >= 0) ::close(c.fd);
  c.fd = -1;
  c.connecting = false;
  c.parser = RespParser();
  c.out.clear();
  for (const Request& r : c.in_flight) {
    if (!r.timed_out) c.orphans.push_back(r.sent_us);
  }
  c.in_flight.clear();
}

void LoadRun::Read(Conn& c, int64_t now) {
  bool closed = false;
  for (;;) {  // until it would block: TLS may hold decrypted bytes poll() cannot see
    char buffer[65536];
    const long n = RecvSome(c, buffer, sizeof(buffer));
    if (n > 0) {
      c.parser.Feed(std::string_view(buffer, static_cast<size_t>(n)));
      continue;
    }
    closed = n < 0;
    break;
  }
  for (;;) {
    auto next = c.parser.Next();
    if (!next.ok() || !next->has_value() || c.fd < 0) {
      closed = closed || !next.ok();
      break;
    }
    OnReply(c, **next, now);
  }
  if (closed) Break(c);
}

void LoadRun::OnReply(Conn& c, const RespValue& v, int64_t now) {
  if (c.in_flight.empty()) {  // Redis never speaks unasked: the stream is lost
    Break(c);
    return;
  }
  Request& r = c.in_flight.front();
  if (--r.replies_left > 0) {  // SET's reply; WAIT's follows
    if (!v.IsOk()) r.set_error = v.IsError() ? v.text : "SET answered " + v.DebugString();
    return;
  }
  std::string error;
  if (!o_.wait_replica) {
    if (!v.IsOk()) error = v.IsError() ? v.text : "SET answered " + v.DebugString();
  } else if (!r.set_error.empty()) {
    error = r.set_error;
  } else if (v.type != RespValue::Type::kInteger || v.integer < 1) {
    error = v.IsError() ? v.text : "WAIT 1 0 answered " + v.DebugString();
  }
  const Request done = std::move(r);
  c.in_flight.pop_front();
  if (done.timed_out) return;
  if (error.empty()) {
    ++out_.ok;
    out_.latency_ms.push_back((now - done.sent_us) / 1000.0);
  } else {
    ++out_.errors;
    if (out_.first_error.empty()) out_.first_error = error;
  }
  if (now < end_us_) Send(c);
}

// A request unanswered for timeout_ms is a timeout and is replaced, as in RunLoad. It stays in
// line, marked, so that its late reply is not taken for the next request's.
void LoadRun::ExpireTimeouts(Conn& c, int64_t now) {
  const int64_t limit_us = int64_t{o_.timeout_ms} * 1000;
  int expired = 0;
  size_t abandoned = 0;
  for (Request& r : c.in_flight) {
    if (!r.timed_out && now - r.sent_us > limit_us) {
      r.timed_out = true;
      ++expired;
    }
    abandoned += r.timed_out ? 1 : 0;
  }
  while (!c.orphans.empty() && now - c.orphans.front() > limit_us) {
    c.orphans.pop_front();
    ++expired;
  }
  // A server that stopped answering would otherwise collect replacements without bound.
  if (abandoned > kAbandonedPerConnMax) Break(c);
  out_.timeouts += static_cast<uint64_t>(expired);
  for (int i = 0; i < expired && now < end_us_; ++i) Send(c);
}

void LoadRun::Service(Conn& c, short revents, int64_t now) {
  if (c.fd >= 0 && c.connecting && (revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    c.connecting = false;
    if (err != 0) Break(c);
    if (err == 0) (void)StartTls(c);  // a reconnection: drops the connection when it fails
  }
  const bool readable = (revents & (POLLIN | POLLERR | POLLHUP)) != 0 ||
                        (c.read_wants_write && (revents & POLLOUT) != 0);
  if (c.fd >= 0 && !c.connecting && readable) Read(c, now);
  ExpireTimeouts(c, now);
  Flush(c);
}

StatusOr<LoadResult> LoadRun::Run() {
  DUPLEX_RETURN_IF_ERROR(ConnectAll());
  const int64_t start = NowUs();
  end_us_ = start + static_cast<int64_t>(o_.seconds * 1e6);
  for (Conn& c : conns_) {
    for (int i = 0; i < o_.pipeline; ++i) Send(c);
    Flush(c);
  }
  std::vector<pollfd> fds(conns_.size());
  while (NowUs() < end_us_ && (o_.total_ops == 0 || out_.ok + out_.errors < o_.total_ops)) {
    for (size_t i = 0; i < conns_.size(); ++i) {
      const Conn& c = conns_[i];
      const bool want_out = c.connecting || !c.out.empty() || c.read_wants_write;
      fds[i] = {c.fd, static_cast<short>(POLLIN | (want_out ? POLLOUT : 0)), 0};
    }
    if (::poll(fds.data(), fds.size(), kPollMs) < 0 && errno != EINTR) {
      return Internal(std::string("RunRedisLoad: poll: ") + std::strerror(errno));
    }
    const int64_t now = NowUs();
    for (size_t i = 0; i < conns_.size(); ++i) Service(conns_[i], fds[i].revents, now);
  }
  out_.seconds = (NowUs() - start) / 1e6;
  return std::move(out_);
}

}  // namespace

StatusOr<LoadResult> RunRedisLoad(const RedisLoadOptions& options) {
  if (options.connections < 1 || options.pipeline < 1 || options.timeout_ms < 1) {
    return InvalidArgument("RunRedisLoad: connections, pipeline and timeout_ms must be >= 1");
  }
  if (options.total_ops == 0 && options.key_space == 0) {
    return InvalidArgument("RunRedisLoad: key_space must be >= 1");
  }
  LoadRun run(options);
  return run.Run();
}

RedisWriter::RedisWriter(RedisWriterOptions options) : options_(std::move(options)) {}

RedisWriter::~RedisWriter() { Stop(); }

void RedisWriter::Start() {
  stop_ = false;
  for (int i = 0; i < options_.clients; ++i) threads_.emplace_back([this, i] { RunClient(i); });
}

void RedisWriter::Stop() {
  stop_ = true;
  for (auto& t : threads_) t.join();
  threads_.clear();
}

Status RedisWriter::WaitAcked(uint64_t n, int timeout_ms) const {
  const int64_t deadline = NowUs() + int64_t{timeout_ms} * 1000;
  while (acked_.load() < n) {
    if (NowUs() > deadline) {
      return Unavailable("only " + std::to_string(acked_.load()) + " of " + std::to_string(n) +
                         " writes acknowledged within " + std::to_string(timeout_ms) + " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return Status::Ok();
}

std::string RedisWriter::Key(const std::string& prefix, int client, uint64_t n) {
  return prefix + std::to_string(client) + "-" + std::to_string(n);
}

std::string RedisWriter::Value(uint64_t n) { return "v" + std::to_string(n); }

void RedisWriter::RunClient(int index) {
  SentinelView sentinels(options_.sentinel_ports, kSentinelMasterName, options_.tls);
  std::unique_ptr<RedisClient> primary;
  int64_t asked_us = 0;
  const int64_t check_us = int64_t{options_.primary_check_ms} * 1000;
  for (uint64_t n = 0; !stop_.load() && (options_.ops_per_client == 0 ||
                                         n < static_cast<uint64_t>(options_.ops_per_client));
       ++n) {
    RedisAck ack;
    ack.client = index;
    ack.n = n;
    ack.invoke_us = NowUs();
    const std::string key = Key(options_.key_prefix, index, n), value = Value(n);
    while (!stop_.load()) {
      if (primary == nullptr || (check_us > 0 && NowUs() - asked_us >= check_us)) {
        auto port = sentinels.FirstHealthyPrimaryPort(options_.attempt_timeout_ms);
        asked_us = NowUs();
        if (port.ok() && (primary == nullptr || primary->port() != *port)) {
          primary = std::make_unique<RedisClient>(*port, "127.0.0.1", options_.tls);
        }
      }
      if (primary != nullptr) {
        ++ack.attempts;
        auto r = primary->Command({"SET", key, value}, options_.attempt_timeout_ms);
        if (r.ok() && r->IsOk()) {
          ack.complete_us = NowUs();
          ack.port = primary->port();
          break;
        }
        failed_attempts_.fetch_add(1);
        primary.reset();  // whatever went wrong, the Sentinels say where to go next
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(options_.retry_pause_ms));
    }
    if (ack.complete_us == 0) return;  // stopped before it was acknowledged
    acked_.fetch_add(1);
    std::lock_guard lock(mu_);
    acks_.push_back(ack);
  }
}

std::vector<RedisAck> RedisWriter::Acks() const {
  std::lock_guard lock(mu_);
  return acks_;
}

int64_t RedisWriter::FirstAckAfter(int64_t t_us, int not_port) const {
  std::lock_guard lock(mu_);
  int64_t first = -1;
  for (const RedisAck& a : acks_) {
    if (a.complete_us > t_us && a.port != not_port && (first < 0 || a.complete_us < first)) {
      first = a.complete_us;
    }
  }
  return first;
}

int64_t RedisWriter::LongestGapUs(int64_t from_us, int64_t to_us) const {
  std::vector<int64_t> times;
  {
    std::lock_guard lock(mu_);
    for (const RedisAck& a : acks_) times.push_back(a.complete_us);
  }
  return LongestGap(std::move(times), from_us, to_us).length_us;
}

StatusOr<std::vector<bool>> RedisWriter::ReadBack(int primary_port,
                                                  const std::vector<RedisAck>& acks) const {
  RedisClient client(primary_port, "127.0.0.1", options_.tls);
  std::vector<bool> present;
  present.reserve(acks.size());
  for (size_t start = 0; start < acks.size(); start += kReadBackBatch) {
    const size_t end = std::min(acks.size(), start + kReadBackBatch);
    std::vector<std::vector<std::string>> gets;
    for (size_t i = start; i < end; ++i) {
      gets.push_back({"GET", Key(options_.key_prefix, acks[i].client, acks[i].n)});
    }
    auto replies = client.Pipeline(gets, kReadBackTimeoutMs);
    if (!replies.ok()) return replies.status();
    for (size_t i = start; i < end; ++i) {
      const RespValue& r = (*replies)[i - start];
      if (r.IsError())
        return Internal(client.address() + ": " + gets[i - start][1] + ": " + r.text);
      present.push_back(r.type == RespValue::Type::kBulkString && r.text == Value(acks[i].n));
    }
  }
  return present;
}

StatusOr<uint64_t> RedisWriter::CountLost(int primary_port, int64_t acked_after_us) const {
  std::vector<RedisAck> acks = Acks();
  std::erase_if(acks, [&](const RedisAck& a) { return a.complete_us <= acked_after_us; });
  auto present = ReadBack(primary_port, acks);
  if (!present.ok()) return present.status();
  return static_cast<uint64_t>(std::count(present->begin(), present->end(), false));
}

StatusOr<int64_t> RedisWriter::LongestDurableGapUs(int primary_port, int64_t from_us,
                                                   int64_t to_us) const {
  std::vector<RedisAck> acks = Acks();
  std::erase_if(
      acks, [&](const RedisAck& a) { return a.complete_us <= from_us || a.complete_us >= to_us; });
  auto present = ReadBack(primary_port, acks);
  if (!present.ok()) return present.status();
  std::vector<int64_t> times;
  for (size_t i = 0; i < acks.size(); ++i) {
    if ((*present)[i]) times.push_back(acks[i].complete_us);
  }
  return LongestGap(std::move(times), from_us, to_us).length_us;
}

StatusOr<std::vector<double>> MeasureLagMs(int primary_port, int replica_port, int samples,
                                           int interval_ms, std::shared_ptr<TlsContext> tls) {
  RedisClient primary(primary_port, "127.0.0.1", tls), replica(replica_port, "127.0.0.1", tls);
  const std::string key = "duplex-lag-probe";
  std::vector<double> lags;
  for (int i = 0; i < samples; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
    const std::string value =
        std::to_string(::getpid()) + "-" + std::to_string(i) + "-" + std::to_string(NowUs());
    auto set = primary.Command({"SET", key, value}, kLagCallTimeoutMs);
    if (!set.ok()) return set.status();
    if (!set->IsOk()) return Internal(primary.address() + ": SET answered " + set->DebugString());
    const int64_t acked_us = NowUs();
    for (;;) {
      auto get = replica.Command({"GET", key}, kLagCallTimeoutMs);
      if (!get.ok()) return get.status();
      const int64_t now = NowUs();
      if (get->type == RespValue::Type::kBulkString && get->text == value) {
        lags.push_back((now - acked_us) / 1000.0);
        break;
      }
      if (now - acked_us > int64_t{kLagProbeTimeoutMs} * 1000) {
        return Unavailable(replica.address() + " did not show probe " + std::to_string(i) +
                           " within " + std::to_string(kLagProbeTimeoutMs) + " ms");
      }
    }
  }
  return lags;
}

}  // namespace duplex::bench
