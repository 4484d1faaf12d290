#include "cli/chaos_commands.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "chaos/scenario.h"
#include "chaos/scenario_runner.h"

namespace duplex::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

int Fail(const Status& s) {
  std::cerr << "duplex: " << s.message() << "\n";
  return s.code() == Code::kInvalidArgument || s.code() == Code::kNotFound ? 2 : 1;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(v.size() * p))];
}

// Totals over runs: what a suite prints and its --json holds.
struct Totals {
  int runs = 0, passed = 0;
  std::map<std::string, uint64_t> violations;  // per invariant (mutants' expected ones excluded)
  std::map<std::string, uint64_t> faults;      // per kind
  uint64_t ok = 0, fail = 0, info = 0;
  std::vector<double> failover_ms, convergence_ms;
  // Scenarios with etcd: fault on the acting coordinator -> a newer term acting.
  std::vector<double> leader_failover_ms;
  int leadership_changes = 0;
  std::vector<std::string> failed;  // replay commands
  uint64_t not_fired = 0;           // faults whose trigger never came
  int curve_runs = 0;               // runs whose cluster had CURVE on
  // The fault proxies' connections; those whose greeting named CURVE, and NULL or PLAIN (the
  // rest closed before their greeting).
  uint64_t proxied = 0, curve_connections = 0, plain_connections = 0;
  // Async mode: acknowledged writes lost at each failover (allowed within the lag bound).
  std::vector<double> async_lost;
  uint64_t lin_operations = 0;  // operations the linearizability checker judged
  double lin_ms_max = 0;        // its longest check of one run

  void Add(const json& run) {
    ++runs;
    if (run.value("verdict", "") == "pass") {
      ++passed;
    } else {
      failed.push_back(run.value("replay", ""));
    }
    for (const auto& i : run["invariants"]) {
      if (i.value("name", "") == run.value("expect_violation", "")) continue;
      violations[i.value("name", "")] += i.value("violations", uint64_t{0});
    }
    for (const auto& f : run["faults"]) ++faults[f.value("kind", "")];
    not_fired += run["faults_not_fired"].size();
    const json curve = run.value("curve", json::object());
    curve_runs += curve.value("on", false) ? 1 : 0;
    proxied += curve.value("proxied_connections", uint64_t{0});
    curve_connections += curve.value("curve_connections", uint64_t{0});
    plain_connections += curve.value("plain_connections", uint64_t{0});
    ok += run["ops"].value("ok", uint64_t{0});
    fail += run["ops"].value("fail", uint64_t{0});
    info += run["ops"].value("info", uint64_t{0});
    for (const auto& ms : run["failover_ms"]) failover_ms.push_back(ms.get<double>());
    for (const auto& f : run.value("leader_failover_ms", json::array())) {
      if (f.value("ms", -1.0) >= 0) leader_failover_ms.push_back(f.value("ms", -1.0));
    }
    leadership_changes += run.value("leadership_changes", 0);
    const json lin = run.value("linearizability", json::object());
    lin_operations += lin.value("operations", uint64_t{0});
    lin_ms_max = std::max(lin_ms_max, lin.value("elapsed_ms", 0.0));
    for (const auto& f :
         run.value("async_loss", json::object()).value("failovers", json::array())) {
      async_lost.push_back(f.value("lost", 0.0));
    }
    double c = run.value("convergence_ms", -1.0);
    if (c >= 0) convergence_ms.push_back(c);
  }

  uint64_t TotalViolations() const {
    uint64_t n = 0;
    for (const auto& [name, count] : violations) n += count;
    return n;
  }

  json ToJson() const {
    json per = json::object();
    for (const auto& name : InvariantNames()) {
      per[name] = violations.count(name) ? violations.at(name) : 0;
    }
    auto stats = [](const std::vector<double>& v) {
      return json{{"count", v.size()},
                  {"p50", Percentile(v, 0.5)},
                  {"p99", Percentile(v, 0.99)},
                  {"max", v.empty() ? 0 : *std::max_element(v.begin(), v.end())}};
    };
    return {{"scenarios", runs},
            {"passed", passed},
            {"violations", TotalViolations()},
            {"invariants", per},
            {"faults", faults},
            {"faults_not_fired", not_fired},
            {"ops", {{"ok", ok}, {"fail", fail}, {"info", info}}},
            {"failover_ms", stats(failover_ms)},
            {"convergence_ms", stats(convergence_ms)},
            {"leader_failover_ms", stats(leader_failover_ms)},
            {"leadership_changes", leadership_changes},
            {"async_lost_per_failover", stats(async_lost)},
            {"linearizability", {{"operations", lin_operations}, {"elapsed_ms_max", lin_ms_max}}},
            {"curve",
             {{"runs", curve_runs},
              {"proxied_connections", proxied},
              {"curve_connections", curve_connections},
              {"plain_connections", plain_connections}}},
            {"failed", failed}};
  }

