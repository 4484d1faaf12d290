// The admin HTTP of a cluster, both ends, as the config's security: section asks: HTTPS when
// security.tls.http (verified with tls.ca_file), the admin token (security.admin_token_file)
// on every call but the open health pages, the replicas' client-port credentials for the
// clients duplex itself runs (kv, the coordinator's digests, the chaos workload), and each
// process's protected-mode check. Stateless functions; AdminHttp is owned by the coordinator.
#pragma once

#include <httplib.h>

#include <memory>
#include <string>

#include "common/status.h"
#include "replica/access_control.h"
#include "replica/client.h"
#include "replica/http_routes.h"
#include "upgrade_coordinator/cluster_types.h"

namespace duplex {

// The coordinator's admin server: routes register through `routes`; refusals are counted
// in `refused` (its /metrics shows them).
struct AdminHttp {
  std::shared_ptr<AuthCounters> refused;
  std::unique_ptr<httplib::Server> server;
  std::unique_ptr<HttpRoutes> routes;
};
StatusOr<std::unique_ptr<AdminHttp>> MakeAdminHttp(const ClusterConfig& config,
                                                   std::shared_ptr<AuthCounters> refused);

// The token the admin client sends ("" when none is configured). Errors name the file: it
// must be readable by its owner only.
StatusOr<std::string> AdminToken(const ClusterConfig& config);

// An HTTP client of the cluster's HTTP ports (a coordinator's admin API, a replica's /role):
// https verified with the CA when security.tls.http, and the admin token as a bearer token.
httplib::Client AdminHttpClient(const ClusterConfig& config, const std::string& address, int port,
                                int timeout_ms);

// Client options to reach the replicas' client ports: endpoints, TLS (the CA; the client
// certificate client.crt/client.key beside it when the replicas ask for one) and the password.
StatusOr<ClientOptions> ReplicaClientOptions(const ClusterConfig& config);

// Protected mode (replica/access_control.h) of the coordinator and of an agent: beyond
// loopback, a coordinator needs CURVE keys and the admin token, an agent CURVE keys.
Status CheckCoordinatorProtectedMode(const ClusterConfig& config);
Status CheckAgentProtectedMode(const ClusterConfig& config, const std::string& address);

}  // namespace duplex
