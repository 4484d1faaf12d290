#include "chaos/fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "common/clock.h"

namespace duplex::chaos {
namespace {

constexpr size_t kGreetingBytes = 64;
constexpr uint8_t kFlagMore = 0x01;
constexpr uint8_t kFlagLong = 0x02;
constexpr uint8_t kFlagCommand = 0x04;
constexpr size_t kReadChunkBytes = 64 * 1024;
constexpr int kReadChunksPerTurn = 8;  // so one busy connection cannot starve the others
constexpr int kAcceptsPerTurn = 16;
constexpr int kPollMsMax = 50;  // a lost wake-up costs at most this much
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

std::string ErrnoText(int err) { return std::strerror(err); }

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

// A reset rather than a FIN, so the peer sees a broken link, not an orderly goodbye.
void CloseAbortive(int fd) {
  linger reset{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  ::close(fd);
}

// The proxy writes message by message; Nagle would add a delay of its own to the injected one.
void SetNoDelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void CheckFaults(const LinkFaults& f) {
  for (double p : {f.drop, f.duplicate, f.reorder, f.corrupt}) {
    DUPLEX_ASSERT(p >= 0 && p <= 1, "fault proxy: probability outside [0, 1]:", p);
  }
  DUPLEX_ASSERT(f.delay_ms >= 0 && f.jitter_ms >= 0, "fault proxy: negative delay:", f.delay_ms,
                f.jitter_ms);
}

// Counters of one direction: written by the proxy thread, read by any.
struct LinkCells {
  std::atomic<uint64_t> forwarded{0}, dropped{0}, delayed{0}, duplicated{0}, reordered{0},
      corrupted{0};

  LinkCounters Load() const {
    return {forwarded.load(),  dropped.load(),   delayed.load(),
            duplicated.load(), reordered.load(), corrupted.load()};
  }
};

// One ZMTP message: its frames as they came on the wire, and where each frame body lies, so that
// corruption can stay clear of the headers.
struct Message {
  std::string wire;
  std::vector<std::pair<size_t, size_t>> bodies;  // offset in wire, length
  size_t body_bytes = 0;
  int copies = 1;
  double jitter = 0;  // in [0, 1), scaled by jitter_ms when the message is queued
};

// The dice for one message. All are drawn every time whatever the faults, so changing one
// probability does not shift the pattern of another.
struct Dice {
  double drop, duplicate, reorder, corrupt, jitter;
  uint64_t position;  // of the corrupted byte among the body bytes
  uint8_t flip;       // never zero, so the byte always changes
};

// 53 random bits as a double in [0, 1), the same on every standard library (unlike
// std::uniform_real_distribution), so a seed means the same run everywhere.
double Unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

struct FrameHeader {
  uint8_t flags;
  size_t header_bytes;
  uint64_t body_bytes;
};

// nullopt while the header is incomplete.
std::optional<FrameHeader> PeekHeader(std::string_view in) {
  if (in.size() < 2) return std::nullopt;
  const auto flags = static_cast<uint8_t>(in[0]);
  if ((flags & kFlagLong) == 0) return FrameHeader{flags, 2, static_cast<uint8_t>(in[1])};
  if (in.size() < 9) return std::nullopt;
  uint64_t size = 0;
  for (size_t i = 1; i < 9; ++i) size = (size << 8) | static_cast<uint8_t>(in[i]);
  return FrameHeader{flags, 9, size};
}

// The security mechanism a greeting names; kUnknown until its 32 bytes have arrived.
enum class Mechanism { kUnknown, kNull, kPlain, kCurve };

// Checks the greeting as far as it has arrived. Peers send it in parts (libzmq waits for the
// peer's signature before sending its version), so nothing here may wait for all 64 bytes.
StatusOr<Mechanism> CheckGreeting(const std::array<uint8_t, kGreetingBytes>& g, size_t seen) {
  if (seen >= 1 && g[0] != 0xFF) return Corruption("not ZMTP: the greeting does not start 0xFF");
  if (seen >= 10 && (g[9] & 1) == 0) return Corruption("not ZMTP 3.x: a ZMTP 1.0 signature");
  if (seen >= 11 && g[10] < 3) {
    return Corruption("ZMTP major version " + std::to_string(g[10]) + " is not supported");
  }
  if (seen < 32) return Mechanism::kUnknown;
  std::string mechanism;
  for (size_t i = 12; i < 32 && g[i] != 0; ++i) {
    mechanism += (g[i] >= 0x20 && g[i] < 0x7F) ? static_cast<char>(g[i]) : '?';
  }
  if (mechanism == "NULL") return Mechanism::kNull;
  if (mechanism == "PLAIN") return Mechanism::kPlain;
  if (mechanism == "CURVE") return Mechanism::kCurve;
  return Corruption("mechanism " + mechanism + " is not supported (NULL, PLAIN or CURVE)");
}

// One direction of a connection pair: parses ZMTP from the source, decides each message's fate
// and keeps what is ready for the destination. Does no I/O.
class Link {
 public:
  Link(const ProxyOptions& options, uint64_t ordinal, int direction, LinkCells* cells)
      : options_(options), cells_(cells), name_(direction == 0 ? "to target" : "from target") {
    std::seed_seq seeds{static_cast<uint32_t>(options.seed),
                        static_cast<uint32_t>(options.seed >> 32), static_cast<uint32_t>(ordinal),
                        static_cast<uint32_t>(ordinal >> 32), static_cast<uint32_t>(direction)};
    rng_.seed(seeds);
  }

  // Bytes read from the source. Fails when the stream is not ZMTP 3.x.
  Status Feed(const char* data, size_t n, const LinkFaults& faults, int64_t now_us);
  // The source has closed: whatever is held goes out; a partial message is lost.
  void EndSource(const LinkFaults& faults, int64_t now_us);
  // Moves to the output the messages whose time has come.
  void Release(const LinkFaults& faults, int64_t now_us);

  int64_t NextWakeUs() const;
  // The in-progress message does not count: it cannot complete if reading stops for it.
  bool CanRead() const { return !source_ended_ && QueuedBytes() < options_.buffered_bytes_max; }
  bool Drained() const { return source_ended_ && QueuedBytes() == 0; }
  bool curve() const { return mechanism_ == Mechanism::kCurve; }
  bool plain() const { return mechanism_ == Mechanism::kNull || mechanism_ == Mechanism::kPlain; }
  std::string_view Output() const { return std::string_view(out_).substr(out_pos_); }
  void Written(size_t n);

 private:
  Status TakeFrame(std::string_view in, size_t* used, const LinkFaults& faults, int64_t now_us);
  void Decide(Message m, const LinkFaults& faults, int64_t now_us);
  void Queue(Message m, const LinkFaults& faults, int64_t now_us);
  Dice Roll();
  size_t QueuedBytes() const {
    return out_.size() - out_pos_ + queued_bytes_ +
           (held_ ? held_->wire.size() * held_->copies : 0);
  }

  struct Timed {
    int64_t release_us;
    Message message;
  };

  const ProxyOptions& options_;
  LinkCells* cells_;
  const char* name_;
  std::mt19937_64 rng_;
  std::array<uint8_t, kGreetingBytes> greeting_{};
  size_t greeting_seen_ = 0;
  Mechanism mechanism_ = Mechanism::kUnknown;
  std::string in_;   // read, not yet parsed
  Message pending_;  // frames of the message in progress
  std::optional<Message> held_;
  int64_t held_since_us_ = 0;
  std::deque<Timed> queue_;  // release times never decrease
  size_t queued_bytes_ = 0;
  int64_t last_release_us_ = 0;
  std::string out_;
  size_t out_pos_ = 0;
  bool source_ended_ = false;
};

Status Link::Feed(const char* data, size_t n, const LinkFaults& faults, int64_t now_us) {
  in_.append(data, n);
  std::string_view in(in_);
  size_t pos = 0;
  Status status;
  while (status.ok() && pos < in.size()) {
    size_t used = 0;
    if (greeting_seen_ < kGreetingBytes) {
      used = std::min(kGreetingBytes - greeting_seen_, in.size() - pos);
      std::memcpy(greeting_.data() + greeting_seen_, in.data() + pos, used);
      greeting_seen_ += used;
      StatusOr<Mechanism> mechanism = CheckGreeting(greeting_, greeting_seen_);
      if (mechanism.ok()) {
        mechanism_ = *mechanism;
        out_.append(in.substr(pos, used));
      } else {
        status = mechanism.status();
      }
    } else {
      status = TakeFrame(in.substr(pos), &used, faults, now_us);
    }
    if (used == 0) break;
    pos += used;
  }
  in_.erase(0, pos);
  if (!status.ok()) return Status(status.code(), std::string(name_) + ": " + status.message());
  return status;
}

// Takes one whole frame from the front of in, or nothing (*used = 0) while it is incomplete.
Status Link::TakeFrame(std::string_view in, size_t* used, const LinkFaults& faults,
                       int64_t now_us) {
  const std::optional<FrameHeader> h = PeekHeader(in);
  if (!h) return Status::Ok();
  if ((h->flags & ~(kFlagMore | kFlagLong | kFlagCommand)) != 0) {
    return Corruption("reserved frame flag bits set: " + std::to_string(h->flags));
  }
  const bool command = (h->flags & kFlagCommand) != 0;
  if (command && (h->flags & kFlagMore) != 0) return Corruption("a command frame with MORE set");
  const size_t room = options_.message_bytes_max - pending_.wire.size();
  if (h->header_bytes > room || h->body_bytes > room - h->header_bytes) {
    return Corruption("a message above " + std::to_string(options_.message_bytes_max) + " bytes");
  }
  const size_t frame_bytes = h->header_bytes + h->body_bytes;
  if (in.size() < frame_bytes) return Status::Ok();
  *used = frame_bytes;
  if (command) {
    // Commands skip the queue: the session and its heartbeats stay up whatever the faults.
    out_.append(in.substr(0, frame_bytes));
    return Status::Ok();
  }
  pending_.bodies.emplace_back(pending_.wire.size() + h->header_bytes, h->body_bytes);
  pending_.body_bytes += h->body_bytes;
  pending_.wire.append(in.substr(0, frame_bytes));
  if ((h->flags & kFlagMore) == 0) {
    Decide(std::move(pending_), faults, now_us);
    pending_ = Message{};
  }
  return Status::Ok();
}

Dice Link::Roll() {
  Dice d{};
  d.drop = Unit(rng_);
  d.duplicate = Unit(rng_);
  d.reorder = Unit(rng_);
  d.corrupt = Unit(rng_);
  d.jitter = Unit(rng_);
  d.position = rng_();
  d.flip = static_cast<uint8_t>(1 + rng_() % 255);
  return d;
}

void Link::Decide(Message m, const LinkFaults& faults, int64_t now_us) {
  const Dice d = Roll();
  if (faults.blackhole || d.drop < faults.drop) {
    ++cells_->dropped;
    return;
  }
  if (d.corrupt < faults.corrupt && m.body_bytes > 0) {
    uint64_t at = d.position % m.body_bytes;
    for (const auto& [offset, length] : m.bodies) {
      if (at < length) {
        m.wire[offset + at] = static_cast<char>(static_cast<uint8_t>(m.wire[offset + at]) ^ d.flip);
        break;
      }
      at -= length;
    }
    ++cells_->corrupted;
  }
  if (d.duplicate < faults.duplicate) {
    m.copies = 2;
    ++cells_->duplicated;
  }
  m.jitter = d.jitter;
  ++cells_->forwarded;
  if (held_) {
    Queue(std::move(m), faults, now_us);
    Queue(std::move(*held_), faults, now_us);
    held_.reset();
  } else if (d.reorder < faults.reorder) {
    held_ = std::move(m);
    held_since_us_ = now_us;
    ++cells_->reordered;
  } else {
    Queue(std::move(m), faults, now_us);
  }
}

void Link::Queue(Message m, const LinkFaults& faults, int64_t now_us) {
  const int64_t delay_us =
      int64_t{faults.delay_ms} * 1000 + static_cast<int64_t>(m.jitter * faults.jitter_ms * 1000);
  if (delay_us > 0) ++cells_->delayed;
  // Never before the message ahead of it: jitter must not reorder.
  last_release_us_ = std::max(now_us + delay_us, last_release_us_);
  queued_bytes_ += m.wire.size() * m.copies;
  queue_.push_back({last_release_us_, std::move(m)});
}

void Link::Release(const LinkFaults& faults, int64_t now_us) {
  if (held_ && now_us - held_since_us_ >= int64_t{options_.reorder_hold_max_ms} * 1000) {
    Queue(std::move(*held_), faults, now_us);
    held_.reset();
  }
  while (!queue_.empty() && queue_.front().release_us <= now_us) {
    const Message& m = queue_.front().message;
    for (int i = 0; i < m.copies; ++i) out_.append(m.wire);
    queued_bytes_ -= m.wire.size() * m.copies;
    queue_.pop_front();
  }
}

void Link::EndSource(const LinkFaults& faults, int64_t now_us) {
  source_ended_ = true;
  if (held_) {
    Queue(std::move(*held_), faults, now_us);
    held_.reset();
  }
  in_.clear();
  pending_ = Message{};
}

int64_t Link::NextWakeUs() const {
  int64_t wake = queue_.empty() ? kNever : queue_.front().release_us;
  if (held_) wake = std::min(wake, held_since_us_ + int64_t{options_.reorder_hold_max_ms} * 1000);
  return wake;
}

void Link::Written(size_t n) {
  out_pos_ += n;
  if (out_pos_ == out_.size()) {
    out_.clear();
    out_pos_ = 0;
  } else if (out_pos_ > kReadChunkBytes && out_pos_ * 2 > out_.size()) {
    out_.erase(0, out_pos_);  // amortized: only once the written part dominates
    out_pos_ = 0;
  }
}

// A client connection and its connection to the target. Side 0 is the client, side 1 the
// target; link i carries bytes from side i to side 1 - i. Owned by the proxy thread.
class Pair {
 public:
  Pair(int client_fd, int target_fd, bool connecting, uint64_t ordinal, const ProxyOptions& options,
       LinkCells (&cells)[2], std::atomic<uint64_t>* curve_connections,
       std::atomic<uint64_t>* plain_connections, int64_t now_us)
      : options_(options),
        curve_connections_(curve_connections),
        plain_connections_(plain_connections),
        fd_{client_fd, target_fd},
        connecting_(connecting),
        connect_deadline_us_(now_us + int64_t{options.connect_timeout_ms} * 1000),
        links_{Link(options, ordinal, 0, &cells[0]), Link(options, ordinal, 1, &cells[1])} {}
  ~Pair() {
    for (int fd : fd_) {
      if (fd >= 0) ::close(fd);
    }
  }
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;

  // Fills p[0] (client) and p[1] (target).
  void FillPoll(pollfd* p) const;
  // Reads, parses, releases and writes. An error means the pair must be reset.
  Status Service(const pollfd* p, const LinkFaults (&faults)[2], int64_t now_us);
  int64_t NextWakeUs() const;
  // Both sides have ended in order and everything read was delivered.
  bool done() const { return shut_[0] && shut_[1]; }
  void Abort();

 private:
  Status FinishConnect(short revents, int64_t now_us);
  Status ReadSide(int side, const LinkFaults& faults, int64_t now_us);
  Status WriteLink(int link);
  static const char* SideName(int side) { return side == 0 ? "client" : "target"; }

  const ProxyOptions& options_;
  std::atomic<uint64_t>* curve_connections_;  // counted once, when a greeting names CURVE
  std::atomic<uint64_t>* plain_connections_;  // counted once, when it names NULL or PLAIN
  bool curve_counted_ = false;
  int fd_[2];
  bool connecting_;
  int64_t connect_deadline_us_;
  bool hup_[2] = {false, false};
  bool shut_[2] = {false, false};  // link i's destination is shut for writing
  std::array<Link, 2> links_;
};

void Pair::FillPoll(pollfd* p) const {
  for (int side = 0; side < 2; ++side) {
    p[side] = pollfd{fd_[side], 0, 0};
    if (connecting_) {
      if (side == 1) p[side].events = POLLOUT;
      continue;
    }
    if (links_[side].CanRead()) p[side].events |= POLLIN;
    if (!shut_[1 - side] && !links_[1 - side].Output().empty()) p[side].events |= POLLOUT;
    // A hung-up socket reports POLLHUP forever; polling it with nothing to read would spin.
    if (hup_[side] && (p[side].events & POLLIN) == 0) p[side].fd = -1;
  }
}

Status Pair::Service(const pollfd* p, const LinkFaults (&faults)[2], int64_t now_us) {
  if (connecting_) {
    DUPLEX_RETURN_IF_ERROR(FinishConnect(p[1].revents, now_us));
    if ((p[0].revents & (POLLERR | POLLHUP)) != 0) {
      return Unavailable("the client left before the target answered");
    }
    if (connecting_) return Status::Ok();
  }
  for (int side = 0; side < 2; ++side) {
    const short revents = p[side].revents;
    if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      DUPLEX_RETURN_IF_ERROR(ReadSide(side, faults[side], now_us));
    }
    if ((revents & POLLERR) != 0) return Unavailable(std::string(SideName(side)) + ": reset");
    if ((revents & POLLHUP) != 0) {
      // Both directions of that socket are gone: what is still owed to it cannot arrive.
      if (!shut_[1 - side]) return Unavailable(std::string(SideName(side)) + ": hung up");
      hup_[side] = true;
    }
  }
  for (int i = 0; i < 2; ++i) {
    links_[i].Release(faults[i], now_us);
    if (shut_[i]) continue;
    DUPLEX_RETURN_IF_ERROR(WriteLink(i));
    if (links_[i].Drained()) {
      // Passes the source's FIN on only once everything before it was delivered.
      ::shutdown(fd_[1 - i], SHUT_WR);
      shut_[i] = true;
    }
  }
  return Status::Ok();
}

Status Pair::FinishConnect(short revents, int64_t now_us) {
  const std::string target = "127.0.0.1:" + std::to_string(options_.target_port);
  if ((revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (::getsockopt(fd_[1], SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) return Unavailable("cannot connect to " + target + ": " + ErrnoText(err));
    connecting_ = false;
    return Status::Ok();
  }
  if (now_us >= connect_deadline_us_) {
    return Unavailable("no connection to " + target + " after " +
                       std::to_string(options_.connect_timeout_ms) + " ms");
  }
  return Status::Ok();
}

Status Pair::ReadSide(int side, const LinkFaults& faults, int64_t now_us) {
  Link& link = links_[side];
  char buf[kReadChunkBytes];
  for (int i = 0; i < kReadChunksPerTurn && link.CanRead(); ++i) {
    const ssize_t n = ::recv(fd_[side], buf, sizeof(buf), 0);
    if (n > 0) {
      DUPLEX_RETURN_IF_ERROR(link.Feed(buf, static_cast<size_t>(n), faults, now_us));
      if ((link.curve() || link.plain()) && !curve_counted_) {
        curve_counted_ = true;  // the mechanism is known: counted once, as one or the other
        ++*(link.curve() ? curve_connections_ : plain_connections_);
      }
    } else if (n == 0) {
      link.EndSource(faults, now_us);
      return Status::Ok();
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return Status::Ok();
    } else if (errno != EINTR) {
      return Unavailable(std::string(SideName(side)) + ": " + ErrnoText(errno));
    }
  }
  return Status::Ok();
}

Status Pair::WriteLink(int link) {
  for (;;) {
    const std::string_view out = links_[link].Output();
    if (out.empty()) return Status::Ok();
    const ssize_t n = ::send(fd_[1 - link], out.data(), out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      links_[link].Written(static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return Status::Ok();
    } else if (n < 0 && errno != EINTR) {
      return Unavailable(std::string(SideName(1 - link)) + ": " + ErrnoText(errno));
    }
  }
}

int64_t Pair::NextWakeUs() const {
  if (connecting_) return connect_deadline_us_;
  return std::min(links_[0].NextWakeUs(), links_[1].NextWakeUs());
}

void Pair::Abort() {
  for (int& fd : fd_) {
    if (fd >= 0) CloseAbortive(fd);
    fd = -1;
  }
}

class FaultProxyImpl final : public FaultProxy {
 public:
  FaultProxyImpl(const ProxyOptions& options, int listen_fd, int wake_fd, int port)
      : options_(options), listen_fd_(listen_fd), wake_fd_(wake_fd), port_(port) {
    thread_ = std::thread([this] { Run(); });
  }
  ~FaultProxyImpl() override {
    Stop();
    ::close(wake_fd_);
  }

  int port() const override { return port_; }

  void Set(Direction direction, const LinkFaults& faults) override {
    CheckFaults(faults);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (direction != Direction::kFromTarget) faults_[0] = faults;
      if (direction != Direction::kToTarget) faults_[1] = faults;
    }
    Wake();
  }

  void Sever(bool severed) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      severed_ = severed;
    }
    Wake();
  }

  void Heal() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      faults_[0] = faults_[1] = LinkFaults{};
      severed_ = false;
    }
    Wake();
  }

