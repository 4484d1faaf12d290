#include "bench/suite.h"

#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <vector>

#include "bench/coordinator_bench.h"
#include "bench/duplex_system.h"
#include "bench/figures.h"
#include "bench/flame.h"
#include "bench/hosts_system.h"
#include "bench/profile.h"
#include "bench/redis_peer.h"
#include "bench/report.h"

namespace duplex::bench {
namespace {

constexpr const char* kBenchmarks[] = {"replication", "failover", "switchover", "memory",
                                       "upgrade"};

struct ReplicationCase {
  bool sync;
  int clients, pipeline;
  std::string Name() const {
    return std::string(sync ? "sync" : "async") + "_" + std::to_string(clients) + "c" +
           (pipeline > 1 ? "_p" + std::to_string(pipeline) : "");
  }
};

std::vector<ReplicationCase> ReplicationCases() {
  std::vector<ReplicationCase> cases;
  for (bool sync : {true, false}) {
    for (int clients : {1, 50}) {
      for (int pipeline : {1, 16}) cases.push_back({sync, clients, pipeline});
    }
  }
  return cases;
}

std::vector<std::string> SplitCommas(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// Every case when `only` is empty, else those it names.
bool Chosen(const std::string& name, const std::string& only) {
  if (only.empty()) return true;
  for (const std::string& item : SplitCommas(only)) {
    if (item == name) return true;
  }
  return false;
}

struct Run {
  const SuiteOptions& options;
  DuplexSystem& duplex;
  System* peer;  // null without --peer
  Figures figures;
  int failures = 0;
  // --secure --peer redis: a second comparison in the same run, Redis with TLS (`second`)
  // against Redis plain, its trials interleaved with duplex's.
  System* second = nullptr;
  System* second_peer = nullptr;
  Figures second_figures{};

  bool Selected(const std::string& what) const {
    return options.what == "all" || options.what == what;
  }
  int Runs(int default_runs) const { return options.runs > 0 ? options.runs : default_runs; }

  // The sides in the order of this repetition: alternate who goes first.
  std::vector<std::pair<System*, Side>> Sides(int rep) {
    std::vector<std::pair<System*, Side>> sides = {{&duplex, Side::kDuplex}};
    if (peer != nullptr) {
      sides.emplace_back(peer, Side::kPeer);
      if (rep % 2 == 1) std::swap(sides[0], sides[1]);
    }
    return sides;
  }

  template <typename T>
  bool Ok(const StatusOr<T>& result, System& system, const std::string& what) {
    if (result.ok()) return true;
    ++failures;
    std::cerr << "bench: " << system.Name() << " " << what << ": " << result.status().ToString()
              << "\n";
    return false;
  }

  void Progress(const std::string& line) const {
    if (!options.json) std::cerr << line << "\n";
  }

  // The second comparison's sides, alternating as Sides does.
  std::vector<std::pair<System*, Side>> SecondSides(int rep) {
    std::vector<std::pair<System*, Side>> sides = {{second, Side::kDuplex},
                                                   {second_peer, Side::kPeer}};
    if (rep % 2 == 1) std::swap(sides[0], sides[1]);
    return sides;
  }

  void Replication() {
    for (int rep = 0; rep < Runs(3); ++rep) {
      for (const ReplicationCase& c : ReplicationCases()) {
        if (!Chosen(c.Name(), options.only)) continue;
        // Which comparison goes first alternates too: both see the machine in both orders.
        if (second != nullptr && rep % 2 == 1) LoadCase(second_figures, SecondSides(rep), c, rep);
        LoadCase(figures, Sides(rep), c, rep);
        if (second != nullptr && rep % 2 == 0) LoadCase(second_figures, SecondSides(rep), c, rep);
      }
    }
  }

  // One replication case on each of `sides`, into `into`.
  void LoadCase(Figures& into, const std::vector<std::pair<System*, Side>>& sides,
                const ReplicationCase& c, int rep) {
    std::string mode = c.sync ? "sync" : "async";
    std::string key = c.Name() + "_";
    std::string label = mode + ", " + std::to_string(c.clients) +
                        (c.clients == 1 ? " client" : " clients") +
                        (c.pipeline > 1 ? ", pipeline " + std::to_string(c.pipeline) : "");
    std::string ran = c.sync ? "SET + WAIT 1 0" : "SET, replica attached";
    into.At(key + "writes_per_s", "writes/s, " + label, "1/s", Better::kHigher, ran);
    into.At(key + "latency_ms_p50", "latency p50, " + label, "ms", Better::kLower, ran);
    into.At(key + "latency_ms_p99", "latency p99, " + label, "ms", Better::kLower, ran);
    into.At(key + "cpu_us_per_write", "server CPU per write, " + label, "us", Better::kLower,
            ran + "; primary, replica, Sentinels");
    if (c.pipeline == 1) {
      into.At(key + "lag_ms_p50", "standby lag p50, " + label, "ms", Better::kLower, ran);
      into.At(key + "lag_ms_p99", "standby lag p99, " + label, "ms", Better::kLower, ran);
    }
    for (auto [system, side] : sides) {
      Progress("  " + system->Name() + " replication " + label);
      auto trial = system->Load({c.sync, c.clients, c.pipeline, options.seconds});
      if (!Ok(trial, *system, "load " + label)) continue;
      const LoadResult& r = trial->result;
      into.Add(key + "writes_per_s", side, r.seconds > 0 ? r.ok / r.seconds : 0);
      into.Add(key + "latency_ms_p50", side, Quantile(r.latency_ms, 0.50));
      into.Add(key + "latency_ms_p99", side, Quantile(r.latency_ms, 0.99));
      if (r.ok > 0) into.Add(key + "cpu_us_per_write", side, trial->server_cpu_s * 1e6 / r.ok);
      if (c.pipeline == 1) {
        into.Add(key + "lag_ms_p50", side, trial->lag_ms_p50);
        into.Add(key + "lag_ms_p99", side, trial->lag_ms_p99);
      }
      if (rep == 0 && c.pipeline == 1) into.AddSeries("latency, " + label, side, r.latency_ms);
    }
  }

  // The profile (SuiteOptions::flame_path): perf on the active and the standby during one
  // extra sync 50-client load of duplex. Fills `profile` (bench/profile.h's JSON per replica)
  // and `flame_svg`.
  void Profile(const std::string& dir) {
    Progress("  duplex profile: replication sync, 50 clients, perf on both replicas");
    std::vector<ProcessProfile> profiles;
    auto trial = duplex.LoadWith(
        {true, 50, 1, options.seconds},
        [&](pid_t active, pid_t standby,
            const std::function<StatusOr<LoadResult>()>& load) -> StatusOr<LoadResult> {
          auto on_active = PerfAttach::Start(active, dir, "active");
          if (!on_active.ok()) return on_active.status();
          auto on_standby = PerfAttach::Start(standby, dir, "standby");
          if (!on_standby.ok()) return on_standby.status();
          StatusOr<LoadResult> result = load();
          for (auto* attach : {&*on_active, &*on_standby}) {
            if (Status stopped = (*attach)->Stop(); !stopped.ok()) return stopped;
          }
          for (auto* attach : {&*on_active, &*on_standby}) {
            auto p = (*attach)->Finish();
            if (!p.ok()) return p.status();
            profiles.push_back(std::move(p).value());
          }
          return result;
        });
    if (!Ok(trial, duplex, "profile")) return;
    profile = nlohmann::json::object();
    for (const ProcessProfile& p : profiles)
      profile[p.name] = ProfileJson(p, trial->result.ok, trial->result.seconds);
    profile["flame_svg"] = options.flame_path;
    profile["seconds"] = options.seconds;
    flame_svg = RenderFlameSvg(profiles.front().stacks,
                               "duplex active, sync, 50 clients (" + profiles.front().name + ")");
    std::ofstream(options.flame_path) << flame_svg;
    std::ofstream(dir + "/standby.svg")
        << RenderFlameSvg(profiles.back().stacks, "duplex standby, sync, 50 clients");
  }
  nlohmann::json profile{};
  std::string flame_svg{};

  void Failover() {
    for (int signal : {SIGKILL, SIGSTOP}) {
      std::string kind = signal == SIGKILL ? "crash" : "hang";
      std::string how = signal == SIGKILL ? "SIGKILL" : "SIGSTOP";
      figures.At(kind + "_failover_ms", kind + " failover (" + how + " -> first ack)", "ms",
                 Better::kLower, "Sentinel, down-after 1000 ms");
      figures.At(kind + "_lost_writes", "lost acknowledged writes, " + kind + " failover", "writes",
                 Better::kLower, "SET, acknowledged by the primary");
      std::vector<double> duplex_ms, peer_ms;
      for (int rep = 0; rep < Runs(10); ++rep) {
        for (auto [system, side] : Sides(rep)) {
          Progress("  " + system->Name() + " " + kind + " failover, run " +
                   std::to_string(rep + 1));
          auto trial = system->Failover(signal);
          if (!Ok(trial, *system, kind + " failover")) continue;
          if (trial->first_ack_ms >= 0) {
            figures.Add(kind + "_failover_ms", side, trial->first_ack_ms);
            (side == Side::kDuplex ? duplex_ms : peer_ms).push_back(trial->first_ack_ms);
          }
          figures.Add(kind + "_lost_writes", side, static_cast<double>(trial->lost));
        }
      }
      figures.AddSeries("failover timeline, " + kind + " (" + how + ")", Side::kDuplex, duplex_ms);
      if (peer != nullptr) {
        figures.AddSeries("failover timeline, " + kind + " (" + how + ")", Side::kPeer, peer_ms);
      }
    }
  }

  // The two-host failover benchmark: each fault `runs` times on each side, the sides
  // alternating who goes first, as Failover() does on one host.
  void HostsFailover(HostsSystem& duplex_hosts, HostsSystem* peer_hosts) {
    for (HostFault fault : kHostFaults) {
      const std::string key = HostFaultKey(fault);
      const std::string what = fault == HostFault::kHostCrash    ? "host crash"
                               : fault == HostFault::kHostFreeze ? "host freeze"
                                                                 : "process SIGKILL";
      figures.At(key + "_failover_ms", "2 hosts: " + what + " -> first ack", "ms", Better::kLower,
                 "Sentinel, down-after 1000 ms");
      figures.At(key + "_lost_writes", "2 hosts: lost acked writes, " + what, "writes",
                 Better::kLower, "SET, acknowledged by the primary");
      figures.At(key + "_down_ms", "2 hosts: " + what + " -> coordinator sees it", "ms",
                 Better::kLower);
      figures.At(key + "_promoted_ms", "2 hosts: " + what + " -> coordinator promotes", "ms",
                 Better::kLower);
      std::vector<double> duplex_ms, peer_ms;
      for (int rep = 0; rep < Runs(10); ++rep) {
        std::vector<std::pair<HostsSystem*, Side>> sides = {{&duplex_hosts, Side::kDuplex}};
        if (peer_hosts != nullptr) {
          sides.emplace_back(peer_hosts, Side::kPeer);
          if (rep % 2 == 1) std::swap(sides[0], sides[1]);
        }
        for (auto [system, side] : sides) {
          Progress("  " + system->Name() + " " + key + " failover, two hosts, run " +
                   std::to_string(rep + 1));
          auto trial = system->Failover(fault);
          if (!trial.ok()) {
            ++failures;
            std::cerr << "bench: " << system->Name() << " " << key
                      << " failover: " << trial.status().ToString() << "\n";
            continue;
          }
          if (trial->first_ack_ms >= 0) {
            figures.Add(key + "_failover_ms", side, trial->first_ack_ms);
            (side == Side::kDuplex ? duplex_ms : peer_ms).push_back(trial->first_ack_ms);
          } else {
            ++failures;
            std::cerr << "bench: " << system->Name() << " " << key
                      << " failover: no write acknowledged by the other node\n";
          }
          figures.Add(key + "_lost_writes", side, static_cast<double>(trial->lost));
          if (trial->down_ms >= 0) figures.Add(key + "_down_ms", side, trial->down_ms);
          if (trial->promoted_ms >= 0) figures.Add(key + "_promoted_ms", side, trial->promoted_ms);
        }
      }
      figures.AddSeries("failover timeline, " + key + ", two hosts", Side::kDuplex, duplex_ms);
      if (peer_hosts != nullptr) {
        figures.AddSeries("failover timeline, " + key + ", two hosts", Side::kPeer, peer_ms);
      }
    }
  }

  void Switchover() {
    figures.At("switchover_unavailability_ms",
               "planned switchover, longest gap between acks that survived", "ms", Better::kLower,
               "SENTINEL FAILOVER");
    figures.At("switchover_lost_writes", "lost acknowledged writes, switchover", "writes",
               Better::kLower, "SENTINEL FAILOVER");
    for (int rep = 0; rep < Runs(5); ++rep) {
      for (auto [system, side] : Sides(rep)) {
        Progress("  " + system->Name() + " switchover, run " + std::to_string(rep + 1));
        auto trial = system->Switchover();
        if (!Ok(trial, *system, "switchover")) continue;
        figures.Add("switchover_unavailability_ms", side, trial->unavailability_ms);
        figures.Add("switchover_lost_writes", side, static_cast<double>(trial->lost));
      }
    }
  }

  void Memory() {
    std::string n = std::to_string(options.keys);
    figures.At("memory_active_mb", "resident memory, active, " + n + " keys", "MB", Better::kLower,
               "primary");
    figures.At("memory_standby_mb", "resident memory, standby, " + n + " keys", "MB",
               Better::kLower, "replica");
    figures.At("memory_total_mb", "resident memory, both, " + n + " keys", "MB", Better::kLower,
               "primary + replica");
    figures.At("load_keys_per_s", "bulk load, 50 clients, pipeline 8", "keys/s", Better::kHigher,
               "SET, pipelined");
    for (auto [system, side] : Sides(0)) {
      Progress("  " + system->Name() + " memory: loading " + n + " keys");
      auto trial = system->Memory(options.keys);
      if (!Ok(trial, *system, "memory")) continue;
      figures.Add("memory_active_mb", side, trial->active_mb);
      figures.Add("memory_standby_mb", side, trial->standby_mb);
      figures.Add("memory_total_mb", side, trial->active_mb + trial->standby_mb);
      if (trial->load_seconds > 0) {
        figures.Add("load_keys_per_s", side,
                    static_cast<double>(trial->keys) / trial->load_seconds);
      }
    }
  }

  // duplex alone: no peer upgrades itself. Its unavailability is compared with a planned
  // switchover of the same pair kind, measured here when the switchover benchmark did not run.
  nlohmann::json Upgrade() {
    Progress("  duplex rolling upgrade of a pair holding " + std::to_string(options.keys) +
             " keys");
    auto trial = duplex.Upgrade(options.keys, options.steady_seconds,
                                [this](const std::string& line) { Progress(line); });
    if (!Ok(trial, duplex, "upgrade")) return {};
    figures.At("upgrade_duration_ms", "rolling upgrade, total", "ms", Better::kLower);
    figures.At("upgrade_unavailability_ms", "rolling upgrade, longest gap between acks", "ms",
               Better::kLower);
    figures.At("upgrade_failed_requests", "rolling upgrade, failed requests", "requests",
               Better::kLower);
    figures.At("upgrade_lost_writes", "rolling upgrade, lost acknowledged writes", "writes",
               Better::kLower);
    figures.Add("upgrade_duration_ms", Side::kDuplex, trial->duration_ms);
    figures.Add("upgrade_unavailability_ms", Side::kDuplex, trial->unavailability_ms);
    figures.Add("upgrade_failed_requests", Side::kDuplex,
                static_cast<double>(trial->failed_requests));
    figures.Add("upgrade_lost_writes", Side::kDuplex, static_cast<double>(trial->lost));
    figures.At("upgrade_steady_gap_ms", "same load before it, no campaign, longest gap", "ms",
               Better::kLower);
    figures.Add("upgrade_steady_gap_ms", Side::kDuplex, trial->steady_gap_ms);
    const Figure* switchover = figures.Find("switchover_unavailability_ms");
    if (switchover == nullptr || switchover->duplex.empty()) {
      for (int i = 0; i < 3; ++i) {
        Progress("  duplex switchover for comparison, run " + std::to_string(i + 1));
        auto s = duplex.Switchover();
        if (!Ok(s, duplex, "switchover")) continue;
        figures.At("switchover_unavailability_ms",
                   "planned switchover, longest gap between acks that survived", "ms",
                   Better::kLower, "SENTINEL FAILOVER");
        figures.Add("switchover_unavailability_ms", Side::kDuplex, s->unavailability_ms);
      }
      switchover = figures.Find("switchover_unavailability_ms");
    }
    nlohmann::json out = {{"keys", trial->keys},
                          {"outcome", trial->outcome},
                          {"duration_ms", trial->duration_ms},
                          {"unavailability_ms", trial->unavailability_ms},
                          {"unavailability_at_ms", trial->unavailability_at_ms},
                          {"unavailability_step", trial->unavailability_step},
                          {"gap_by_step_ms", nlohmann::json::array()},
                          {"steady_window_ms", trial->steady_window_ms},
                          {"steady_longest_gap_ms", trial->steady_gap_ms},
                          {"failed_requests", trial->failed_requests},
                          {"lost_acknowledged_writes", trial->lost},
                          {"double_applied_requests", trial->double_applied}};
    if (switchover != nullptr && !switchover->duplex.empty()) {
      double one = SpreadOf(switchover->duplex).median;
      out["switchover_unavailability_ms"] = one;  // the older name of switchover_p50_ms
      if (one > 0) out["unavailability_in_switchovers"] = trial->unavailability_ms / one;
    }
    out.update(UpgradeHeadlines(trial->unavailability_ms, trial->steady_gap_ms, switchover));
    for (const auto& [step, ms] : trial->gap_by_step_ms) {
      out["gap_by_step_ms"].push_back({{"step", step}, {"ms", ms}});
    }
    if (trial->end != CampaignState::kCompleted) ++failures;
    return out;
  }
};

double Sum(const Figure* f) {
  double total = 0;
  if (f != nullptr) {
    for (double v : f->duplex) total += v;
  }
  return total;
}

// Prints what a run measured as the options ask: JSON on stdout or into a file, else the table;
// the HTML report. `after_table` adds lines below the table. Returns false when the report
// cannot be written.
bool Emit(const SuiteOptions& options, const Figures& figures, const std::string& peer_name,
          const nlohmann::json& out,
          const std::function<void(std::ostream&)>& after_table = nullptr) {
  if (!options.json_path.empty()) {
    std::ofstream(options.json_path) << out.dump(2) << "\n";
  }
  if (options.json) {
    std::cout << out.dump(2) << "\n";
  } else {
    figures.PrintTable(std::cout, peer_name);
    if (after_table) after_table(std::cout);
  }
  if (options.report_path.empty()) return true;
  Status s = WriteBenchReport(figures, peer_name, options.command, options.report_path);
  if (!s.ok()) {
    std::cerr << "duplex bench: " << s.ToString() << "\n";
    return false;
  }
  if (!options.json) std::cout << "report: " << options.report_path << "\n";
  return true;
}

// `bench failover --hosts 2`: duplex on a lab of two hosts, the peer on three.
int RunHostsSuite(const SuiteOptions& options, const std::string& scratch) {
  LabOptions lab{options.build_dir, scratch + "/duplex-hosts", options.lab_first_host,
                 options.first_port};
  std::unique_ptr<HostsSystem> duplex = MakeDuplexHostsSystem(lab);
  std::unique_ptr<HostsSystem> peer;
  if (!options.peer.empty()) {
    Status installed = RedisPeer::EnsureInstalled();
    if (!installed.ok()) {
      std::cerr << "duplex bench: " << installed.ToString() << "\n";
      return 1;
    }
    LabOptions redis_lab = lab;
    redis_lab.scratch = scratch + "/redis-hosts";
    // The peer's ports follow duplex's eight (coordinator 2, replicas 3 each).
    if (redis_lab.first_port != 0) redis_lab.first_port += 8;
    peer = MakeRedisHostsSystem(redis_lab);
  }
  // Run's one-host duplex, which the two-host benchmark leaves alone: nothing starts until used.
  DuplexSystem unused({options.build_dir, scratch + "/duplex"});
  Run run{options, unused, nullptr, {}, 0};
  run.figures.Note("duplex", duplex->Describe());
  if (peer) run.figures.Note(peer->Name(), peer->Describe());
  run.figures.Note("workload",
                   "three clients on 127.0.0.1 writing unique 16-byte keys continuously (sync "
                   "mode for duplex), each acknowledged write read back after the fault; "
                   "lab hosts on loopback, one machine");
  run.HostsFailover(*duplex, peer.get());
  duplex->Stop();
  if (peer) peer->Stop();
  const std::string peer_name = peer ? peer->Name() : "";
  nlohmann::json out = run.figures.Json(peer_name.empty() ? "peer" : peer_name);
  out["hosts"] = 2;
  out["targets"] = HostTargets(run.figures);
  uint64_t lost = 0;
  for (HostFault fault : kHostFaults) {
    lost += static_cast<uint64_t>(
        Sum(run.figures.Find(HostFaultKey(fault) + std::string("_lost_writes"))));
  }
  out["lost_acknowledged_writes"] = lost;  // duplex, every trial of this run
  if (!Emit(options, run.figures, peer_name, out)) return 1;
  return run.failures == 0 ? 0 : 1;
}

// The coordinator bench's figures for people, after the table: milliseconds whole, ratios
// to two places, "none" for what was not measured.
void PrintCoordinatorLines(std::ostream& out, const nlohmann::json& j) {
  auto fixed = [](const nlohmann::json& v, int places, const char* unit) {
    if (!v.is_number()) return std::string("none");
    std::ostringstream text;
    text << std::fixed << std::setprecision(places) << v.get<double>() << unit;
    return text.str();
  };
  auto ms = [&](const char* key) { return fixed(j.value(key, nlohmann::json()), 0, " ms"); };
  auto times = [&](const char* key) { return fixed(j.value(key, nlohmann::json()), 2, "x"); };
  const nlohmann::json failover = j.value("leader_failover_ms", nlohmann::json::object());
  out << "leader failover (leader coordinator SIGKILLed -> a new leader acting): p50 "
      << fixed(failover.value("p50", nlohmann::json()), 0, " ms") << ", p99 "
      << fixed(failover.value("p99", nlohmann::json()), 0, " ms") << " over "
      << failover.value("samples", nlohmann::json::array()).size() << " trials\n";
  out << "longest gap between acknowledged writes: " << ms("client_gap_during_leader_failover_ms")
      << " during a leader failover, " << ms("steady_gap_ms")
      << " in a steady window as long; ratio " << times("client_gap_ratio") << "\n";
  out << "leader killed, the active's host crashed 100 ms later: first ack on the other "
         "replica after "
      << ms("failover_during_leader_failover_ms") << "; lost writes " << j.value("lost_writes", 0)
      << "\n";
  out << "Patroni on etcd, the issue's figures (not run here): " << kPatroniTunedMs << " ms tuned, "
      << kPatroniDefaultsMs << " ms defaults; speedup vs tuned "
      << times("speedup_vs_patroni_tuned") << ", vs defaults "
      << times("speedup_vs_patroni_defaults") << "\n";
}

// The coordinator bench's samples as figures (duplex only), for the table and the report.
Figures CoordinatorFigures(const CoordinatorSamples& samples) {
  Figures f;
  f.At("leader_failover_ms", "leader SIGKILL -> a new leader acting", "ms", Better::kLower,
       "Patroni (issue 19): 5400 ms tuned, 20800 ms defaults");
  f.At("client_gap_during_leader_failover_ms", "longest ack gap, leader failover", "ms",
       Better::kLower);
  f.At("steady_gap_ms", "longest ack gap, steady window as long", "ms", Better::kLower);
  f.At("failover_during_leader_failover_ms", "leader kill + active host crash -> ack", "ms",
       Better::kLower);
  f.At("lost_writes", "lost acknowledged writes", "writes", Better::kLower);
  for (const LeaderFailoverTrial& t : samples.trials) {
    f.Add("leader_failover_ms", Side::kDuplex, t.leader_failover_ms);
    f.Add("client_gap_during_leader_failover_ms", Side::kDuplex, t.gap_ms);
    f.Add("steady_gap_ms", Side::kDuplex, t.steady_gap_ms);
    f.Add("lost_writes", Side::kDuplex, static_cast<double>(t.lost));
  }
  for (const CombinedTrial& c : samples.combined) {
    if (c.first_ack_ms >= 0)
      f.Add("failover_during_leader_failover_ms", Side::kDuplex, c.first_ack_ms);
    f.Add("lost_writes", Side::kDuplex, static_cast<double>(c.lost));
  }
  return f;
}

// `bench coordinator`: --trials leader failovers on a lab of three hosts with etcd, then the
// leader killed with the active's host crashed 100 ms later.
int RunCoordinatorSuite(const SuiteOptions& options, const std::string& scratch) {
  LabOptions lab{options.build_dir, scratch + "/coordinators", options.lab_first_host,
                 options.first_port};
  std::unique_ptr<CoordinatorLab> duplex = MakeCoordinatorLab(lab);
  CoordinatorSamples samples;
  int failures = 0;
  auto failed = [&](const std::string& what, const Status& status) {
    ++failures;
    std::cerr << "bench: duplex " << what << ": " << status.ToString() << "\n";
  };
  for (int i = 0; i < options.trials; ++i) {
    if (!options.json) std::cerr << "  duplex leader failover, trial " << i + 1 << "\n";
    StatusOr<LeaderFailoverTrial> trial = duplex->LeaderFailover();
    if (!trial.ok()) {
      failed("leader failover", trial.status());
      continue;
    }
    samples.trials.push_back(*trial);
  }
  if (!options.json)
    std::cerr << "  duplex leader killed, the active's host crashed 100 ms later\n";
  StatusOr<CombinedTrial> combined = duplex->LeaderKillThenActiveHostCrash();
  if (combined.ok()) {
    samples.combined.push_back(*combined);
    if (combined->first_ack_ms < 0) {
      failed("leader kill then host crash",
             Unavailable("no write acknowledged by the other replica"));
    }
  } else {
    failed("leader kill then host crash", combined.status());
  }
  Figures figures = CoordinatorFigures(samples);
  figures.Note("duplex", duplex->Describe());
  duplex->Stop();
  figures.Note("workload",
               "three clients on 127.0.0.1 writing unique 16-byte keys continuously in sync mode, "
               "each acknowledged write read back after the trial; lab hosts on loopback, one "
               "machine");
  figures.Note("patroni", "issue 19's figures, not measured here");
  nlohmann::json out = figures.Json("peer");
  out.update(CoordinatorFiguresJson(samples));
  out["hosts"] = 3;
  out["leader_failover_trials"] = nlohmann::json::array();
  for (const LeaderFailoverTrial& t : samples.trials) {
    out["leader_failover_trials"].push_back({{"leader_failover_ms", t.leader_failover_ms},
                                             {"gap_ms", t.gap_ms},
                                             {"window_ms", t.window_ms},
                                             {"steady_gap_ms", t.steady_gap_ms},
                                             {"steady_window_ms", t.steady_window_ms},
                                             {"lost_writes", t.lost}});
  }
  if (combined.ok()) {
    out["failover_during_leader_failover_from_leader_kill_ms"] =
        combined->first_ack_from_leader_kill_ms;
    out["leader_on_active_host"] = combined->same_host;
  }
  if (out.value("lost_writes", 0) != 0) ++failures;
  if (!Emit(options, figures, "", out,
            [&out](std::ostream& text) { PrintCoordinatorLines(text, out); })) {
    return 1;
  }
  return failures == 0 ? 0 : 1;
}

// --hosts and the lab's flags: refused where they do not apply.
// `bench coordinator`'s own flags: three hosts, no peer, a sane number of trials.
Status CheckCoordinatorOptions(const SuiteOptions& options) {
  if (options.hosts != 0 && options.hosts != 3) {
    return InvalidArgument("--hosts " + std::to_string(options.hosts) +
                           ": `bench coordinator` runs on a lab of three hosts");
  }
  if (!options.peer.empty()) {
    return InvalidArgument("--peer " + options.peer +
                           ": `bench coordinator` has no peer (Patroni's figures are the issue's)");
  }
  if (options.trials < 1 || options.trials > 1000) {
    return InvalidArgument("--trials " + std::to_string(options.trials) + ": 1 to 1000");
  }
  return Status::Ok();
}

Status CheckHostsOptions(const SuiteOptions& options) {
  if (options.what == "coordinator") {
    DUPLEX_RETURN_IF_ERROR(CheckCoordinatorOptions(options));
  } else if (options.hosts < 0 || options.hosts > 2) {
    return InvalidArgument("--hosts " + std::to_string(options.hosts) +
                           ": 1 (one machine) or 2 (a lab of hosts on 127.0.N.1)");
  }
  if (options.hosts == 2 && options.what != "failover") {
    return InvalidArgument("--hosts 2 goes with `bench failover` only, not " + options.what);
  }
  if (options.hosts == 2 && !options.peer.empty() && options.peer != "redis") {
    return InvalidArgument("--hosts 2 --peer " + options.peer + ": the two-host peer is redis");
  }
  if (options.lab_first_host < 1 || options.lab_first_host + 2 > 254) {
    return InvalidArgument("--lab-first-host " + std::to_string(options.lab_first_host) +
                           ": the lab's three hosts 127.0.N.1 need N in 1..254");
  }
  if (options.first_port != 0 && (options.first_port < 1024 || options.first_port > 65000)) {
    return InvalidArgument("--first-port " + std::to_string(options.first_port) +
                           ": 0 (free ports) or 1024..65000");
  }
  return Status::Ok();
}

}  // namespace

int RunSuite(const SuiteOptions& options) {
  bool known = options.what == "all" || options.what == "coordinator";
  for (const char* b : kBenchmarks) known = known || options.what == b;
  if (!known) {
    std::cerr << "duplex bench: unknown benchmark \"" << options.what
              << "\" (all, replication, failover, switchover, memory, upgrade, coordinator)\n";
    return 2;
  }
  bool redis = options.peer == "redis" || options.peer == "redis-fsync";
  if (!options.peer.empty() && !redis) {
    std::cerr << "duplex bench: unknown peer \"" << options.peer << "\" (redis, redis-fsync)\n";
    return 2;
  }
  for (const std::string& item : SplitCommas(options.only)) {
    std::string names;
    bool named = false;
    for (const ReplicationCase& c : ReplicationCases()) {
      named = named || c.Name() == item;
      names += (names.empty() ? "" : ", ") + c.Name();
    }
    if (!named) {
      std::cerr << "duplex bench: unknown replication case \"" << item << "\" in --only (" << names
                << ")\n";
      return 2;
    }
  }
  std::string scratch = options.dir.empty() ? options.build_dir + "/bench" : options.dir;
  if (Status hosts = CheckHostsOptions(options); !hosts.ok()) {
    std::cerr << "duplex bench: " << hosts.message() << "\n";
    return 2;
  }
  if (options.secure && options.what != "replication") {
    std::cerr << "duplex bench: --secure measures replication (the pair with CURVE and TLS "
                 "against the same pair without; with --peer, Redis with TLS against Redis "
                 "without), not "
              << options.what << "\n";
    return 2;
  }
  if (!options.flame_path.empty() && options.what != "all" && options.what != "replication") {
    std::cerr << "duplex bench: --flame profiles the replication load (bench all or bench "
                 "replication), not "
              << options.what << "\n";
    return 2;
  }
  if (!options.flame_path.empty()) {
    if (auto perf = PerfBinary(); !perf.ok()) {
      std::cerr << "duplex bench: --flame " << options.flame_path << ": " << perf.status().message()
                << "\n";
      return 2;
    }
  }
  if (options.what == "coordinator") return RunCoordinatorSuite(options, scratch);
  if (options.hosts == 2) return RunHostsSuite(options, scratch);
  // Plain links unless --secure: the figures compare with earlier runs and with Redis, whose
  // replication link is plain too.
  DuplexSystem duplex(
      {options.build_dir, scratch + "/duplex", options.secure, "duplex", options.secure});
  std::unique_ptr<System> peer, second, second_peer;
  if (options.secure) {
    peer = std::make_unique<DuplexSystem>(
        SystemOptions{options.build_dir, scratch + "/duplex-plain", false, "duplex-plain"});
  }
  if (redis && options.what != "upgrade") {
    Status installed = RedisPeer::EnsureInstalled();
    if (!installed.ok()) {
      std::cerr << "duplex bench: " << installed.ToString() << "\n";
      return 1;
    }
    const bool fsync = options.peer == "redis-fsync";
    if (options.secure) {
      SystemOptions tls{options.build_dir, scratch + "/redis-tls", false, "redis-tls", true};
      second = MakeRedisSystem(tls, fsync);
      second_peer = MakeRedisSystem({options.build_dir, scratch + "/redis"}, fsync);
    } else {
      peer = MakeRedisSystem({options.build_dir, scratch + "/redis"}, fsync);
    }
  }
  Run run{options, duplex, peer.get(), {}, 0, second.get(), second_peer.get(), {}};
  run.figures.Note("duplex", duplex.Describe());
  if (peer) run.figures.Note(peer->Name(), peer->Describe());
  if (second) {
    run.second_figures.SetName(second->Name());
    run.second_figures.Note(second->Name(), second->Describe());
    run.second_figures.Note(second_peer->Name(), second_peer->Describe());
  }
  run.figures.Note("workload", "unique 16-byte keys, 32-byte values, loopback TCP, one machine");
  nlohmann::json upgrade;
  if (run.Selected("replication")) run.Replication();
  if (run.Selected("replication") && !options.flame_path.empty()) run.Profile(scratch + "/profile");
  if (run.Selected("failover")) run.Failover();
  if (run.Selected("switchover")) run.Switchover();
  if (run.Selected("memory")) run.Memory();
  if (run.Selected("upgrade")) upgrade = run.Upgrade();
  duplex.Stop();
  if (peer) peer->Stop();
  if (second) {
    second->Stop();
    second_peer->Stop();
  }

  std::string peer_name = peer ? peer->Name() : "";
  nlohmann::json out = run.figures.Json(peer_name.empty() ? "peer" : peer_name);
  if (upgrade.is_object()) out.update(upgrade);  // issue 3's keys, at the top level
  uint64_t lost = 0;
  for (const char* key :
       {"crash_lost_writes", "hang_lost_writes", "switchover_lost_writes", "upgrade_lost_writes"}) {
    lost += static_cast<uint64_t>(Sum(run.figures.Find(key)));
  }
  out["lost_acknowledged_writes"] = lost;  // duplex, every trial of this run
  // --secure --peer redis: Redis's own cost of TLS, measured in the same run.
  if (second) out["redis_tls"] = run.second_figures.Json(second_peer->Name());
  if (run.profile.is_object()) out["profile"] = run.profile;
  if (!options.json_path.empty()) {
    std::ofstream(options.json_path) << out.dump(2) << "\n";
  }
  if (options.json) {
    std::cout << out.dump(2) << "\n";
  } else {
    run.figures.PrintTable(std::cout, peer_name);
    if (second) {
      std::cout << "\n";
      run.second_figures.PrintTable(std::cout, second_peer->Name());
    }
    if (run.profile.is_object()) {
      PrintProfile(std::cout, run.profile);
      std::cout << "flame graph: " << options.flame_path << "\n";
    }
    if (upgrade.is_object()) {
      std::cout << "rolling upgrade: " << upgrade.value("outcome", "") << " in "
                << upgrade.value("duration_ms", 0.0) << " ms, longest gap "
                << upgrade.value("unavailability_ms", 0.0) << " ms ("
                << upgrade.value("unavailability_in_switchovers", 0.0) << " switchovers) at +"
                << upgrade.value("unavailability_at_ms", 0.0) / 1000.0 << " s in "
                << upgrade.value("unavailability_step", "") << ", lost "
                << upgrade.value("lost_acknowledged_writes", 0) << "\n";
      std::cout << "without a campaign, over " << upgrade.value("steady_window_ms", 0.0) / 1000.0
                << " s: longest gap " << upgrade.value("steady_longest_gap_ms", 0.0) << " ms\n";
      std::cout << "longest gap in each step (ms):";
      for (const auto& s : upgrade["gap_by_step_ms"]) {
        std::cout << " " << s.value("step", "") << " " << s.value("ms", 0.0);
      }
      std::cout << "\n";
    }
  }
  if (!options.report_path.empty()) {
    Status s = WriteBenchReport(
        run.figures, peer_name, options.command, options.report_path,
        run.profile.is_object() ? ProfileHtml(run.profile, run.flame_svg, options.flame_path) : "");
    if (!s.ok()) {
      std::cerr << "duplex bench: " << s.ToString() << "\n";
      return 1;
    }
    if (!options.json) std::cout << "report: " << options.report_path << "\n";
  }
  return run.failures == 0 ? 0 : 1;
}

}  // namespace duplex::bench
