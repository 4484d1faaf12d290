#include "replica/frame_stream.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/assert.h"
#include "common/net.h"

namespace duplex {
namespace {

constexpr size_t kPrefixBytes = 4;
constexpr size_t kReadChunkBytes = 16 << 10;
constexpr int kReadsPerCallMax = 16;  // then let the event loop serve other connections
// The prefix is a uint32_t on the wire; a frame's length must fit it.
static_assert(kPrefixBytes == sizeof(uint32_t));
static_assert(kReadChunkBytes > kPrefixBytes, "one read can bring at least a whole prefix");

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

void SetSocketOptions(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  int one = 1;  // a reply is one small write: send it now, not after the peer's ACK
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace

FrameStream::FrameStream(int fd, size_t frame_bytes_max, size_t output_bytes_max)
    : fd_(fd), frame_bytes_max_(frame_bytes_max), output_bytes_max_(output_bytes_max) {
  DUPLEX_ASSERT(fd_ >= 0, "a stream owns an open socket", fd_);
  SetSocketOptions(fd_);
}

FrameStream::~FrameStream() { ::close(fd_); }

void FrameStream::Fail(Status s) {
  if (status_.ok()) status_ = std::move(s);
}

void FrameStream::Queue(std::string_view payload) {
  if (!status_.ok()) return;
  if (payload.size() > frame_bytes_max_) {
    return Fail(InvalidArgument("frame of " + std::to_string(payload.size()) +
                                " bytes is above max_frame_bytes " +
                                std::to_string(frame_bytes_max_)));
  }
  if (out_.size() - sent_ + payload.size() > output_bytes_max_) {
    return Fail(FailedPrecondition(
        "the peer does not read: " + std::to_string(out_.size() - sent_) + " bytes unsent"));
  }
  if (sent_ == out_.size()) out_.clear(), sent_ = 0;
  const size_t unsent_before = out_.size() - sent_;
  uint32_t n = htonl(static_cast<uint32_t>(payload.size()));
  out_.append(reinterpret_cast<const char*>(&n), kPrefixBytes);
  out_.append(payload);
  DUPLEX_ASSERT(out_.size() - sent_ == unsent_before + kPrefixBytes + payload.size(),
                "a queued frame is its prefix and its payload", out_.size(), sent_, unsent_before,
                payload.size());
  DUPLEX_ASSERT(out_.size() - sent_ <= output_bytes_max_ + kPrefixBytes,
                "unsent output stays within its bound", out_.size() - sent_, output_bytes_max_);
}

void FrameStream::UseTls(std::unique_ptr<TlsSession> session) {
  DUPLEX_ASSERT(session != nullptr && in_.empty() && out_.empty(),
                "TLS is taken up before any byte moves", in_.size(), out_.size());
  tls_ = std::move(session);
}

void FrameStream::Finish(Status why) {
  DUPLEX_ASSERT(!why.ok(), "a stream is finished for a reason");
  Flush();
  Fail(std::move(why));
}

long FrameStream::WriteSome(const char* data, size_t size) {
  if (tls_ != nullptr) {
    TlsSession::Io io = tls_->Write(data, size);
    if (io.bytes > 0) return static_cast<long>(io.bytes);
    if (io.state == TlsSession::State::kWantRead || io.state == TlsSession::State::kWantWrite) {
      return 0;  // a handshake under way: the next Read or writable poll goes on with it
    }
    Fail(io.state == TlsSession::State::kClosed ? Unavailable(io.error)
                                                : InvalidArgument(io.error));
    return -1;
  }
  for (;;) {
    ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    if (errno != EINTR) {
      Fail(Unavailable(Errno("send")));
      return -1;
    }
  }
}

void FrameStream::Flush() {
  while (status_.ok() && sent_ < out_.size()) {
    long n = WriteSome(out_.data() + sent_, out_.size() - sent_);
    if (n <= 0) return;
    sent_ += static_cast<size_t>(n);
    DUPLEX_ASSERT(sent_ <= out_.size(), "send wrote no more than it was given", sent_, out_.size());
  }
}

long FrameStream::ReadSome(char* buffer, size_t size) {
  if (tls_ != nullptr) {
    TlsSession::Io io = tls_->Read(buffer, size);
    read_wants_write_ = io.state == TlsSession::State::kWantWrite;
    if (io.bytes > 0) return static_cast<long>(io.bytes);
    if (io.state == TlsSession::State::kWantRead || read_wants_write_) return 0;
    if (io.state == TlsSession::State::kClosed) {
      Fail(Unavailable("connection closed by the peer"));
    } else {
      Fail(InvalidArgument(io.error));  // a failed handshake: a bad or missing certificate
    }
    return -1;
  }
  for (;;) {
    ssize_t n = ::recv(fd_, buffer, size, 0);
    if (n > 0) return n;
    if (n == 0) {
      Fail(Unavailable("connection closed by the peer"));
      return -1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    if (errno != EINTR) {
      Fail(Unavailable(Errno("recv")));
      return -1;
    }
  }
}

void FrameStream::Read() {
  // TLS may hold decrypted bytes that poll() cannot see: take them all (one record at most).
  for (int i = 0; status_.ok() && (i < kReadsPerCallMax || (tls_ && tls_->Pending())); ++i) {
    if (consumed_ > 0 && consumed_ == in_.size()) in_.clear(), consumed_ = 0;
    char chunk[kReadChunkBytes];
    long n = ReadSome(chunk, sizeof(chunk));
    if (n <= 0) break;
    DUPLEX_ASSERT(static_cast<size_t>(n) <= sizeof(chunk), "a read filled no more than its buffer",
                  n);
    in_.append(chunk, static_cast<size_t>(n));
    if (static_cast<size_t>(n) < kReadChunkBytes && !(tls_ && tls_->Pending())) break;  // drained
  }
  // A TLS handshake that a read completed lets output queued meanwhile leave.
  if (tls_ != nullptr && status_.ok() && sent_ < out_.size()) Flush();
}

std::optional<std::string> FrameStream::NextFrame() {
  DUPLEX_ASSERT(consumed_ <= in_.size(), "frames handed out lie inside the input", consumed_,
                in_.size());
  if (in_.size() - consumed_ < kPrefixBytes) return std::nullopt;
  uint32_t n;
  std::memcpy(&n, in_.data() + consumed_, kPrefixBytes);
  size_t length = ntohl(n);
  if (length > frame_bytes_max_) {
    // The stream cannot be resynchronised after a bad length: drop it.
    Fail(InvalidArgument("frame length " + std::to_string(length) + " is above max_frame_bytes " +
                         std::to_string(frame_bytes_max_)));
    in_.clear(), consumed_ = 0;
    return std::nullopt;
  }
  if (in_.size() - consumed_ < kPrefixBytes + length) return std::nullopt;
  std::string frame = in_.substr(consumed_ + kPrefixBytes, length);
  consumed_ += kPrefixBytes + length;
  ++frames_read_;
  DUPLEX_ASSERT(frame.size() == length && consumed_ <= in_.size(),
                "a frame handed out is whole and inside the input", frame.size(), length, consumed_,
                in_.size());
  // Keep the buffer from growing without bound under a steady stream.
  if (consumed_ >= kReadChunkBytes) in_.erase(0, consumed_), consumed_ = 0;
  return frame;
}

Status ParseTcpEndpoint(const std::string& endpoint, std::string* host, int* port) {
  const std::string scheme = "tcp://";
  size_t colon = endpoint.rfind(':');
  if (endpoint.compare(0, scheme.size(), scheme) != 0 || colon == std::string::npos ||
      colon < scheme.size()) {
    return InvalidArgument("endpoint \"" + endpoint + "\" is not tcp://host:port");
  }
  *host = endpoint.substr(scheme.size(), colon - scheme.size());
  // "tcp://[::1]:7410": the brackets only keep the address's colons apart from the port's.
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  char* end = nullptr;
  long p = std::strtol(endpoint.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || p < 1 || p > 65535) {
    return InvalidArgument("endpoint \"" + endpoint + "\": bad port");
  }
  *port = static_cast<int>(p);
  DUPLEX_ASSERT(*port >= 1 && *port <= 65535, "a parsed port is a real port", *port);
  return Status::Ok();
}

StatusOr<int> ConnectTcp(const std::string& endpoint, int timeout_ms,
                         const std::string& source_address) {
  std::string host;
  int port = 0;
  if (Status s = ParseTcpEndpoint(endpoint, &host, &port); !s.ok()) return s;
  return duplex::ConnectTcp(host, port, source_address, timeout_ms);
}

// host may be a name (getaddrinfo: /etc/hosts, DNS) or an IPv4 or IPv6 address (ResolveHost).
StatusOr<int> ListenTcp(const std::string& host, int port) {
  StatusOr<std::string> address = ResolveHost(host);
  if (!address.ok()) return address.status();
  auto addr = ToSocketAddress(*address, port);
  if (!addr.ok()) return addr.status();
  std::string where = BracketedHost(host) + ":" + std::to_string(port);
  int fd = ::socket(addr->family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unavailable(Errno("socket"));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, addr->addr(), addr->len) != 0 || ::listen(fd, SOMAXCONN) != 0) {
    Status s = Unavailable(Errno("listen on " + where));
    ::close(fd);
    return s;
  }
  return fd;
}

}  // namespace duplex
