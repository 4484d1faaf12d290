#include "cli/bench.h"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "chaos/cluster_fixture.h"
#include "chaos/load_generator.h"
#include "chaos/upgrade_run.h"
#include "chaos/workload.h"

namespace duplex::cli {
namespace {

struct Summary {
  double p50 = 0, p99 = 0, max = 0;
};

Summary Summarize(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))]; };
  return {at(0.50), at(0.99), v.back()};
}

std::string BuildDirOf(const std::string& duplex_binary) {
  return std::filesystem::path(duplex_binary).parent_path().string();
}

FixtureOptions Fixture(const std::string& duplex_binary, const BenchOptions& o,
                       const std::string& name) {
  FixtureOptions f;
  f.build_dir = BuildDirOf(duplex_binary);
  std::string base = o.dir.empty() ? f.build_dir + "/bench" : o.dir;
  f.dir = base + "/" + name;
  f.log_level = "warn";
  return f;
}

// Failover: the time from the kill (or pause) of the active to the first write
// acknowledged by the new one, under a client load of 3 writers.
int BenchFailover(const std::string& duplex_binary, const BenchOptions& o, nlohmann::json& out) {
  for (int sig : {SIGKILL, SIGSTOP}) {
    std::string kind = sig == SIGKILL ? "crash" : "hang";
    FixtureOptions fo = Fixture(duplex_binary, o, "failover-" + kind);
    fo.restart.max_restarts = o.runs + 5;
    fo.timing.client_timeout_ms = 50;
    auto cluster = ClusterFixture::Start(fo);
    if (!cluster.ok()) {
      std::cerr << "bench: " << cluster.status().ToString() << "\n";
      return 1;
    }
    WorkloadOptions w;
    w.endpoints = (*cluster)->Endpoints();
    w.clients = 3;
    w.attempt_timeout_ms = 50;
    Workload workload(w);
    workload.Start();
    std::vector<double> times_ms;
    for (int run = 0; run < o.runs; ++run) {
      if (!workload.WaitAcked(workload.acked() + 200, 10000).ok()) break;
      auto active = (*cluster)->ActiveName();
      if (!active.ok()) break;
      int64_t t0 = NowUs();
      auto pid = (*cluster)->SignalReplica(*active, sig);
      if (!pid.ok()) break;
      int old_index = (*active == (*cluster)->config().replicas[0].name) ? 0 : 1;
      int64_t first = -1;
      for (int i = 0; i < 5000 && first < 0; ++i) {  // bounded: 10 s
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        first = workload.FirstAckAfter(t0, old_index);
      }
      if (first > 0) times_ms.push_back((first - t0) / 1000.0);
      if (sig == SIGSTOP) ::kill(*pid, SIGCONT);
      if (!(*cluster)->WaitReady(20000).ok()) break;
    }
    workload.Stop();
    CheckResult check = workload.Check();
    Summary s = Summarize(times_ms);
    out[kind + "_failover_ms_p50"] = s.p50;
    out[kind + "_failover_ms_p99"] = s.p99;
    out[kind + "_failover_ms_max"] = s.max;
    out[kind + "_failover_runs"] = times_ms.size();
    out[kind + "_failover_ms_samples"] = times_ms;
    out["lost_acknowledged_writes"] =
        out.value("lost_acknowledged_writes", uint64_t{0}) + check.lost;
    out["double_applied_requests"] =
        out.value("double_applied_requests", uint64_t{0}) + check.double_applied;
    (*cluster)->Stop();
  }
  return 0;
}

// Replication: acknowledged writes/s and latency with 1 and 50 unpipelined client
// connections, driven from one thread as redis-benchmark does.
int BenchReplication(const std::string& duplex_binary, const BenchOptions& o, nlohmann::json& out) {
  for (ReplicationMode mode : {ReplicationMode::kSync, ReplicationMode::kAsync}) {
    std::string m = mode == ReplicationMode::kSync ? "sync" : "async";
    FixtureOptions fo = Fixture(duplex_binary, o, "replication-" + m);
    fo.mode = mode;
    auto cluster = ClusterFixture::Start(fo);
    if (!cluster.ok()) {
      std::cerr << "bench: " << cluster.status().ToString() << "\n";
      return 1;
    }
    for (int clients : {1, 50}) {
      auto active = (*cluster)->ActiveName();
      if (!active.ok()) return 1;
      LoadOptions lo;
      for (const auto& r : (*cluster)->config().replicas) {
        if (r.name == *active) lo.endpoint = "tcp://" + r.host + ":" + std::to_string(r.port);
      }
      lo.connections = clients;
      lo.seconds = o.seconds;
      lo.key_prefix = m + std::to_string(clients) + "-";
      auto counters = [&](const char* name) {
        auto st = (*cluster)->ReplicaStatus(*active);
        return st.ok() ? st->value(name, 0.0) : 0.0;
      };
      double commits0 = counters("group_commits"), deltas0 = counters("deltas_committed");
      auto result = RunLoad(lo);
      if (!result.ok()) return 1;
      Summary s = Summarize(result->latency_ms);
      std::string k = m + "_" + std::to_string(clients) + "c_";
      out[k + "writes_per_s"] = result->ok / result->seconds;
      out[k + "latency_ms_p50"] = s.p50;
      out[k + "latency_ms_p99"] = s.p99;
      out[k + "errors"] = result->errors + result->timeouts;
      double commits = counters("group_commits") - commits0;
      out[k + "ops_per_group_commit"] =
          commits > 0 ? (counters("deltas_committed") - deltas0) / commits : 0;
      for (const auto& r : (*cluster)->config().replicas) {
        if (r.name == *active) continue;
        if (auto st = (*cluster)->ReplicaStatus(r.name); st.ok()) {
          out[k + "lag_ms_p50"] = st->value("lag_ms_p50", 0.0);
          out[k + "lag_ms_p99"] = st->value("lag_ms_p99", 0.0);
        }
      }
    }
    (*cluster)->Stop();
  }
  out["sync_writes_per_s"] = out["sync_50c_writes_per_s"];
  out["async_writes_per_s"] = out["async_50c_writes_per_s"];
  return 0;
}

