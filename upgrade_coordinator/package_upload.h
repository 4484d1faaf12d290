// POST /packages on the coordinator's admin port: a JSON body {"path": ...} (a package under
// security.package_dir), or any other body taken as the package's tarball, streamed to a
// scratch file inside the package store (never held in memory) and refused once it passes
// limits.package_bytes_max. Runs on the HTTP server's thread; blocking (hashes and copies).
#pragma once

#include <httplib.h>

#include <functional>

#include "replica/http_routes.h"
#include "upgrade_coordinator/cluster_types.h"
#include "upgrade_coordinator/upgrades_api.h"

namespace duplex {

// The answer to one POST /packages, read through `content`.
ApiAnswer ReceivePackage(UpgradesApi& api, const ClusterConfig& config, const httplib::Request& req,
                         const httplib::ContentReader& content);

// The other package, upgrade and features calls (admin_api.md), parsed on the HTTP thread and
// handed to `run` (the coordinator's command queue) to be answered on its loop.
using UpgradeCall = std::function<ApiAnswer(UpgradesApi&)>;
void RouteUpgradeCalls(HttpRoutes& http,
                       const std::function<void(httplib::Response&, UpgradeCall)>& run);

}  // namespace duplex
