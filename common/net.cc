#include "common/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <set>

#include "common/assert.h"

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

}  // namespace duplex
