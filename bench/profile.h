// Profile: perf attached to one running process for as long as a load runs: `perf record`
// (call stacks, unwound with DWARF since neither duplex nor its libraries keep frame pointers)
// for a flame graph and the shares by component, and `perf stat` for CPU time, context switches
// and system calls. Owned by the bench suite, which starts it around one extra load; blocking,
// one thread. Every perf process is stopped by its pid, each wait bounded.
#pragma once

#include <sys/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "bench/flame.h"
#include "common/status.h"

namespace duplex::bench {

struct ProcessProfile {
  std::string name;  // "active", "standby"
  FoldedStacks stacks;
  uint64_t samples = 0;
  // From perf stat over the same time; -1 when perf did not report it.
  double task_clock_ms = -1, context_switches = -1, syscalls = -1;
};

// perf record and perf stat on one process, until Finish().
class PerfAttach {
 public:
  // Starts both on `pid`; their files go to `dir`/<name>.perf.data and <name>.stat.
  static StatusOr<std::unique_ptr<PerfAttach>> Start(pid_t pid, const std::string& dir,
                                                     const std::string& name);
  ~PerfAttach();
  PerfAttach(const PerfAttach&) = delete;
  PerfAttach& operator=(const PerfAttach&) = delete;

  // Stops both (SIGINT, as Ctrl-C would): call it for every process profiled as soon as the
  // load ends, before any Finish, so that no process's counts run on while another's stacks
  // are unwound.
  Status Stop();
  // Stops both if still running, reads the counts and folds the stacks.
  StatusOr<ProcessProfile> Finish();

 private:
  PerfAttach(std::string dir, std::string name) : dir_(std::move(dir)), name_(std::move(name)) {}
  std::string dir_, name_;
  pid_t record_pid_ = -1, stat_pid_ = -1;
};

// The perf binary, or an error saying how to install it.
StatusOr<std::string> PerfBinary();

// `perf stat -x,` output: the counts of task-clock (ms), context-switches and
// raw_syscalls:sys_enter, into `profile` (those missing stay -1).
void ParsePerfStat(const std::string& text, ProcessProfile& profile);

// What one process cost per acknowledged write while profiled: {samples, cpu_us_per_write,
// context_switches_per_write, syscalls_per_write, kernel_percent, components: [{name, percent,
// us_per_write}], threads: [...]}; each component's us_per_write is its share of the CPU time.
// `writes` were acknowledged in `seconds` while perf ran: perf slows the load (its writes/s go in
// as writes_per_s), and smaller group commits cost more per write, so these figures are for
// proportions; the figures' cpu_us_per_write is measured without perf.
nlohmann::json ProfileJson(const ProcessProfile& profile, uint64_t writes, double seconds);
// The same as lines of text, for the terminal.
void PrintProfile(std::ostream& out, const nlohmann::json& profile);

}  // namespace duplex::bench
