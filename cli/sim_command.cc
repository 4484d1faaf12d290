#include "cli/sim_command.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "chaos/simulation.h"

namespace duplex::cli {

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
      results[i] = sim::Simulate(so);
    }
  };
  std::vector<std::thread> threads;
  int jobs = o.trace ? 1 : std::max(1, o.jobs);
  for (int j = 0; j < jobs; ++j) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  uint64_t violations = 0, failed = 0, simulated_us = 0, ok = 0, fail = 0, info = 0;
  uint64_t sessions_expired = 0;
  std::map<std::string, uint64_t> per_invariant;
  std::map<std::string, uint64_t> campaigns;
  for (const auto& r : results) {
    violations += r.violations.size();
    failed += r.violations.empty() ? 0 : 1;
    simulated_us += r.simulated_us;
    ok += r.ops_ok;
    fail += r.ops_fail;
    info += r.ops_info;
    sessions_expired += r.sessions_expired;
    ++campaigns[r.campaign];
    for (const auto& v : r.violations) ++per_invariant[v.substr(0, v.find(':'))];
  }
  double seeds_per_s = count / std::max(wall_s, 1e-9);
  double sim_hours_per_hour = simulated_us / 1e6 / std::max(wall_s, 1e-9);
  if (o.trace) std::cout << results[0].trace;
  if (o.hashes) {
    for (const auto& r : results) {
      std::printf("seed %llu trace hash %016llx\n", (unsigned long long)r.seed,
                  (unsigned long long)r.trace_hash);
    }
  }
  if (o.json) {
    nlohmann::json failing = nlohmann::json::array();
    for (const auto& r : results) {
      if (!r.violations.empty()) {
        failing.push_back({{"seed", r.seed},
                           {"violations", r.violations},
                           {"profile", r.profile},
                           {"replay", sim::ReplayCommand(r.seed)}});
      }
    }
    std::cout << nlohmann::json{{"seeds", count},
                                {"violations", violations},
                                {"failed_seeds", failed},
                                {"per_invariant", per_invariant},
                                {"seeds_per_s", seeds_per_s},
                                {"simulated_hours_per_hour", sim_hours_per_hour},
                                {"wall_s", wall_s},
                                {"ops", {{"ok", ok}, {"fail", fail}, {"info", info}}},
                                {"campaigns", campaigns},
                                {"sessions_expired", sessions_expired},
                                {"trace_hash", results[0].trace_hash},
                                {"failing", failing}}
                     .dump()
              << "\n";
  } else {
    for (const auto& r : results) {
      if (r.violations.empty()) continue;
      std::printf("seed %llu: %zu violation(s) [%s]\n", (unsigned long long)r.seed,
                  r.violations.size(), r.profile.c_str());
      for (size_t i = 0; i < std::min<size_t>(r.violations.size(), 5); ++i) {
        std::printf("  %s\n", r.violations[i].c_str());
      }
      std::printf("  replay: %s\n", sim::ReplayCommand(r.seed).c_str());
    }
    std::printf("seeds %llu in %.1f s: %.0f seeds/s, %.0f simulated hours per hour\n",
                (unsigned long long)count, wall_s, seeds_per_s, sim_hours_per_hour);
    std::printf("operations: ok %llu, fail %llu, unknown %llu; campaigns:", (unsigned long long)ok,
                (unsigned long long)fail, (unsigned long long)info);
    for (const auto& [outcome, n] : campaigns) {
      std::printf(" %s %llu", outcome.c_str(), (unsigned long long)n);
    }
    std::printf("; sessions expired %llu", (unsigned long long)sessions_expired);
    std::printf("\nviolations %llu in %llu seed(s)", (unsigned long long)violations,
                (unsigned long long)failed);
    for (const auto& [name, n] : per_invariant) {
      std::printf("; %s %llu", name.c_str(), (unsigned long long)n);
    }
    std::printf("\n");
    if (count == 1) {
      std::printf("trace hash %016llx\n", (unsigned long long)results[0].trace_hash);
    }
  }
  return violations == 0 ? 0 : 1;
}

}  // namespace duplex::cli
