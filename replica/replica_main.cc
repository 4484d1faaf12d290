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
#include "replica/curve_auth.h"
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

}  // namespace

int ReplicaMain(int argc, char** argv, std::unique_ptr<Processor> processor) {
  DaemonOptions o;
  std::string mode = "sync";
  std::string fault_file;
  std::string coordinators;
  CurveFlags curve;
  CLI::App app{processor->Name() + " " + processor->Version() + " — a duplex replica"};
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
  bool no_fsync = false;
  app.add_flag("--no-fsync", no_fsync, "do not fsync commits (benchmarks of the async path only)");
  CLI11_PARSE(app, argc, argv);
  if (Status s = ApplyLinkFlags(coordinators, curve, &o); !s.ok()) {
    std::fprintf(stderr, "replica %s not started: %s\n", o.replica.name.c_str(),
                 s.message().c_str());
    return 2;
  }
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