  ProxyCounters counters() const override {
    return {cells_[0].Load(),           cells_[1].Load(),
            connections_.load(),        severed_connections_.load(),
            failed_connections_.load(), curve_connections_.load(),
            plain_connections_.load()};
  }

  void Stop() override {
    std::lock_guard<std::mutex> lock(stop_mu_);
    if (!thread_.joinable()) return;
    stop_.store(true);
    Wake();
    thread_.join();
  }

 private:
  void Wake() {
    const uint64_t one = 1;
    // Fails only when the counter is saturated, and then the thread is awake anyway.
    if (::write(wake_fd_, &one, sizeof(one)) < 0) return;
  }

  void Run();
  void Turn(std::vector<pollfd>& fds);
  void ServicePairs(const pollfd* fds, size_t count, const LinkFaults (&faults)[2], int64_t now);
  void Accept(bool severed, int64_t now_us);

  const ProxyOptions options_;
  const int listen_fd_;  // closed by the proxy thread when it ends
  const int wake_fd_;    // an eventfd; closed by the destructor, so Set() after Stop() is harmless
  const int port_;

  mutable std::mutex mu_;
  LinkFaults faults_[2];
  bool severed_ = false;

  std::mutex stop_mu_;
  std::atomic<bool> stop_{false};

  LinkCells cells_[2];
  std::atomic<uint64_t> connections_{0};
  std::atomic<uint64_t> severed_connections_{0};
  std::atomic<uint64_t> failed_connections_{0};
  std::atomic<uint64_t> curve_connections_{0};
  std::atomic<uint64_t> plain_connections_{0};

