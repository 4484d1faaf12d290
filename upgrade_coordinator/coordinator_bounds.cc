#include "upgrade_coordinator/coordinator_bounds.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <string>

#include "replica/http_limits.h"
#include "replica/http_routes.h"

namespace duplex {

nlohmann::json CoordinatorBounds::Json() const {
  return {{"zmq_parts", zmq_parts},
          {"http_bodies", http_bodies.load()},
          {"admin_commands", admin_commands.load()}};
}

void ApplyAdminHttpLimits(httplib::Server& server, HttpRoutes& routes, const LimitsConfig& limits,
                          CoordinatorBounds* bounds) {
  // The package upload route is the packages' (upgrades_api); only its bound is set here.
  routes.AlsoCheck(ApplyHttpBodyLimits(
      server, {limits.http_body_bytes_max, limits.package_bytes_max, {"/packages"}},
      &bounds->http_bodies));
}

bool AdminQueueFull(size_t queued, const LimitsConfig& limits, CoordinatorBounds* bounds,
                    httplib::Response& res) {
  if (queued < limits.admin_jobs_max) return false;
  uint64_t n = ++bounds->admin_commands;
  if (n <= 100 || n % 1000 == 0) {
    spdlog::warn("admin call refused: {} calls wait for the loop (limits.admin_jobs_max)", queued);
  }
  res.status = 503;
  res.set_content(std::to_string(queued) +
                      " admin calls are waiting, the most limits.admin_jobs_max (" +
                      std::to_string(limits.admin_jobs_max) + ") allows; try again later\n",
                  "text/plain");
  return true;
}

}  // namespace duplex
