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

std::string TcpEndpoint(const std::string& host, int port) {
  return "tcp://" + host + ":" + std::to_string(port);
}

std::string WithSourceAddress(const std::string& endpoint, const std::string& source) {
  in_addr addr{};
  const std::string scheme = "tcp://";
  if (source.empty() || ::inet_pton(AF_INET, source.c_str(), &addr) != 1 ||
      addr.s_addr == INADDR_ANY || endpoint.rfind(scheme, 0) != 0) {
    return endpoint;
  }
  return scheme + source + ":0;" + endpoint.substr(scheme.size());
}

namespace {

// An IPv4 address for host: a literal as it is, else the name's first IPv4 address.
StatusOr<in_addr> ResolveIpv4(const std::string& host) {
  in_addr address{};
  if (::inet_pton(AF_INET, host.c_str(), &address) == 1) return address;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0 || found == nullptr) {
    return InvalidArgument(host + ": not an IPv4 address or a known name (" + gai_strerror(rc) +
                           ")");
  }
  address = reinterpret_cast<const sockaddr_in*>(found->ai_addr)->sin_addr;
  ::freeaddrinfo(found);
  return address;
}

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
  StatusOr<in_addr> remote = ResolveIpv4(host);
  if (!remote.ok()) return InvalidArgument("connect " + where + ": " + remote.status().message());
  sockaddr_in remote_addr{};
  remote_addr.sin_family = AF_INET;
  remote_addr.sin_addr = *remote;
  remote_addr.sin_port = htons(static_cast<uint16_t>(port));
  sockaddr_in local_addr{};
  local_addr.sin_family = AF_INET;
  if (!source_address.empty() &&
      ::inet_pton(AF_INET, source_address.c_str(), &local_addr.sin_addr) != 1) {
    return InvalidArgument("connect " + where + ": source " + source_address +
                           " is not an IPv4 address");
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unavailable("connect " + where + ": socket: " + std::strerror(errno));
  auto fail = [&](const std::string& what, int error) -> Status {
    ::close(fd);
    return Unavailable("connect " + where + ": " + what + std::strerror(error));
  };
  if (!source_address.empty() &&
      ::bind(fd, reinterpret_cast<const sockaddr*>(&local_addr), sizeof local_addr) != 0) {
    return fail("bind: ", errno);
  }
  int error = 0;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&remote_addr), sizeof remote_addr) != 0) {
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
