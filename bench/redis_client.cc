#include "bench/redis_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>

#include "common/clock.h"

namespace duplex::bench {

namespace {

// Waits for `events` on fd until the deadline; false on timeout. EINTR is retried.
StatusOr<bool> WaitFor(int fd, short events, int64_t deadline_us) {
  for (;;) {
    const int64_t left_us = deadline_us - NowUs();
    if (left_us <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>((left_us + 999) / 1000));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return IOError(std::string("poll: ") + std::strerror(errno));
  }
}

std::string CommandName(const std::vector<std::string>& args) {
  return args.empty() ? std::string("(empty command)") : args[0];
}

}  // namespace

std::string Address(int port) { return "127.0.0.1:" + std::to_string(port); }

RedisClient::RedisClient(int port, std::string host, std::shared_ptr<TlsContext> tls)
    : host_(std::move(host)),
      port_(port),
      address_(host_ + ":" + std::to_string(port)),
      tls_(std::move(tls)) {}

RedisClient::~RedisClient() { Close(); }

void RedisClient::Close() {
  session_.reset();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  parser_ = RespParser();
}

Status RedisClient::Broken(const std::string& message, Code code) {
  Close();
  return Status(code, address_ + ": " + message);
}

Status RedisClient::Connect(int64_t deadline_us) {
  if (fd_ >= 0) return Status::Ok();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  if (::inet_pton(AF_INET, host_.c_str(), &addr.sin_addr) != 1) {
    return InvalidArgument(address_ + ": not an IPv4 address");
  }
  // CLOEXEC: a redis-server forked later by RedisPeer must not inherit (and so keep open)
  // a client connection.
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return Broken(std::string("socket: ") + std::strerror(errno), Code::kIOError);
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EINPROGRESS) return Broken(std::string("connect: ") + std::strerror(errno));
    auto ready = WaitFor(fd_, POLLOUT, deadline_us);
    if (!ready.ok()) return Broken(ready.status().message(), Code::kIOError);
    if (!*ready) return Broken("connect: timed out");
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return Broken(std::string("connect: ") + std::strerror(err));
  }
  if (tls_ == nullptr) return Status::Ok();
  auto session = TlsSession::Connect(*tls_, fd_, host_);
  if (!session.ok()) return Broken(session.status().message(), session.status().code());
  session_ = std::move(session).value();
  const int64_t left_ms = std::max<int64_t>(1, (deadline_us - NowUs()) / 1000);
  Status shaken = session_->Handshake(static_cast<int>(left_ms));
  if (!shaken.ok()) return Broken(shaken.message());
  return Status::Ok();
}

StatusOr<size_t> RedisClient::SendSome(const char* data, size_t size, short* wait) {
  *wait = POLLOUT;
  if (session_ != nullptr) {
    TlsSession::Io io = session_->Write(data, size);
    if (io.bytes > 0) return io.bytes;
    if (io.state == TlsSession::State::kWantRead || io.state == TlsSession::State::kWantWrite) {
      *wait = io.state == TlsSession::State::kWantRead ? POLLIN : POLLOUT;
      return size_t{0};
    }
    return Broken("send: " + (io.error.empty() ? std::string("connection closed") : io.error));
  }
  for (;;) {
    const ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EAGAIN || errno == EWOULDBLOCK) return size_t{0};
    if (errno != EINTR) return Broken(std::string("send: ") + std::strerror(errno));
  }
}

StatusOr<size_t> RedisClient::RecvSome(char* buffer, size_t size, short* wait) {
  *wait = POLLIN;
  if (session_ != nullptr) {
    TlsSession::Io io = session_->Read(buffer, size);
    if (io.bytes > 0) return io.bytes;
    if (io.state == TlsSession::State::kWantRead || io.state == TlsSession::State::kWantWrite) {
      *wait = io.state == TlsSession::State::kWantRead ? POLLIN : POLLOUT;
      return size_t{0};
    }
    return Broken("recv: " + (io.error.empty() ? std::string("connection closed") : io.error));
  }
  for (;;) {
    const ssize_t n = ::recv(fd_, buffer, size, 0);
    if (n > 0) return static_cast<size_t>(n);
    if (n == 0) return Broken("connection closed");
    if (errno == EAGAIN || errno == EWOULDBLOCK) return size_t{0};
    if (errno != EINTR) return Broken(std::string("recv: ") + std::strerror(errno));
  }
}

Status RedisClient::WriteAll(const std::string& bytes, int64_t deadline_us) {
  size_t done = 0;
  while (done < bytes.size()) {
    short wait = POLLOUT;
    auto n = SendSome(bytes.data() + done, bytes.size() - done, &wait);
    if (!n.ok()) return n.status();
    if (*n > 0) {
      done += *n;
      continue;
    }
    auto ready = WaitFor(fd_, wait, deadline_us);
    if (!ready.ok()) return Broken(ready.status().message(), Code::kIOError);
    if (!*ready) return Broken("send: timed out");
  }
  return Status::Ok();
}

