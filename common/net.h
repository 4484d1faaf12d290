// Small loopback helpers shared by daemons and tests. Stateless, thread-safe.
#pragma once

#include <sys/socket.h>

#include <string>

#include "common/status.h"

namespace duplex {

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close),
// never the same twice in one process. Thread-safe.
int PickFreePort();

// "tcp://127.0.0.1:7410"; an IPv6 address in brackets: "tcp://[::1]:7410".
std::string TcpEndpoint(const std::string& host, int port);
// host as a URL or endpoint writes it: an IPv6 address in brackets ("[::1]"), anything else
// as it is.
std::string BracketedHost(const std::string& host);

// The address a host stands for, as a numeric string ("127.0.0.1", "::1"): an IPv4 or IPv6
// literal as it is (brackets removed), else the name's first IPv4 address from getaddrinfo
// (/etc/hosts, DNS), else its first IPv6 address. Every listening socket and every ZeroMQ
// endpoint of duplex goes through it, so that a name means one address on both ends.
StatusOr<std::string> ResolveHost(const std::string& host);
bool IsIpv6Address(const std::string& address);

// An IPv4 or IPv6 socket address, as bind() and connect() take it.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t len = 0;
  int family() const { return storage.ss_family; }
  const sockaddr* addr() const { return reinterpret_cast<const sockaddr*>(&storage); }
};
// address:port for a numeric address (ResolveHost's answer).
StatusOr<SocketAddress> ToSocketAddress(const std::string& address, int port);

// A ZeroMQ endpoint for "tcp://host:port" with the host resolved (ResolveHost): ZeroMQ binds
// only to addresses and interface names, and resolves a connect's name its own way. *ipv6
// says whether the socket needs ZMQ_IPV6. Other endpoints (inproc://) come back unchanged.
StatusOr<std::string> ResolvedZmqEndpoint(const std::string& endpoint, bool* ipv6);
// A ZeroMQ connect endpoint that leaves from `source` ("tcp://127.0.1.1:0;127.0.2.1:7410"), so
// that per-host firewall rules can tell hosts apart. Unchanged when `source` is empty or not
// an IPv4 address of one interface (a host name, 0.0.0.0).
std::string WithSourceAddress(const std::string& endpoint, const std::string& source);

// A TCP connection to host:port (an IPv4 address or a name), made within timeout_ms, as a
// non-blocking fd the caller owns. When source_address is not empty the socket is bound to it
// (port 0) before connect, so the connection leaves from that address: on the lab every host
// is a loopback address, and without the bind every connection would leave as 127.0.0.1,
// which no isolation rule could tell apart. Errors name the endpoint (and the source):
// "connect 127.0.2.1:7410 from 127.0.1.1: timed out after 300 ms".
StatusOr<int> ConnectTcp(const std::string& host, int port, const std::string& source_address,
                         int timeout_ms);

}  // namespace duplex
