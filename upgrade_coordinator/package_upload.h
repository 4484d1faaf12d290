// POST /packages on the coordinator's admin port: a JSON body {"path": ...} (a package under
// security.package_dir), or any other body taken as the package's tarball, streamed to a
// scratch file inside the package store (never held in memory) and refused once it passes
// limits.package_bytes_max. Runs on the HTTP server's thread; blocking (hashes and copies).
#pragma once

#include <httplib.h>

#include "upgrade_coordinator/cluster_types.h"
#include "upgrade_coordinator/upgrades_api.h"

namespace duplex {

// The answer to one POST /packages, read through `content`.
ApiAnswer ReceivePackage(UpgradesApi& api, const ClusterConfig& config, const httplib::Request& req,
                         const httplib::ContentReader& content);

}  // namespace duplex
