// The coordinator's bounds at its edges (limits.*): request bodies on the admin API (package
// uploads on POST /packages may be larger), commands queued for the loop, and ZeroMQ
// messages of too many parts; what each refused, for /status and /metrics. The loop thread
// counts zmq_parts; the HTTP threads count the others (atomics).
#pragma once

#include <atomic>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "upgrade_coordinator/cluster_types.h"

namespace httplib {
class Server;
class Response;
}  // namespace httplib

namespace duplex {

class HttpRoutes;

struct CoordinatorBounds {
  uint64_t zmq_parts = 0;                   // messages of more than zmq_parts_max parts
  std::atomic<uint64_t> http_bodies{0};     // bodies above their bound (413)
  std::atomic<uint64_t> admin_commands{0};  // calls refused: admin_jobs_max already queued
  // {"zmq_parts": n, "http_bodies": n, "admin_commands": n}: GET /status's "bounds".
  nlohmann::json Json() const;
};

// Every body at most limits.http_body_bytes_max, except POST /packages (an upload): at most
// limits.package_bytes_max: checked after the admin token (routes). Before the server listens.
void ApplyAdminHttpLimits(httplib::Server& server, HttpRoutes& routes, const LimitsConfig& limits,
                          CoordinatorBounds* bounds);

// True (with a 503 answer naming the bound, counted) when `queued` commands already wait
// for the loop: limits.admin_jobs_max.
bool AdminQueueFull(size_t queued, const LimitsConfig& limits, CoordinatorBounds* bounds,
                    httplib::Response& res);

}  // namespace duplex