  // Proxy thread only.
  std::vector<std::unique_ptr<Pair>> pairs_;
  uint64_t next_ordinal_ = 0;

  std::thread thread_;  // last: starts once every member above exists
};

void FaultProxyImpl::Run() {
  std::vector<pollfd> fds;
  while (!stop_.load()) Turn(fds);
  pairs_.clear();
  ::close(listen_fd_);
}

void FaultProxyImpl::Turn(std::vector<pollfd>& fds) {
  const size_t polled = pairs_.size();
  fds.assign(2 + 2 * polled, pollfd{});
  fds[0] = pollfd{wake_fd_, POLLIN, 0};
  fds[1] = pollfd{listen_fd_, POLLIN, 0};
  int64_t now = NowUs();
  int64_t wake_us = now + int64_t{kPollMsMax} * 1000;
  for (size_t i = 0; i < polled; ++i) {
    pairs_[i]->FillPoll(&fds[2 + 2 * i]);
    wake_us = std::min(wake_us, pairs_[i]->NextWakeUs());
  }
  const auto timeout_ms =
      static_cast<int>(std::clamp<int64_t>((wake_us - now + 999) / 1000, 0, kPollMsMax));
  if (::poll(fds.data(), fds.size(), timeout_ms) < 0) {
    DUPLEX_ASSERT(errno == EINTR, "fault proxy: poll failed:", ErrnoText(errno));
    return;
  }
  if ((fds[0].revents & POLLIN) != 0) {
    uint64_t ignored = 0;
    if (::read(wake_fd_, &ignored, sizeof(ignored)) < 0) ignored = 0;
  }
  // Read after poll, not before: a Set() that returned before a peer sent a message then
  // applies to that message, which tests (and scenarios) rely on.
  LinkFaults faults[2];
  bool severed = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    faults[0] = faults_[0];
    faults[1] = faults_[1];
    severed = severed_;
  }
  now = NowUs();
  if (severed) {
    for (auto& pair : pairs_) pair->Abort();
    severed_connections_ += pairs_.size();
    pairs_.clear();
  } else {
    ServicePairs(fds.data() + 2, polled, faults, now);
  }
  if ((fds[1].revents & POLLIN) != 0) Accept(severed, now);
}

