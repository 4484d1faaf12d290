#include "common/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/assert.h"

namespace duplex {

int PickFreePort() {
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

std::string TcpEndpoint(const std::string& host, int port) {
  return "tcp://" + host + ":" + std::to_string(port);
}

}  // namespace duplex
