// Ports for the etcd tests: runs of free TCP ports on 127.0.0.1 within 31000-31999 (the range
// these tests may use), never the same run twice in one process. Test support only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

namespace duplex::etcd_test {

inline bool PortFree(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool free = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return free;
}

// The first of `count` consecutive free ports, or 0 when the range is used up.
inline int FreePortRun(int count) {
  static std::atomic<int> next{31000 + (::getpid() % 20) * 40};
  for (int tries = 0; tries < 100; ++tries) {
    int first = next.fetch_add(count);
    if (first + count > 32000) {
      first = 31000;
      next = 31000 + count;
    }
    bool all = true;
    for (int p = first; p < first + count && all; ++p) all = PortFree(p);
    if (all) return first;
  }
  return 0;
}

}  // namespace duplex::etcd_test