void FaultProxyImpl::ServicePairs(const pollfd* fds, size_t count, const LinkFaults (&faults)[2],
                                  int64_t now) {
  for (size_t i = 0; i < count; ++i) {
    const Status status = pairs_[i]->Service(fds + 2 * i, faults, now);
    if (!status.ok()) {
      if (status.code() == Code::kCorruption) {
        spdlog::warn("fault proxy :{}: closing a connection: {}", port_, status.message());
      } else {
        spdlog::debug("fault proxy :{}: closing a connection: {}", port_, status.message());
      }
      pairs_[i]->Abort();
      ++failed_connections_;
      pairs_[i].reset();
    } else if (pairs_[i]->done()) {
      pairs_[i].reset();
    }
  }
  std::erase(pairs_, nullptr);
}

void FaultProxyImpl::Accept(bool severed, int64_t now_us) {
  for (int i = 0; i < kAcceptsPerTurn; ++i) {
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0) return;  // none left, or out of descriptors: try again next turn
    if (severed) {
      CloseAbortive(client);
      ++severed_connections_;
      continue;
    }
    if (pairs_.size() >= static_cast<size_t>(options_.connections_max)) {
      spdlog::warn("fault proxy :{}: refusing a connection: {} are open", port_, pairs_.size());
      CloseAbortive(client);
      ++failed_connections_;
      continue;
    }
    const int target = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const sockaddr_in addr = Loopback(options_.target_port);
    const int rc =
        target < 0 ? -1 : ::connect(target, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
    if (rc != 0 && (target < 0 || errno != EINPROGRESS)) {
      spdlog::debug("fault proxy :{}: cannot reach the target: {}", port_, ErrnoText(errno));
      if (target >= 0) ::close(target);
      CloseAbortive(client);
      ++failed_connections_;
      continue;
    }
    SetNoDelay(client);
    SetNoDelay(target);
    pairs_.push_back(std::make_unique<Pair>(client, target, /*connecting=*/rc != 0, next_ordinal_++,
                                            options_, cells_, &curve_connections_,
                                            &plain_connections_, now_us));
    ++connections_;
  }
}

}  // namespace

