// Body bounds for duplex's HTTP servers (cpp-httplib): the replica's port (/role, /status,
// /metrics) and the coordinator's admin API. Every body is bounded by
// limits.http_body_bytes_max, except on the paths named for large bodies (package uploads,
// bounded by limits.package_bytes_max). Set once on the server before it listens; the
// counter is read by the server's owner from any thread.
#pragma once

#include <httplib.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace duplex {

struct HttpBodyLimits {
  size_t body_bytes_max = 1 << 20;            // limits.http_body_bytes_max
  size_t large_body_bytes_max = 0;            // limits.package_bytes_max, for large_body_paths
  std::vector<std::string> large_body_paths;  // exact request paths ("/packages")
};

// httplib bounds the body per server, not per route: the server takes the larger bound, and
// the returned pre-routing check refuses a declared length above the path's own bound before
// the body is read (and, on other paths, a chunked body, whose length is unknown until read;
// the server's bound still cuts it while it is read). Every 413 answer is counted in *refused
// (which must outlive the server). The caller installs the check: HttpRoutes::AlsoCheck, after
// the admin token's, or set_pre_routing_handler on a bare server.
httplib::Server::HandlerWithResponse ApplyHttpBodyLimits(httplib::Server& server,
                                                         const HttpBodyLimits& limits,
                                                         std::atomic<uint64_t>* refused);

}  // namespace duplex
