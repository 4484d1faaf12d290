#include "replica/replica_main.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>

#include "chaos/hooks/fault_fs.h"
#include "chaos/hooks/mutants.h"
#include "chaos/hooks/skewed_clock.h"
#include "common/log.h"
#include "common/net.h"
#include "replica/access_control.h"
#include "replica/curve_auth.h"
#include "replica/daemon.h"

namespace duplex {
namespace {

// The chaos checker's self-test: the bugs the harness asked for, as the options that have
// them (acknowledge after the local commit only, never fsync, a catch-up rule that keeps a
// deposed active's entries, and the read rules that answer stale or uncommitted reads).
void ApplyMutants(const MutantSet& mutants, DaemonOptions* o) {
  if (mutants.Has(Mutant::kAckBeforeReplication)) o->replica.async = true;
  if (mutants.Has(Mutant::kSkipFsync)) o->fsync = false;
  if (mutants.Has(Mutant::kSkipEpochCheck)) o->replica.tail_resumes = &TailResumesInAnyEpoch;
  ApplyReadMutants(mutants, &o->replica);
}

// The bounds of limits.* (the cluster config's names, as flags): the agent passes each.
void AddLimitFlags(CLI::App& app, DaemonOptions* o) {
  auto positive = CLI::Range(uint64_t{1}, uint64_t{1} << 62);
  app.add_option("--client-connections-max", o->client_connections_max,
                 "client connections at once; more are closed at accept")
      ->check(positive);
  app.add_option("--client-idle-timeout-ms", o->client_idle_timeout_ms,
                 "a client connection with no frame this long is closed")
      ->check(positive);
  app.add_option("--client-partial-frame-ms", o->client_partial_frame_ms,
                 "a client connection leaving a frame unfinished this long is closed")
      ->check(positive);
  app.add_option("--client-input-bytes-max", o->client_input_bytes_max,
                 "bytes of unfinished frames across client connections; above it the "
                 "connections holding the most are closed")
      ->check(positive);
  app.add_option("--zmq-parts-max", o->zmq_parts_max,
                 "parts per ZeroMQ message; a message of more is dropped unread")
      ->check(CLI::Range(size_t{3}, size_t{64}));  // zmq_util.h's kZmqPartsMaxLimit
  app.add_option("--http-body-bytes-max", o->http_body_bytes_max, "HTTP request bodies")
      ->check(positive);
  app.add_option("--epoch-step-max", o->replica.epoch_step_max,
                 "an epoch or id more than this above the highest known is refused")
      ->check(positive);
  app.add_option("--admin-jobs-max", o->replica.admin_jobs_max,
                 "digest and checkpoint jobs under way at once; more are refused")
      ->check(positive);
}

// --curve-secret-file, --curve-keys and --curve-coordinators (all or none): this replica's
// CURVE secret key, every member's public key, and the member of each --coordinator endpoint.
struct CurveFlags {
  std::string secret_file, keys, coordinators;

  void Add(CLI::App& app) {
    app.add_option("--curve-secret-file", secret_file,
                   "CURVE: this replica's secret key (Z85, mode 0600); CURVE on every ZeroMQ link");
    app.add_option("--curve-keys", keys,
                   "CURVE: every member's public key, member=Z85,... (the allow-list)");
    app.add_option("--curve-coordinators", coordinators,
                   "CURVE: the member of each --coordinator endpoint, in its order "
                   "(coordinator.h1,coordinator.h2)");
  }
  Status Apply(DaemonOptions* o) const;
};

Status CurveFlags::Apply(DaemonOptions* o) const {
  if (secret_file.empty() && keys.empty() && coordinators.empty()) return Status::Ok();
  if (secret_file.empty() || keys.empty() || coordinators.empty()) {
    return InvalidArgument(
        "CURVE needs all of --curve-secret-file, --curve-keys and --curve-coordinators");
  }
  StatusOr<std::string> secret = ReadCurveSecretFile(secret_file);
  if (!secret.ok()) return InvalidArgument("--curve-secret-file: " + secret.status().message());
  StatusOr<std::map<std::string, std::string>> members = ParseCurveKeys(keys);
  if (!members.ok()) return members.status();
  o->curve = {ReplicaMember(o->replica.name), *secret, *members};
  o->coordinator_members.clear();
  for (size_t start = 0; start <= coordinators.size();) {
    const size_t comma = std::min(coordinators.find(',', start), coordinators.size());
    const std::string member = coordinators.substr(start, comma - start);
    if (members->count(member) == 0) {
      return InvalidArgument("--curve-coordinators: '" + member + "' has no key in --curve-keys");
    }
    o->coordinator_members.push_back(member);
    start = comma + 1;
  }
  if (o->coordinator_members.size() != o->coordinator_endpoints.size()) {
    return InvalidArgument("--curve-coordinators names " +
                           std::to_string(o->coordinator_members.size()) + " members for " +
                           std::to_string(o->coordinator_endpoints.size()) + " --coordinator");
  }
  return Status::Ok();
}

// --coordinator, then the CURVE flags that name each coordinator's member.
Status ApplyLinkFlags(const std::string& coordinators, const CurveFlags& curve, DaemonOptions* o) {
  StatusOr<std::vector<std::string>> endpoints = ParseCoordinatorEndpoints(coordinators);
  if (!endpoints.ok()) return endpoints.status();
  o->coordinator_endpoints = std::move(endpoints).value();
  return curve.Apply(o);
}

// The TLS and client-credential flags (the agent passes them from the config's security:
// section), and protected mode: a replica bound beyond loopback must speak CURVE (the
// --curve-* flags, applied first) and ask clients for a password or a client certificate.
struct AccessFlags {
  std::string cert_file, key_file, ca_file, client_certs = "none", password_file;
  std::string admin_token_file;
  bool tls_client_port = false, tls_http = false, open_health = true;

