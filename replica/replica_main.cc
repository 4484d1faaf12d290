#include "replica/replica_main.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "chaos/hooks/fault_fs.h"
#include "chaos/hooks/mutants.h"
#include "chaos/hooks/skewed_clock.h"
#include "common/log.h"
#include "common/net.h"
#include "replica/access_control.h"
#include "replica/daemon.h"

namespace duplex {
namespace {

// The chaos checker's self-test: the bugs the harness asked for, as the options that have
// them (acknowledge after the local commit only, never fsync, a catch-up rule that keeps a
// deposed active's entries).
void ApplyMutants(const MutantSet& mutants, DaemonOptions* o) {
  if (mutants.Has(Mutant::kAckBeforeReplication)) o->replica.async = true;
  if (mutants.Has(Mutant::kSkipFsync)) o->fsync = false;
  if (mutants.Has(Mutant::kSkipEpochCheck)) o->replica.tail_resumes = &TailResumesInAnyEpoch;
}

// The TLS and client-credential flags (the agent passes them from the config's security:
// section), and protected mode: a replica bound beyond loopback must ask clients for a
// password or a client certificate.
struct AccessFlags {
  std::string cert_file, key_file, ca_file, client_certs = "none", password_file;
  bool tls_client_port = false, tls_http = false;

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
    std::vector<std::string> missing;
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

}  // namespace

int ReplicaMain(int argc, char** argv, std::unique_ptr<Processor> processor) {
  DaemonOptions o;
  std::string mode = "sync";
  std::string fault_file;
  std::string coordinators;
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
  bool no_fsync = false;
  app.add_flag("--no-fsync", no_fsync, "do not fsync commits (benchmarks of the async path only)");
  CLI11_PARSE(app, argc, argv);
  StatusOr<std::vector<std::string>> endpoints = ParseCoordinatorEndpoints(coordinators);
  if (!endpoints.ok()) {
    std::fprintf(stderr, "replica %s not started: %s\n", o.replica.name.c_str(),
                 endpoints.status().message().c_str());
    return 2;
  }
  o.coordinator_endpoints = std::move(endpoints).value();
  o.replica.async = mode == "async";
  o.fsync = !no_fsync;
  StatusOr<MutantSet> mutants = MutantSet::FromEnvironment();
  if (!mutants.ok()) {
    std::fprintf(stderr, "replica %s not started: %s\n", o.replica.name.c_str(),
                 mutants.status().message().c_str());
    return 2;
  }
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