StatusOr<std::unique_ptr<FaultProxy>> FaultProxy::Start(const ProxyOptions& options) {
  const std::string where = "127.0.0.1:" + std::to_string(options.listen_port);
  if (options.listen_port < 0 || options.listen_port > 65535) {
    return InvalidArgument("fault proxy: listen port " + std::to_string(options.listen_port) +
                           " is not in 0..65535");
  }
  if (options.target_port < 1 || options.target_port > 65535) {
    return InvalidArgument("fault proxy: target port " + std::to_string(options.target_port) +
                           " is not in 1..65535");
  }
  if (options.connections_max < 1 || options.connect_timeout_ms < 1 ||
      options.reorder_hold_max_ms < 0 || options.message_bytes_max == 0 ||
      options.buffered_bytes_max == 0) {
    return InvalidArgument("fault proxy: limits must be positive");
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return IOError("fault proxy: socket: " + ErrnoText(errno));
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr = Loopback(options.listen_port);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(fd, SOMAXCONN) != 0) {
    const int err = errno;
    ::close(fd);
    return IOError("fault proxy: cannot listen on " + where + ": " + ErrnoText(err));
  }
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    ::close(fd);
    return IOError("fault proxy: getsockname on " + where + ": " + ErrnoText(err));
  }
  const int wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake < 0) {
    const int err = errno;
    ::close(fd);
    return IOError("fault proxy: eventfd: " + ErrnoText(err));
  }
  return std::unique_ptr<FaultProxy>(
      std::make_unique<FaultProxyImpl>(options, fd, wake, ntohs(addr.sin_port)));
}

}  // namespace duplex::chaos