  void Add(CLI::App& app) {
    app.add_option("--tls-cert", cert_file, "TLS certificate (PEM) of the client and HTTP ports");
    app.add_option("--tls-key", key_file, "its private key (PEM)");
    app.add_option("--tls-ca", ca_file, "the CA that signs client certificates");
    app.add_option("--tls-client-certs", client_certs, "none, optional or required")
        ->check(CLI::IsMember({"none", "optional", "required"}));
    app.add_flag("--tls-client-port", tls_client_port, "TLS on the client port");
    app.add_flag("--tls-http", tls_http, "TLS (HTTPS) on the HTTP port");
    app.add_option("--client-password-file", password_file,
                   "clients must send this password in an AUTH frame first (file mode 0600)");
    app.add_option("--admin-token-file", admin_token_file,
                   "the HTTP port's routes need this bearer token (file mode 0600)");
    app.add_option("--open-health", open_health,
                   "with --admin-token-file: whether GET /role, /status and /metrics stay open "
                   "(true, the default) or need the token too (false)");
  }

  Status Apply(DaemonOptions* o) const {
    if ((tls_client_port || tls_http) && (cert_file.empty() || key_file.empty())) {
      return InvalidArgument("--tls-client-port and --tls-http need --tls-cert and --tls-key");
    }
    if (!cert_file.empty()) {
      auto certs = ParsePeerCerts(client_certs);
      if (!certs.ok()) return certs.status();
      o->tls = TlsServerFiles{cert_file, key_file, ca_file, *certs};
      o->tls_client_port = tls_client_port;
      o->tls_http = tls_http;
    }
    if (!password_file.empty()) {
      auto password = ReadSecretFile(password_file, "--client-password-file");
      if (!password.ok()) return password.status();
      o->client_password = *password;
    }
    if (!admin_token_file.empty()) {
      auto token = ReadSecretFile(admin_token_file, "--admin-token-file");
      if (!token.ok()) return token.status();
      o->admin_token = *token;
    }
    o->open_health = open_health;
    std::vector<std::string> missing;
    if (!o->curve.on()) missing.push_back("security.public_keys (CURVE keys of every member)");
    const bool certs_required =
        o->tls && o->tls_client_port && o->tls->client_certs == PeerCerts::kRequired;
    if (o->client_password.empty() && !certs_required) {
      missing.push_back(
          "security.client_password_file (clients' AUTH password), or security.tls with "
          "client_certs: required");
    }
    return CheckProtectedMode("replica " + o->replica.name, o->host, missing);
  }
};

int NotStarted(const DaemonOptions& o, const Status& why) {
  std::fprintf(stderr, "replica %s not started: %s\n", o.replica.name.c_str(),
               why.message().c_str());
  return 2;
}

// "tcp://host:port" with a port in 1..65535; the host is a name or an address.
Status CheckCoordinatorEndpoint(std::string_view item, size_t index) {
  const std::string where = "--coordinator: item " + std::to_string(index + 1);
  if (item.empty()) return InvalidArgument(where + " is empty (a stray comma?)");
  const std::string quoted = "'" + std::string(item) + "'";
  const std::string_view scheme = "tcp://";
  const size_t colon = item.rfind(':');
  const bool shaped = item.starts_with(scheme) && colon != std::string_view::npos &&
                      colon > scheme.size() && colon + 1 < item.size();
  if (!shaped) return InvalidArgument(where + ": " + quoted + " is not tcp://host:port");
  const std::string_view host = item.substr(scheme.size(), colon - scheme.size());
  if (host.find_first_of(";/ \t") != std::string_view::npos) {
    return InvalidArgument(where + ": " + quoted + " has a bad host '" + std::string(host) + "'");
  }
  const std::string_view port = item.substr(colon + 1);
  const bool digits = port.size() <= 5 && port.find_first_not_of("0123456789") == port.npos;
  if (!digits) return InvalidArgument(where + ": " + quoted + " has no port number after the host");
  const int value = std::stoi(std::string(port));
  if (value < 1 || value > 65535) {
    return InvalidArgument(where + ": " + quoted + ": " + std::string(port) +
                           " is not a port (1..65535)");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::vector<std::string>> ParseCoordinatorEndpoints(std::string_view list) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t comma = list.find(',', start);
    const std::string_view item = list.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    DUPLEX_RETURN_IF_ERROR(CheckCoordinatorEndpoint(item, out.size()));
    if (std::find(out.begin(), out.end(), item) != out.end()) {
      return InvalidArgument("--coordinator: " + std::string(item) + " is listed twice");
    }
    out.emplace_back(item);
    if (out.size() > kCoordinatorEndpointsMax) {
      return InvalidArgument("--coordinator: more than " +
                             std::to_string(kCoordinatorEndpointsMax) + " coordinators");
    }
    if (comma == std::string_view::npos) return out;
    start = comma + 1;
  }
}

int ReplicaMain(int argc, char** argv, std::unique_ptr<Processor> processor) {
  DaemonOptions o;
  std::string mode = "sync";
  std::string fault_file;
  std::string coordinators;
  CurveFlags curve;
  AccessFlags access;
  CLI::App app{processor->Name() + " " + processor->Version() + " — a duplex replica"};
  access.Add(app);
  app.add_option("--name", o.replica.name, "replica name")->required();
  app.add_option("--host", o.host, "address to bind");
  app.add_option("--port", o.port, "replication port (ZeroMQ: the standby)")->required();
  app.add_option("--client-port", o.client_port, "client port (TCP, length-prefixed frames)")
      ->required();
  app.add_option("--http-port", o.http_port, "HTTP port for /role and /status")->required();
  app.add_option("--coordinator", coordinators,
                 "the coordinators' control endpoints, comma-separated: "
                 "tcp://h1:7401,tcp://h2:7401 (one for a single coordinator)")
      ->required();
  app.add_option("--data-dir", o.data_dir, "RocksDB directory")->required();
  curve.Add(app);
  app.add_option("--archive-dir", o.replica.archive_dir, "where upgrade backups may be written");
  app.add_option("--mode", mode, "sync or async")->check(CLI::IsMember({"sync", "async"}));
  app.add_option("--heartbeat-ms", o.replica.heartbeat_ms);
  app.add_option("--lease-ms", o.replica.lease_ms);
  app.add_option("--ack-timeout-ms", o.replica.ack_timeout_ms);
  app.add_option("--max-batch-ops", o.replica.batch_ops_max);
  app.add_option("--max-lag-ops", o.replica.lag_ops_max);
  app.add_option("--max-queue", o.replica.queue_max);
  app.add_option("--session-expiry-ms", o.replica.session_expiry_ms,
                 "idle client sessions (answers kept for retries) are erased after this");
  app.add_option("--snapshot-chunk-bytes", o.replica.snapshot_chunk_bytes);
  app.add_option("--log-retain-ops", o.log_retain_ops);
  app.add_option("--max-frame-bytes", o.frame_bytes_max);
  app.add_option("--log-level", o.log_level);
  app.add_option("--fault-file", fault_file,
                 "chaos testing: storage faults and wall clock skew controlled by this file");
  AddLimitFlags(app, &o);
  bool no_fsync = false;
  app.add_flag("--no-fsync", no_fsync, "do not fsync commits (benchmarks of the async path only)");
  CLI11_PARSE(app, argc, argv);
  if (Status s = ApplyLinkFlags(coordinators, curve, &o); !s.ok()) return NotStarted(o, s);
  o.replica.async = mode == "async";
  o.fsync = !no_fsync;
  StatusOr<MutantSet> mutants = MutantSet::FromEnvironment();
  if (!mutants.ok()) return NotStarted(o, mutants.status());
  ApplyMutants(*mutants, &o);
  o.replica.endpoint = TcpEndpoint(o.host, o.client_port);
  InitLogging("replica " + o.replica.name, o.log_level);
  if (Status s = access.Apply(&o); !s.ok()) return NotStarted(o, s);
  // The fault layer under the store and the clock it skews outlive the daemon.
  FaultEnv faults;
  std::unique_ptr<SkewedWallClock> skewed_clock;
  if (!fault_file.empty()) {
    faults = MakeFaultEnv(fault_file);
    skewed_clock = std::make_unique<SkewedWallClock>(*faults.fs);
    o.env = faults.env.get();
    o.wall_clock = skewed_clock.get();
  }
  return RunReplicaDaemon(o, processor.get());
}

}  // namespace duplex
