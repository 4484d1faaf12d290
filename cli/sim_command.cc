#include "cli/sim_command.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "chaos/simulation.h"

namespace duplex::cli {
namespace {

using Counts = std::map<std::string, uint64_t>;

// The runs added up.
struct Totals {
  uint64_t violations = 0, failed = 0, simulated_us = 0, ok = 0, fail = 0, info = 0;
  uint64_t sessions_expired = 0;
  uint64_t elected = 0, terms = 0;  // seeds with three coordinators on etcd; terms they led
  Counts per_invariant, campaigns, transitions, faults;
  double wall_s = 0;
};

Totals Add(const std::vector<sim::SimResult>& results, double wall_s) {
  Totals t;
  t.wall_s = wall_s;
  for (const auto& r : results) {
    t.violations += r.violations.size();
    t.failed += r.violations.empty() ? 0 : 1;
    t.simulated_us += r.simulated_us;
    t.ok += r.ops_ok;
    t.fail += r.ops_fail;
    t.info += r.ops_info;
    t.sessions_expired += r.sessions_expired;
    if (r.coordinators > 1) {
      ++t.elected;
      t.terms += r.terms;
    }
    ++t.campaigns[r.campaign];
    for (const auto& [kind, n] : r.transitions) t.transitions[kind] += n;
    for (const auto& [kind, n] : r.faults) t.faults[kind] += n;
    for (const auto& v : r.violations) ++t.per_invariant[v.substr(0, v.find(':'))];
  }
  return t;
}

void PrintJson(const std::vector<sim::SimResult>& results, const Totals& t) {
  nlohmann::json failing = nlohmann::json::array();
  for (const auto& r : results) {
    if (!r.violations.empty()) {
      failing.push_back({{"seed", r.seed},
                         {"violations", r.violations},
                         {"profile", r.profile},
                         {"replay", sim::ReplayCommand(r.seed)}});
    }
  }
  const double wall_s = std::max(t.wall_s, 1e-9);
  std::cout << nlohmann::json{{"seeds", results.size()},
                              {"violations", t.violations},
                              {"failed_seeds", t.failed},
                              {"per_invariant", t.per_invariant},
                              {"seeds_per_s", results.size() / wall_s},
                              {"simulated_hours_per_hour", t.simulated_us / 1e6 / wall_s},
                              {"wall_s", t.wall_s},
                              {"ops", {{"ok", t.ok}, {"fail", t.fail}, {"info", t.info}}},
                              {"campaigns", t.campaigns},
                              {"sessions_expired", t.sessions_expired},
                              {"elected_coordinator_seeds", t.elected},
                              {"coordinator_terms", t.terms},
                              {"promotions", t.transitions},
                              {"faults", t.faults},
                              {"trace_hash", results[0].trace_hash},
                              {"failing", failing}}
                   .dump()
            << "\n";
}

void PrintCounts(const char* what, const Counts& counts) {
  std::printf("\n%s:", what);
  for (const auto& [kind, n] : counts)
    std::printf(" %s %llu;", kind.c_str(), (unsigned long long)n);
}

void PrintText(const std::vector<sim::SimResult>& results, const Totals& t) {
  for (const auto& r : results) {
    if (r.violations.empty()) continue;
    std::printf("seed %llu: %zu violation(s) [%s]\n", (unsigned long long)r.seed,
                r.violations.size(), r.profile.c_str());
    for (size_t i = 0; i < std::min<size_t>(r.violations.size(), 5); ++i) {
      std::printf("  %s\n", r.violations[i].c_str());
    }
    std::printf("  replay: %s\n", sim::ReplayCommand(r.seed).c_str());
  }
  const double wall_s = std::max(t.wall_s, 1e-9);
  std::printf("seeds %zu in %.1f s: %.0f seeds/s, %.0f simulated hours per hour\n", results.size(),
              t.wall_s, results.size() / wall_s, t.simulated_us / 1e6 / wall_s);
  std::printf("operations: ok %llu, fail %llu, unknown %llu; campaigns:", (unsigned long long)t.ok,
              (unsigned long long)t.fail, (unsigned long long)t.info);
  for (const auto& [outcome, n] : t.campaigns) {
    std::printf(" %s %llu", outcome.c_str(), (unsigned long long)n);
  }
  std::printf("; sessions expired %llu", (unsigned long long)t.sessions_expired);
  std::printf("\ncoordinators: 3 elected on etcd in %llu seed(s), %llu terms led",
              (unsigned long long)t.elected, (unsigned long long)t.terms);
  PrintCounts("promotions", t.transitions);
  PrintCounts("faults", t.faults);
  std::printf("\nviolations %llu in %llu seed(s)", (unsigned long long)t.violations,
              (unsigned long long)t.failed);
  for (const auto& [name, n] : t.per_invariant) {
    std::printf("; %s %llu", name.c_str(), (unsigned long long)n);
  }
  std::printf("\n");
  if (results.size() == 1) {
    std::printf("trace hash %016llx\n", (unsigned long long)results[0].trace_hash);
  }
}

}  // namespace

int RunSim(const SimCommandOptions& o) {
  // The trace goes to stdout and is the same, byte for byte, for the same seed; the cores'
  // own log lines (with wall-clock times) go to stderr, and only when tracing.
  if (o.trace) {
    spdlog::set_default_logger(spdlog::stderr_color_mt("sim"));
    spdlog::set_pattern("      %l: %v");
    spdlog::set_level(spdlog::level::info);
  } else {
    spdlog::set_level(spdlog::level::off);
  }
  MutantSet mutants;
  for (const auto& name : o.mutants) {
    StatusOr<Mutant> mutant = MutantNamed(name);
    if (!mutant.ok()) {
      std::fprintf(stderr, "duplex sim: --mutant: %s\n", mutant.status().message().c_str());
      return 2;
    }
    mutants.Add(*mutant);
  }
  uint64_t count = std::max<uint64_t>(o.seeds, 1);
  std::vector<sim::SimResult> results(count);
  std::atomic<uint64_t> next{0};
  auto started = std::chrono::steady_clock::now();
  auto work = [&] {
    for (uint64_t i = next++; i < count; i = next++) {
      sim::SimOptions so;
      so.seed = o.seed + i;
      so.trace = o.trace;
      so.mutants = mutants;
      so.coordinators = o.coordinators;
      results[i] = sim::Simulate(so);
    }
  };
  std::vector<std::thread> threads;
  int jobs = o.trace ? 1 : std::max(1, o.jobs);
  for (int j = 0; j < jobs; ++j) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  Totals totals = Add(results, wall_s);
  if (o.trace) std::cout << results[0].trace;
  if (o.hashes) {
    for (const auto& r : results) {
      std::printf("seed %llu trace hash %016llx\n", (unsigned long long)r.seed,
                  (unsigned long long)r.trace_hash);
    }
  }
  if (o.json) {
    PrintJson(results, totals);
  } else {
    PrintText(results, totals);
  }
  return totals.violations == 0 ? 0 : 1;
}

}  // namespace duplex::cli
