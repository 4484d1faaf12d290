// Small loopback helpers shared by daemons and tests. Stateless, thread-safe.
#pragma once

#include <string>

#include "common/status.h"

namespace duplex {

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close),
// never the same twice in one process. Thread-safe.
int PickFreePort();

// "tcp://127.0.0.1:7410"
std::string TcpEndpoint(const std::string& host, int port);
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