StatusOr<RespValue> RedisClient::ReadReply(int64_t deadline_us, const std::string& what) {
  for (;;) {
    auto next = parser_.Next();
    if (!next.ok()) return Broken(next.status().message(), Code::kCorruption);
    if (next->has_value()) return std::move(**next);
    // TLS may hold decrypted bytes poll() cannot see: read first, wait only when it blocks.
    char buffer[16384];
    short wait = POLLIN;
    auto n = RecvSome(buffer, sizeof(buffer), &wait);
    if (!n.ok()) {
      return Status(n.status().code(),
                    n.status().message() + " while waiting for the reply to " + what);
    }
    if (*n > 0) {
      parser_.Feed(std::string_view(buffer, *n));
      continue;
    }
    auto ready = WaitFor(fd_, wait, deadline_us);
    if (!ready.ok()) return Broken(ready.status().message(), Code::kIOError);
    if (!*ready) return Broken("no reply to " + what + " in time");
  }
}

StatusOr<RespValue> RedisClient::Command(std::vector<std::string> args, int timeout_ms) {
  auto replies = Pipeline({std::move(args)}, timeout_ms);
  if (!replies.ok()) return replies.status();
  return std::move(replies->front());
}

StatusOr<std::vector<RespValue>> RedisClient::Pipeline(
    const std::vector<std::vector<std::string>>& commands, int timeout_ms) {
  const int64_t deadline_us = NowUs() + int64_t{timeout_ms} * 1000;
  DUPLEX_RETURN_IF_ERROR(Connect(deadline_us));
  std::string bytes;
  for (const auto& c : commands) AppendCommand(c, &bytes);
  DUPLEX_RETURN_IF_ERROR(WriteAll(bytes, deadline_us));
  std::vector<RespValue> replies;
  replies.reserve(commands.size());
  for (const auto& c : commands) {
    auto reply = ReadReply(deadline_us, CommandName(c));
    if (!reply.ok()) return reply.status();
    replies.push_back(std::move(*reply));
  }
  return replies;
}

SentinelView::SentinelView(const std::vector<int>& sentinel_ports, std::string master_name,
                           std::shared_ptr<TlsContext> tls)
    : master_name_(std::move(master_name)) {
  for (int port : sentinel_ports) {
    sentinels_.push_back(std::make_unique<RedisClient>(port, "127.0.0.1", tls));
  }
}

StatusOr<int> SentinelView::PrimaryPort(int timeout_ms) {
  std::map<int, size_t> votes;
  std::string answers;
  for (auto& s : sentinels_) {
    auto r = s->Command({"SENTINEL", "get-master-addr-by-name", master_name_}, timeout_ms);
    std::string answer;
    if (!r.ok()) {
      answer = r.status().message();
    } else if (r->type == RespValue::Type::kArray && r->elements.size() == 2) {
      int port = std::atoi(r->elements[1].text.c_str());
      ++votes[port];
      answer = r->elements[0].text + ":" + r->elements[1].text;
    } else {
      answer = r->DebugString();
    }
    answers += (answers.empty() ? "" : "; ") + s->address() + " says " + answer;
  }
  for (const auto& [port, n] : votes) {
    if (n * 2 > sentinels_.size()) return port;
  }
  return Unavailable("Sentinels do not agree on the primary of " + master_name_ + ": " + answers);
}

StatusOr<int> SentinelView::FirstHealthyPrimaryPort(int timeout_ms) {
  std::string answers;
  for (auto& s : sentinels_) {
    auto r = s->Command({"SENTINEL", "MASTER", master_name_}, timeout_ms);
    std::string answer;
    if (!r.ok()) {
      answer = r.status().message();
    } else if (r->type != RespValue::Type::kArray) {
      answer = r->DebugString();
    } else {
      std::string flags, port;
      for (size_t i = 0; i + 1 < r->elements.size(); i += 2) {
        if (r->elements[i].text == "flags") flags = r->elements[i + 1].text;
        if (r->elements[i].text == "port") port = r->elements[i + 1].text;
      }
      const bool down =
          flags.find("s_down") != std::string::npos || flags.find("o_down") != std::string::npos;
      if (!down && flags.find("master") != std::string::npos && std::atoi(port.c_str()) > 0) {
        return std::atoi(port.c_str());
      }
      answer = "port " + port + " flagged " + flags;
    }
    answers += (answers.empty() ? "" : "; ") + s->address() + " says " + answer;
  }
  return Unavailable("no Sentinel names a healthy primary of " + master_name_ + ": " + answers);
}

}  // namespace duplex::bench
