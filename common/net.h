// Small loopback helpers shared by daemons and tests. Stateless, thread-safe.
#pragma once

#include <string>

namespace duplex {

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close),
// never the same twice in one process. Thread-safe.
int PickFreePort();

// "tcp://127.0.0.1:7410"
std::string TcpEndpoint(const std::string& host, int port);

}  // namespace duplex