  void Print() const {
    std::printf("\nscenario runs %d, passed %d, failed %d\n", runs, passed, runs - passed);
    std::printf("faults injected:");
    for (const auto& [kind, n] : faults)
      std::printf(" %s %llu", kind.c_str(), (unsigned long long)n);
    if (not_fired > 0)
      std::printf(" (and %llu not injected: trigger never came)", (unsigned long long)not_fired);
    std::printf(
        "\nCURVE on in %d of %d runs; proxied connections %llu: CURVE %llu, plain %llu (the rest "
        "closed before their greeting)",
        curve_runs, runs, (unsigned long long)proxied, (unsigned long long)curve_connections,
        (unsigned long long)plain_connections);
    std::printf("\noperations: ok %llu, fail %llu, info (unknown outcome) %llu\n",
                (unsigned long long)ok, (unsigned long long)fail, (unsigned long long)info);
    std::printf("violations per invariant:");
    for (const auto& name : InvariantNames()) {
      std::printf(" %s %llu", name.c_str(),
                  (unsigned long long)(violations.count(name) ? violations.at(name) : 0));
    }
    std::printf(
        "\nfailover (fault -> next acknowledged write): p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
        Percentile(failover_ms, 0.5), Percentile(failover_ms, 0.99),
        failover_ms.empty() ? 0 : *std::max_element(failover_ms.begin(), failover_ms.end()));
    std::printf("convergence after the faults: p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
                Percentile(convergence_ms, 0.5), Percentile(convergence_ms, 0.99),
                convergence_ms.empty()
                    ? 0
                    : *std::max_element(convergence_ms.begin(), convergence_ms.end()));
    if (!leader_failover_ms.empty() || leadership_changes > 0) {
      std::printf(
          "leader failover (fault on the acting coordinator -> a newer term acting): p50 %.0f ms, "
          "p99 %.0f ms, max %.0f ms; leadership changes %d\n",
          Percentile(leader_failover_ms, 0.5), Percentile(leader_failover_ms, 0.99),
          leader_failover_ms.empty()
              ? 0
              : *std::max_element(leader_failover_ms.begin(), leader_failover_ms.end()),
          leadership_changes);
    }
    std::printf("linearizability: %llu operations judged, longest check %.0f ms\n",
                (unsigned long long)lin_operations, lin_ms_max);
    if (!async_lost.empty()) {
      double lost = 0;
      for (double n : async_lost) lost += n;
      std::printf(
          "async failovers %zu: acknowledged writes lost %.0f in all, per failover p50 %.0f, max "
          "%.0f\n",
          async_lost.size(), lost, Percentile(async_lost, 0.5),
          *std::max_element(async_lost.begin(), async_lost.end()));
    }
    for (const auto& r : failed) std::printf("FAILED, replay with: %s\n", r.c_str());
  }
};

StatusOr<Scenario> Find(const std::string& what) {
  if (what.ends_with(".yaml")) return LoadScenario(what);
  return LoadScenario(std::string(DUPLEX_SCENARIO_DIR) + "/" + what + ".yaml");
}

// One run, with a line of verdicts; the run's JSON.
StatusOr<json> RunOne(const std::string& build_dir, const Scenario& s, uint64_t seed,
                      const ChaosOptions& o) {
  RunOptions ro;
  ro.seed = seed;
  ro.build_dir = build_dir;
  ro.scratch = build_dir + "/chaos-scratch";
  ro.lab_first_host = o.lab_first_host;
  if (!o.lab_ports.empty()) {
    std::sscanf(o.lab_ports.c_str(), "%d-%d", &ro.port_first, &ro.port_last);
  }
  std::string tag = s.name + "-" + std::to_string(seed);
  ro.report_dir = o.report_dir.empty()
                      ? build_dir + "/chaos/" + tag
                      : (o.what == "run" ? o.report_dir : o.report_dir + "/" + tag);
  if (!o.quiet && !o.json)
    ro.log = [](const std::string& line) { std::printf("%s\n", line.c_str()); };
  if (!o.json)
    std::printf("== %s (seed %llu): %s\n", s.name.c_str(), (unsigned long long)seed,
                s.description.c_str());
  std::fflush(stdout);
  auto run = RunScenario(s, ro);
  if (!run.ok()) return run.status();
  if (!o.json) {
    std::printf("   %s", (*run)["verdict"] == "pass" ? "PASS" : "FAIL");
    if (!s.expect_violation.empty())
      std::printf(" (mutant: expects %s)", s.expect_violation.c_str());
    std::string reason = (*run).value("campaign_reason", "");
    std::printf(" — outcome %s%s;", (*run).value("outcome", "").c_str(),
                reason.empty() ? "" : (" (" + reason + ")").c_str());
    for (const auto& i : (*run)["invariants"]) {
      std::printf(" %s %s", i.value("name", "").c_str(), i.value("ok", false) ? "ok" : "VIOLATED");
    }
    std::printf("\n");
    if (!s.expect_gap.empty() || s.hosts > 0) {
      // Client-visible: the longest stretch without an acknowledged write.
      std::printf("   gap between acknowledged writes: steady %.1f ms, while faulted %.1f ms\n",
                  (*run)["gap_ms"].value("steady", 0.0), (*run)["gap_ms"].value("faults", 0.0));
    }
    std::printf("   report: %s/report.html\n", fs::absolute(ro.report_dir).c_str());
    const json loss = (*run).value("async_loss", json::object());
    for (const auto& f : loss.value("failovers", json::array())) {
      std::printf(
          "   async failover %s -> %s at +%.0f ms: %llu acknowledged writes lost (the pair "
          "reported an unreplicated tail of %lld deltas; bound %llu)\n",
          f.value("from", "").c_str(), f.value("to", "").c_str(), f.value("t_ms", 0.0),
          (unsigned long long)f.value("lost", uint64_t{0}),
          (long long)f.value("reported_tail_ops", int64_t{-1}),
          (unsigned long long)loss.value("lag_ops_max", uint64_t{0}));
    }
    for (const auto& f : (*run)["faults_not_fired"]) {
      std::printf("   warning: fault not injected, its trigger never came: %s\n",
                  f.get<std::string>().c_str());
    }
    for (const auto& i : (*run)["invariants"]) {
      for (const auto& d : i["details"]) {
        std::printf("   %s: %s\n", i.value("name", "").c_str(), d.get<std::string>().c_str());
      }
    }
    if ((*run)["verdict"] != "pass")
      std::printf("   replay: %s\n", (*run).value("replay", "").c_str());
    std::fflush(stdout);
  }
  return run;
}

}  // namespace

