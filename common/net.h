// Small loopback helpers shared by daemons and tests. Stateless, thread-safe.
#pragma once

#include <string>

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

}  // namespace duplex
