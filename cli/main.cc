// `duplex`: one command for operators — up, down, status, kv, switchover, package, upgrade,
// features, coordinator, demo, bench, chaos, lab. Wiring only; the work lives in the libraries.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include "bench/suite.h"
#include "chaos/hooks/crash_point.h"
#include "chaos/hooks/fault_fs.h"
#include "chaos/hooks/mutants.h"
#include "cli/chaos_commands.h"
#include "cli/check_history_command.h"
#include "cli/demo.h"
#include "cli/exit_codes.h"
#include "cli/json_option.h"
#include "cli/keys_command.h"
#include "cli/lab_command.h"
#include "cli/sim_command.h"
#include "cli/upgrade_commands.h"
#include "common/install_layout.h"
#include "common/log.h"
#include "replica/client.h"
#include "upgrade_coordinator/admin_client.h"
#include "upgrade_coordinator/admin_http.h"
#include "upgrade_coordinator/agent/agent_daemon.h"
#include "upgrade_coordinator/coordinator.h"

namespace duplex::cli {
namespace {

std::string SelfPath() {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/self/exe", ec).string();
}

int Fail(const Status& s) {
  std::cerr << "duplex: " << s.message() << "\n";
  return ExitCodeOf(s);
}

// The coordinator's parts that the chaos harness may replace: crash points around its
// record store (--crash-point-file) and the enable-flags-early mutant's feature gate
// (DUPLEX_MUTANTS, read here once).
StatusOr<CoordinatorSeams> ChaosSeams(const std::string& crash_point_file) {
  StatusOr<MutantSet> mutants = MutantSet::FromEnvironment();
  if (!mutants.ok()) return mutants.status();
  CoordinatorSeams seams;
  if (!crash_point_file.empty()) {
    seams.wrap_records = [crash_point_file](std::unique_ptr<RecordStore> records) {
      return WithCrashPoint(std::move(records), crash_point_file);
    };
  }
  if (mutants->Has(Mutant::kEnableFlagsEarly)) seams.features_on_reload = &FeaturesOnAnyReload;
  return seams;
}

int KvCommand(const ClusterConfig& config, const std::string& op,
              const std::vector<std::string>& args) {
  auto options = ReplicaClientOptions(config);  // TLS and the password, as configured
  if (!options.ok()) return Fail(options.status());
  options->attempt_timeout_ms = config.timing.client_timeout_ms;
  Client client(*options);
  std::string upper = op;
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  auto response = client.Call(upper, args);
  if (!response.ok()) return Fail(response.status());
  if (response->code != Code::kOk) {
    std::cerr << "duplex: " << CodeName(response->code) << ": " << response->message << "\n";
    return 1;
  }
  std::cout << response->value << "\n";
  return 0;
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{"duplex — an active/standby pair that survives crashes and upgrades"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "duplex " DUPLEX_VERSION);
  app.fallthrough();  // `duplex up -c x.yaml`: options of the app after the subcommand
  std::string config_flag;
  app.add_option("-c,--config", config_flag, "cluster YAML (default: the cluster last started)");
  std::string token_file;
  app.add_option("--token-file", token_file,
                 "the admin token for the coordinator's API (default: the config's "
                 "security.admin_token_file)");
  bool json = false;

  auto* up = app.add_subcommand(
      "up", "start the coordinator and one agent, which starts both replicas (no hosts: named)");
  auto* down = app.add_subcommand("down", "stop the replicas and the coordinator");
  auto* status = app.add_subcommand(
      "status", "replica, pid, version, role, epoch, seq, lag; the coordinators and who leads");
  status->add_flag("--json", json, "one JSON object on stdout");
  auto* switchover = app.add_subcommand("switchover", "planned: the standby becomes active");
  auto* coordinator = app.add_subcommand("coordinator", "run the coordinator (used by `up`)");
  auto* agent = app.add_subcommand("agent", "run the node agent of one host (used by `up`)");
  std::string agent_host;
  agent->add_option("--host", agent_host, "the host (by name in the config's hosts:) it runs")
      ->required();
  std::string coordinator_host;
  coordinator->add_option("--host", coordinator_host,
                          "the host (by name) whose entry of coordinators: this one is; "
                          "default: the first");
  std::string crash_point_file;
  coordinator->add_option("--crash-point-file", crash_point_file,
                          "chaos testing: exit right after the durable write this file names");
  std::string coordinator_fault_file;
  coordinator->add_option("--fault-file", coordinator_fault_file,
                          "chaos testing: storage faults under the record store of a coordinator "
                          "alone, controlled by this file");
  auto* kv =
      app.add_subcommand("kv", "talk to the kv processor: put k v | get k | del k | incr k n");
  std::string kv_op;
  std::vector<std::string> kv_args;
  kv->add_option("op", kv_op, "put, get, del or incr")->required();
  kv->add_option("args", kv_args, "key [value]");
  DemoOptions demo_options;
  auto* demo = app.add_subcommand("demo", "deploy a pair, write, kill the active, count losses");
  demo->add_option("--writes-after", demo_options.writes_after_kill, "writes after the kill");
  bench::SuiteOptions bench_options;
  auto* bench = app.add_subcommand(
      "bench",
      "benchmarks, side by side with a peer: all, idle, replication, failover, switchover, "
      "memory, upgrade; coordinator (leader failover on a lab of three hosts with etcd)");
  bench
      ->add_option(
          "what", bench_options.what,
          "all | idle | replication | failover | switchover | memory | upgrade | coordinator")
      ->required();
  bench->add_option("--peer", bench_options.peer,
                    "measure a peer too: redis (primary, replica, sentinels; no persistence) "
                    "or redis-fsync (the same with an AOF fsynced on every write)");
  bench->add_flag("--secure", bench_options.secure,
                  "replication: duplex with CURVE on its ZeroMQ links and TLS on its client "
                  "port against duplex without, in one run (the peer column is the plain pair; "
                  "the ratio is the cost); with --peer, Redis with TLS against Redis without too");
  bench->add_option("--runs", bench_options.runs,
                    "repetitions (default: 3 loads, 10 failovers, 5 switchovers)");
  bench->add_option("--seconds", bench_options.seconds, "measurement time per load");
  bench->add_option("--only", bench_options.only,
                    "replication: only these cases, comma-separated (sync_50c,async_1c_p16)");
  bench->add_option("--keys", bench_options.keys, "memory and upgrade: keys loaded first");
  bench->add_option("--steady-seconds", bench_options.steady_seconds,
                    "upgrade: first measure the same load this long without a campaign");
  JsonOption bench_json(*bench,
                        "one JSON object: on stdout (nothing else there), or into the "
                        "file given (the table still prints)");
  bench->add_option("--report", bench_options.report_path, "write an HTML report here");
  bench->add_option("--flame", bench_options.flame_path,
                    "replication and all: profile one extra sync 50-client load with perf on "
                    "both replicas; the active's flame graph (SVG) is written here");
  bench->add_option("--dir", bench_options.dir, "scratch directory (default build/bench)");
  bench->add_option("--hosts", bench_options.hosts,
                    "failover: 2 runs it on a lab of hosts (duplex on two, the redis peer on "
                    "three): host crash, host freeze, remote process crash");
  bench->add_option("--lab-first-host", bench_options.lab_first_host,
                    "--hosts 2, coordinator: the lab's hosts are 127.0.N.1 from N = this on "
                    "(default 1)");
  bench->add_option("--first-port", bench_options.first_port,
                    "--hosts 2, coordinator: ports from this one on (default: free ports picked)");
  bench->add_option("--trials", bench_options.trials,
                    "coordinator: leader failovers measured (default 5), then one leader kill "
                    "with the active's host crashed 100 ms later");
  ChaosOptions chaos_options;
  auto* chaos = app.add_subcommand("chaos", "chaos scenarios: list, run <name|file.yaml>, suite");
  chaos->add_option("what", chaos_options.what, "list | run | suite")->required();
  chaos->add_option("scenario", chaos_options.scenario, "run: a catalogue name or a YAML file");
  chaos->add_option("--seed", chaos_options.seed, "the run's seed (suite: the first)");
  chaos->add_option("--seeds", chaos_options.seeds, "suite: seeds per scenario");
  chaos->add_option("--only", chaos_options.only, "suite: scenarios whose name contains this");
  chaos->add_option("--report", chaos_options.report_dir, "where result.json and report.html go");
  chaos->add_flag("--json", chaos_options.json, "one JSON object (suite: the totals)");
  chaos->add_flag("--quiet", chaos_options.quiet, "no progress lines");
  chaos->add_option("--lab-first-host", chaos_options.lab_first_host,
                    "scenarios with hosts: the lab's hosts are 127.0.N.1 from this N (default 1)");
  chaos->add_option("--lab-ports", chaos_options.lab_ports,
                    "scenarios with hosts: the cluster's ports from this range (e.g. 17000-17999)");
  SimCommandOptions sim_options;
  auto* sim = app.add_subcommand("sim", "deterministic simulation: --seeds N, or --seed S --trace");
  sim->add_option("--seed", sim_options.seed, "the seed replayed, or the first of --seeds");
  sim->add_option("--seeds", sim_options.seeds, "how many seeds to run");
  sim->add_flag("--trace", sim_options.trace, "print every event of the (one) seed");
  sim->add_flag("--json", sim_options.json, "one JSON object");
  sim->add_flag("--hashes", sim_options.hashes,
                "print every seed's trace hash (two runs must print the same lines)");
  sim->add_option("--jobs", sim_options.jobs, "seeds run in parallel (default 2)");
  sim->add_option("--mutant", sim_options.mutants,
                  "switch on a deliberate bug: ack-before-replication, enable-flags-early, "
                  "skip-epoch-check, skip-fsync, stale-leader, stale-read, "
                  "promote-without-lease-wait, read-uncommitted");
  sim->add_option("--coordinators", sim_options.coordinators,
                  "1 (embedded) or 3 (elected on a simulated etcd); default: drawn per seed")
      ->check(CLI::IsMember({1, 3}));
  UpgradeCommands upgrade_commands(app);  // package, upgrade, features
  LabCommand lab_command(app);
  KeysCommand keys_command(app);
  CheckHistoryCommand check_history(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help and --version exit 0; any parse error is a usage error (2), for every command.
    return ExitCodeOfParse(app.exit(e));
  }

  // The harness commands run the kv test releases (crashing, corrupting, vetoing variants) and
  // the scenario catalogue of a checkout: the .deb ships neither, so they run from a build tree.
  if ((*demo || *bench || *chaos || lab_command.parsed()) && !SelfLayout().build_tree) {
    return Fail(FailedPrecondition(
        "demo, bench, chaos and lab run from a build tree (build/duplex in a checkout: make "
        "build); this duplex is installed (" +
        SelfPath() + "), and its package holds only kv-1.0.0 and kv-2.0.0"));
  }
  if (*demo) return RunDemo(SelfPath(), demo_options);
  if (*bench) {
    bench_options.build_dir = std::filesystem::path(SelfPath()).parent_path().string();
    bench_options.json = bench_json.on_stdout();
    bench_options.json_path = bench_json.path();
    for (int i = 0; i < argc; ++i) bench_options.command += (i ? " " : "") + std::string(argv[i]);
    return bench::RunSuite(bench_options);
  }
  if (*chaos) return RunChaos(SelfPath(), chaos_options);
  if (*sim) return RunSim(sim_options);
  if (check_history.parsed()) return check_history.Run();

  if (auto code = upgrade_commands.RunWithoutConfig()) return *code;
  auto config = LoadConfigOrExplain(config_flag, token_file);
  if (!config.ok()) return Fail(config.status());
  if (lab_command.parsed()) return lab_command.Run(SelfPath(), *config);
  if (keys_command.parsed()) return keys_command.Run(*config);
  if (*coordinator) {
    if (!coordinator_host.empty()) {
      Status selected = SelectCoordinator(&*config, coordinator_host);
      if (!selected.ok()) return Fail(selected);
    }
    InitLogging(config->coordinators.size() > 1 ? "coordinator " + config->coordinator_host
                                                : std::string("coordinator"),
                config->log_level);
    auto seams = ChaosSeams(crash_point_file);
    if (!seams.ok()) return Fail(seams.status());
    FaultEnv faults;  // outlives the coordinator's stores
    if (!coordinator_fault_file.empty()) {
      faults = MakeFaultEnv(coordinator_fault_file);
      seams->record_env = faults.env.get();
    }
    // Before anything binds: beyond loopback, no start without keys and the admin token.
    if (Status s = CheckCoordinatorProtectedMode(*config); !s.ok()) return Fail(s);
    return RunCoordinator(*config, *seams);
  }
  if (*agent) {
    InitLogging("agent " + agent_host, config->log_level);
    const HostConfig* host = FindHost(*config, agent_host);
    if (Status s = CheckAgentProtectedMode(*config, host ? host->address : config->host); !s.ok()) {
      return Fail(s);
    }
    return RunAgent(*config, agent_host);
  }
  // Admin calls: a token file others may read, or none there, is reported before any call.
  if (!*kv) {
    if (auto token = AdminToken(*config); !token.ok()) return Fail(token.status());
  }
  if (*up) {
    Status s = Up(*config, SelfPath(), config->timing.startup_timeout_ms);
    if (!s.ok()) return Fail(s);
    auto st = GetStatus(*config);
    if (st.ok()) std::cout << FormatStatusTable(*st);
    return kExitOk;
  }
  if (*down) {
    Status s = Down(*config);
    if (!s.ok()) return Fail(s);
    std::cout << "stopped " << config->name << "\n";
    return 0;
  }
  if (*status) {
    // With several coordinators, each is asked for its role (a short timeout each).
    auto st = GetStatusWithRoles(*config);
    if (!st.ok()) return Fail(st.status());
    std::cout << (json ? st->dump(2) + "\n" : FormatStatusTable(*st));
    return 0;
  }
  if (*switchover) {
    auto body = Post(*config, "/switchover", config->timing.startup_timeout_ms + 2000);
    if (!body.ok()) return Fail(body.status());
    std::cout << *body;
    return 0;
  }
  if (*kv) return KvCommand(*config, kv_op, kv_args);
  if (auto code = upgrade_commands.Run(*config)) return *code;
  return 0;
}

}  // namespace duplex::cli

int main(int argc, char** argv) { return duplex::cli::Main(argc, argv); }