int RunChaos(const std::string& duplex_binary, const ChaosOptions& o) {
  std::string build_dir = fs::path(duplex_binary).parent_path().string();
  if (o.what == "list") {
    auto all = LoadCatalogue(DUPLEX_SCENARIO_DIR);
    if (!all.ok()) return Fail(all.status());
    for (const auto& s : *all) {
      std::string on =
          s.hosts > 0 ? "[" + std::to_string(s.hosts) + " hosts" + (s.etcd ? ", etcd" : "") + "] "
                      : "";
      std::printf("%-36s %s%s\n", s.name.c_str(), on.c_str(), s.description.c_str());
    }
    return 0;
  }
  if (o.lab_first_host < 1 || o.lab_first_host > 252) {
    return Fail(InvalidArgument("--lab-first-host " + std::to_string(o.lab_first_host) +
                                ": hosts are 127.0.N.1 with N in 1..254 (a lab has up to 3)"));
  }
  if (!o.lab_ports.empty()) {
    int first = 0, last = 0;
    char tail = 0;
    if (std::sscanf(o.lab_ports.c_str(), "%d-%d%c", &first, &last, &tail) != 2 || first < 1024 ||
        last > 65535 || last - first < 32) {
      return Fail(InvalidArgument("--lab-ports " + o.lab_ports +
                                  ": a range FIRST-LAST within 1024..65535 of at least 33 ports"));
    }
  }
  std::vector<Scenario> scenarios;
  if (o.what == "run") {
    if (o.scenario.empty()) return Fail(InvalidArgument("chaos run: which scenario? (chaos list)"));
    auto s = Find(o.scenario);
    if (!s.ok()) return Fail(s.status());
    if (s->hosts > 0 && ::geteuid() != 0) {
      return Fail(FailedPrecondition("chaos run " + s->name + ": it runs on a lab of " +
                                     std::to_string(s->hosts) +
                                     " hosts, which needs root (nftables); run it as root"));
    }
    scenarios.push_back(*s);
  } else if (o.what == "suite") {
    auto all = LoadCatalogue(DUPLEX_SCENARIO_DIR);
    if (!all.ok()) return Fail(all.status());
    int skipped = 0;
    for (auto& s : *all) {
      if (s.name.find(o.only) == std::string::npos) continue;
      // A lab isolates its hosts with nftables: without root its scenarios cannot run.
      if (s.hosts > 0 && ::geteuid() != 0) {
        ++skipped;
        continue;
      }
      scenarios.push_back(std::move(s));
    }
    if (skipped > 0) {
      std::fprintf(stderr,
                   "duplex: skipping %d scenario(s) with hosts: they run on a lab, which needs "
                   "root (nftables); run the suite as root to include them\n",
                   skipped);
    }
  } else {
    return Fail(InvalidArgument("chaos: \"" + o.what + "\" is not list, run or suite"));
  }
  Totals totals;
  for (const auto& s : scenarios) {
    for (int i = 0; i < std::max(1, o.seeds); ++i) {
      auto run = RunOne(build_dir, s, o.seed + static_cast<uint64_t>(i), o);
      if (!run.ok()) return Fail(run.status());
      totals.Add(*run);
      if (o.json && o.what == "run") std::cout << run->dump() << "\n";
    }
  }
  if (o.json && o.what == "suite") std::cout << totals.ToJson().dump() << "\n";
  if (!o.json) totals.Print();
  return totals.passed == totals.runs ? 0 : 1;
}

}  // namespace duplex::cli
