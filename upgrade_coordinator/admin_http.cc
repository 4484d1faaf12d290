#include "upgrade_coordinator/admin_http.h"

#include <chrono>
#include <filesystem>

#include "common/net.h"
#include "replica/tls.h"

namespace duplex {
namespace {

constexpr int kConnectTimeoutMs = 2000;

PeerCerts PeerCertsOf(ClientCerts certs) {
  switch (certs) {
    case ClientCerts::kNone:
      return PeerCerts::kNone;
    case ClientCerts::kOptional:
      return PeerCerts::kOptional;
    case ClientCerts::kRequired:
      return PeerCerts::kRequired;
  }
  return PeerCerts::kNone;
}

bool HttpsOn(const ClusterConfig& config) {
  return config.security.tls && config.security.tls->http;
}

// The client certificate `duplex keys init --tls` writes beside the CA.
std::string BesideCa(const TlsConfig& tls, const char* name) {
  return (std::filesystem::path(tls.ca_file).parent_path() / name).string();
}

}  // namespace

StatusOr<std::unique_ptr<AdminHttp>> MakeAdminHttp(const ClusterConfig& config,
                                                   std::shared_ptr<AuthCounters> refused) {
  auto http = std::make_unique<AdminHttp>();
  http->refused = std::move(refused);
  std::optional<TlsServerFiles> files;
  if (HttpsOn(config)) {
    const TlsConfig& tls = *config.security.tls;
    files = TlsServerFiles{tls.cert_file, tls.key_file, tls.ca_file, PeerCertsOf(tls.client_certs)};
  }
  auto server = MakeHttpServer(files ? &*files : nullptr);
  if (!server.ok())
    return Status(server.status().code(), "admin API: " + server.status().message());
  http->server = std::move(server).value();
  auto token = AdminToken(config);
  if (!token.ok()) return token.status();
  http->routes = std::make_unique<HttpRoutes>(
      http->server.get(), HttpAccess{*token, config.security.open_health}, http->refused.get());
  return http;
}

StatusOr<std::string> AdminToken(const ClusterConfig& config) {
  if (config.security.admin_token_file.empty()) return std::string();
  return ReadSecretFile(config.security.admin_token_file, "security.admin_token_file");
}

httplib::Client AdminHttpClient(const ClusterConfig& config, const std::string& address, int port,
                                int timeout_ms) {
  const bool https = HttpsOn(config);
  httplib::Client http((https ? "https://" : "http://") + BracketedHost(address) + ":" +
                       std::to_string(port));
  if (https) {
    IgnoreBrokenPipes();  // a server that refuses before reading the body closes its end
    http.set_ca_cert_path(config.security.tls->ca_file.c_str());
    http.enable_server_certificate_verification(true);
  }
  // An unreadable token file was reported when the config was loaded (CheckAdminToken); here
  // the call goes without one and the coordinator's 401 says what is missing.
  if (auto token = AdminToken(config); token.ok() && !token->empty()) {
    http.set_bearer_token_auth(token->c_str());
  }
  http.set_connection_timeout(std::chrono::milliseconds(std::min(kConnectTimeoutMs, timeout_ms)));
  http.set_read_timeout(std::chrono::milliseconds(timeout_ms));
  http.set_write_timeout(std::chrono::milliseconds(timeout_ms));
  return http;
}

StatusOr<ClientOptions> ReplicaClientOptions(const ClusterConfig& config) {
  ClientOptions options;
  for (const ReplicaConfig& r : config.replicas) {
    options.endpoints.push_back(TcpEndpoint(r.host, r.client_port));  // as ReplicaEndpoints
  }
  const SecurityConfig& security = config.security;
  if (security.tls && security.tls->client_port) {
    options.tls_ca_file = security.tls->ca_file;
    if (security.tls->client_certs != ClientCerts::kNone) {
      options.tls_cert_file = BesideCa(*security.tls, "client.crt");
      options.tls_key_file = BesideCa(*security.tls, "client.key");
    }
  }
  if (!security.client_password_file.empty()) {
    auto password = ReadSecretFile(security.client_password_file, "security.client_password_file");
    if (!password.ok()) return password.status();
    options.password = *password;
  }
  return options;
}

Status CheckCoordinatorProtectedMode(const ClusterConfig& config) {
  std::vector<std::string> missing;
  if (!config.security.curve()) {
    missing.push_back("security.public_keys and security.keys_dir (CURVE keys of every member)");
  }
  if (config.security.admin_token_file.empty()) {
    missing.push_back("security.admin_token_file (the admin API's bearer token)");
  }
  std::string who = "coordinator";
  if (!config.coordinator_host.empty()) who += " " + config.coordinator_host;
  return CheckProtectedMode(who, config.host, missing);
}

Status CheckAgentProtectedMode(const ClusterConfig& config, const std::string& address) {
  std::vector<std::string> missing;
  if (!config.security.curve()) {
    missing.push_back("security.public_keys and security.keys_dir (CURVE keys of every member)");
  }
  return CheckProtectedMode("agent", address, missing);
}

}  // namespace duplex