// A rolling upgrade of a pair holding `keys` keys, under 3 writing clients.
int BenchUpgrade(const std::string& duplex_binary, const BenchOptions& o, nlohmann::json& out) {
  FixtureOptions fo = Fixture(duplex_binary, o, "upgrade");
  auto cluster = ClusterFixture::Start(fo);
  if (!cluster.ok()) {
    std::cerr << "bench: " << cluster.status().ToString() << "\n";
    return 1;
  }
  auto active = (*cluster)->ActiveName();
  if (!active.ok()) return 1;
  LoadOptions lo;
  for (const auto& r : (*cluster)->config().replicas) {
    if (r.name == *active) lo.endpoint = "tcp://" + r.host + ":" + std::to_string(r.port);
  }
  lo.total_ops = o.keys;
  lo.pipeline = 8;
  lo.seconds = 3600;
  lo.key_prefix = "key-";
  auto loaded = RunLoad(lo);
  if (!loaded.ok()) return 1;
  std::cerr << "loaded " << loaded->ok << " keys in " << loaded->seconds << " s\n";
  WorkloadOptions w;
  w.endpoints = (*cluster)->Endpoints();
  w.clients = 3;
  Workload workload(w);
  workload.Start();
  (void)workload.WaitAcked(100, 10000);
  std::string package = fo.build_dir + "/packages/kv-2.0.0";
  UpgradeRunOptions ro;
  ro.package_dir = std::filesystem::absolute(package).string();
  ro.progress = [](const std::string& line) { std::cerr << line << "\n"; };
  auto run = RunUpgrade(**cluster, workload, ro);
  (void)workload.WaitAcked(workload.acked() + 100, 10000);
  workload.Stop();
  if (!run.ok()) {
    std::cerr << "bench: " << run.status().ToString() << "\n";
    return 1;
  }
  CheckResult check = workload.Check();
  out["keys"] = loaded->ok;
  out["outcome"] = run->outcome == "rolled back" ? "rolled_back" : run->outcome;
  out["duration_ms"] = run->duration_ms;
  out["unavailability_ms"] = run->unavailability_ms;
  out["unavailability_at_ms"] = run->unavailability_at_ms;
  out["failed_requests"] = run->failed_requests;
  out["lost_acknowledged_writes"] = check.lost;
  out["double_applied_requests"] = check.double_applied;
  (*cluster)->Stop();
  return run->outcome == "completed" ? 0 : 1;
}

void PrintTable(const nlohmann::json& out) {
  std::printf("%-36s %14s\n", "figure", "value");
  for (const auto& [k, v] : out.items()) {
    if (v.is_number()) std::printf("%-36s %14.2f\n", k.c_str(), v.get<double>());
    if (v.is_string()) std::printf("%-36s %14s\n", k.c_str(), v.get<std::string>().c_str());
  }
}

}  // namespace

int RunBench(const std::string& duplex_binary, const BenchOptions& o) {
  nlohmann::json out;
  int rc = 0;
  if (o.what == "failover") {
    rc = BenchFailover(duplex_binary, o, out);
  } else if (o.what == "replication") {
    rc = BenchReplication(duplex_binary, o, out);
  } else if (o.what == "upgrade") {
    rc = BenchUpgrade(duplex_binary, o, out);
  } else {
    std::cerr << "duplex bench: unknown benchmark \"" << o.what
              << "\" (failover, replication, upgrade)\n";
    return 2;
  }
  if (o.json) {
    std::cout << out.dump(2) << "\n";
  } else {
    PrintTable(out);
  }
  return rc;
}

}  // namespace duplex::cli
