#include "common/net.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <set>

#include "common/assert.h"
#include "common/clock.h"

namespace duplex {

namespace {

int BindEphemeral() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  DUPLEX_ASSERT(fd >= 0, "socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  DUPLEX_ASSERT(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0, "bind failed");
  socklen_t len = sizeof(addr);
  DUPLEX_ASSERT(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0, "getsockname");
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

int PickFreePort() {
  // The kernel may hand the same free port to two picks in a row (nothing holds it in
  // between): a cluster given one port twice fails its config check. Never return a port
  // twice in one process (bounded: the ephemeral range has thousands).
  static std::mutex mu;
  static std::set<int> given;
  std::lock_guard lock(mu);
  for (int attempt = 0; attempt < 64; ++attempt) {
    int port = BindEphemeral();
    if (given.insert(port).second) return port;
  }
  DUPLEX_ASSERT(false, "PickFreePort: 64 picks in a row returned ports already given");
  return 0;
}

std::string BracketedHost(const std::string& host) {
  return host.find(':') != std::string::npos && host.front() != '[' ? "[" + host + "]" : host;
}

std::string TcpEndpoint(const std::string& host, int port) {
  return "tcp://" + BracketedHost(host) + ":" + std::to_string(port);
}

bool IsIpv6Address(const std::string& address) {
  in6_addr v6{};
  return ::inet_pton(AF_INET6, address.c_str(), &v6) == 1;
}

StatusOr<std::string> ResolveHost(const std::string& host) {
  std::string bare = host;
  if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']') {
    bare = bare.substr(1, bare.size() - 2);
  }
  in_addr v4{};
  if (::inet_pton(AF_INET, bare.c_str(), &v4) == 1 || IsIpv6Address(bare)) return bare;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(bare.c_str(), nullptr, &hints, &found);
  if (rc != 0 || found == nullptr) {
    return InvalidArgument(host + ": not an address or a known host name (" + gai_strerror(rc) +
                           ")");
  }
  // IPv4 first: a name with both kinds of address means its IPv4 one on every end.
  const addrinfo* chosen = nullptr;
  for (int family : {AF_INET, AF_INET6}) {
    for (const addrinfo* a = found; chosen == nullptr && a != nullptr; a = a->ai_next) {
      if (a->ai_family == family) chosen = a;
    }
  }
  char text[INET6_ADDRSTRLEN] = {};
  if (chosen != nullptr && chosen->ai_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(chosen->ai_addr)->sin_addr, text,
                sizeof text);
  } else if (chosen != nullptr) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(chosen->ai_addr)->sin6_addr, text,
                sizeof text);
  }
  ::freeaddrinfo(found);
  if (text[0] == '\0') return InvalidArgument(host + ": has no IPv4 or IPv6 address");
  return std::string(text);
}

StatusOr<SocketAddress> ToSocketAddress(const std::string& address, int port) {
  SocketAddress out;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  if (::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    out.len = sizeof(sockaddr_in);
    return out;
  }
  if (::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    out.len = sizeof(sockaddr_in6);
    return out;
  }
  return InvalidArgument("\"" + address + "\" is not an IPv4 or IPv6 address");
}

StatusOr<std::string> ResolvedZmqEndpoint(const std::string& endpoint, bool* ipv6) {
  *ipv6 = false;
  const std::string scheme = "tcp://";
  const size_t colon = endpoint.rfind(':');
  if (endpoint.rfind(scheme, 0) != 0 || colon == std::string::npos || colon < scheme.size()) {
    return endpoint;
  }
  const std::string host = endpoint.substr(scheme.size(), colon - scheme.size());
  if (host == "*") return endpoint;  // every interface: ZeroMQ's own wildcard
  StatusOr<std::string> address = ResolveHost(host);
  if (!address.ok()) return InvalidArgument(endpoint + ": " + address.status().message());
  *ipv6 = IsIpv6Address(*address);
  return scheme + BracketedHost(*address) + endpoint.substr(colon);
}

std::string WithSourceAddress(const std::string& endpoint, const std::string& source) {
  in_addr addr{};
  const std::string scheme = "tcp://";
  // An IPv6 endpoint ("tcp://[::1]:7410") cannot leave from an IPv4 source.
  if (source.empty() || ::inet_pton(AF_INET, source.c_str(), &addr) != 1 ||
      addr.s_addr == INADDR_ANY || endpoint.rfind(scheme, 0) != 0 ||
      endpoint.rfind(scheme + "[", 0) == 0) {
    return endpoint;
  }
  return scheme + source + ":0;" + endpoint.substr(scheme.size());
}

namespace {

// Waits (bounded by deadline_ms) for a non-blocking connect to finish; the errno it ended with.
int AwaitConnect(int fd, int64_t deadline_ms) {
  for (;;) {
    const int64_t left_ms = deadline_ms - NowUs() / 1000;
    if (left_ms <= 0) return ETIMEDOUT;
    pollfd p{fd, POLLOUT, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left_ms));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return errno;
    if (ready == 0) return ETIMEDOUT;
    int error = 0;
    socklen_t len = sizeof error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) return errno;
    return error;
  }
}

}  // namespace

StatusOr<int> ConnectTcp(const std::string& host, int port, const std::string& source_address,
                         int timeout_ms) {
  const int64_t deadline_ms = NowUs() / 1000 + timeout_ms;
  const std::string where =
      host + ":" + std::to_string(port) + (source_address.empty() ? "" : " from " + source_address);
  if (port < 1 || port > 65535) return InvalidArgument("connect " + where + ": not a port");
  StatusOr<std::string> remote = ResolveHost(host);
  if (!remote.ok()) return InvalidArgument("connect " + where + ": " + remote.status().message());
  StatusOr<SocketAddress> remote_addr = ToSocketAddress(*remote, port);
  if (!remote_addr.ok()) return remote_addr.status();
  // The source is resolved as the destination is, and must be of its family.
  std::optional<SocketAddress> local_addr;
  if (!source_address.empty()) {
    StatusOr<std::string> source = ResolveHost(source_address);
    if (!source.ok()) {
      return InvalidArgument("connect " + where + ": source " + source.status().message());
    }
    StatusOr<SocketAddress> local = ToSocketAddress(*source, 0);
    if (!local.ok()) return local.status();
    if (local->family() != remote_addr->family()) {
      return InvalidArgument("connect " + where + ": the source " + *source +
                             " and the destination " + *remote + " are not of one address family");
    }
    local_addr = *local;
  }
  const int fd = ::socket(remote_addr->family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unavailable("connect " + where + ": socket: " + std::strerror(errno));
  auto fail = [&](const std::string& what, int error) -> Status {
    ::close(fd);
    return Unavailable("connect " + where + ": " + what + std::strerror(error));
  };
  if (local_addr && ::bind(fd, local_addr->addr(), local_addr->len) != 0) {
    return fail("bind: ", errno);
  }
  int error = 0;
  if (::connect(fd, remote_addr->addr(), remote_addr->len) != 0) {
    error = errno == EINPROGRESS ? AwaitConnect(fd, deadline_ms) : errno;
  }
  if (error == ETIMEDOUT) {
    ::close(fd);
    return Unavailable("connect " + where + ": timed out after " + std::to_string(timeout_ms) +
                       " ms");
  }
  if (error != 0) return fail("", error);
  return fd;
}

}  // namespace duplex
