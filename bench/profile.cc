#include "bench/profile.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/subprocess.h"

namespace duplex::bench {
namespace {

// Samples per second and thread: enough for proportions over a load of seconds, little enough
// that perf's own work (DWARF stacks are copied per sample) stays a few percent of the process.
constexpr const char* kSampleHz = "499";
// Stack bytes copied per sample for DWARF unwinding: the write path is about 30 frames deep.
constexpr const char* kCallGraph = "dwarf,16384";
constexpr int kPerfExitMs = 30000;     // perf record writes its buffers out on SIGINT
constexpr int kPerfScriptMs = 180000;  // unwinding every sample's stack takes a while

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// SIGINT, then at most kPerfExitMs for perf to write its files; SIGKILL after that.
Status Interrupt(pid_t pid, const std::string& what) {
  if (pid <= 0) return Status::Ok();
  ::kill(pid, SIGINT);
  std::optional<ExitStatus> exit = WaitExited(pid, kPerfExitMs);
  if (!exit) {
    KillAndReap(pid);
    return Unavailable(what + " did not stop within " + std::to_string(kPerfExitMs) + " ms");
  }
  // perf exits 0 or with the signal's code (130) on SIGINT, depending on its version.
  if (exit->signal != 0 && exit->signal != SIGINT) return Internal(what + " " + exit->Describe());
  return Status::Ok();
}

}  // namespace

StatusOr<std::string> PerfBinary() {
  for (const char* path : {"/usr/bin/perf", "/usr/local/bin/perf"}) {
    if (::access(path, X_OK) == 0) return std::string(path);
  }
  return NotFound("perf is not installed (Debian: apt-get install linux-perf)");
}

void ParsePerfStat(const std::string& text, ProcessProfile& profile) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    // "<count>,<unit>,<event>,<time running>,<percent>,..."
    std::vector<std::string> fields;
    std::stringstream cells(line);
    for (std::string cell; std::getline(cells, cell, ',');) fields.push_back(cell);
    if (fields.size() < 3) continue;
    double count = -1;
    try {
      count = std::stod(fields[0]);
    } catch (const std::exception&) {
      continue;  // "<not counted>", "<not supported>"
    }
    const std::string& event = fields[2];
    if (event.rfind("task-clock", 0) == 0) profile.task_clock_ms = count;
    if (event.rfind("context-switches", 0) == 0) profile.context_switches = count;
    if (event.rfind("raw_syscalls:sys_enter", 0) == 0) profile.syscalls = count;
  }
}

StatusOr<std::unique_ptr<PerfAttach>> PerfAttach::Start(pid_t pid, const std::string& dir,
                                                        const std::string& name) {
  auto perf = PerfBinary();
  if (!perf.ok()) return perf.status();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IOError("cannot create " + dir + ": " + ec.message());
  std::unique_ptr<PerfAttach> attach(new PerfAttach(dir, name));
  const std::string target = std::to_string(pid);
  SpawnOptions record;
  record.argv = {*perf,
                 "record",
                 "-q",
                 "-F",
                 kSampleHz,
                 "--call-graph",
                 kCallGraph,
                 "-p",
                 target,
                 "-o",
                 dir + "/" + name + ".perf.data"};
  record.stdin_null = true;
  record.stdout_to = ChildOutput::kLogFile;
  record.stderr_to = ChildOutput::kLogFile;
  record.log_path = dir + "/" + name + ".perf.log";
  record.group = ChildGroup::kOwn;  // our Ctrl-C is not its: it is stopped by its pid
  record.die_with_parent = true;
  auto record_pid = Spawn(record);
  if (!record_pid.ok()) return record_pid.status();
  attach->record_pid_ = *record_pid;
  SpawnOptions stat = record;
  stat.argv = {*perf, "stat",
               "-x",  ",",
               "-e",  "task-clock,context-switches,raw_syscalls:sys_enter",
               "-p",  target,
               "-o",  dir + "/" + name + ".stat"};
  auto stat_pid = Spawn(stat);
  if (!stat_pid.ok()) return stat_pid.status();  // the destructor stops perf record
  attach->stat_pid_ = *stat_pid;
  return attach;
}

PerfAttach::~PerfAttach() {
  for (pid_t pid : {record_pid_, stat_pid_}) {
    if (pid > 0) KillAndReap(pid);
  }
}

Status PerfAttach::Stop() {
  Status stat = Interrupt(stat_pid_, "perf stat");
  stat_pid_ = -1;
  Status record = Interrupt(record_pid_, "perf record");
  record_pid_ = -1;
  DUPLEX_RETURN_IF_ERROR(record);
  return stat;
}

StatusOr<ProcessProfile> PerfAttach::Finish() {
  DUPLEX_RETURN_IF_ERROR(Stop());
  ProcessProfile profile;
  profile.name = name_;
  ParsePerfStat(ReadAll(dir_ + "/" + name_ + ".stat"), profile);
  auto perf = PerfBinary();
  if (!perf.ok()) return perf.status();
  SpawnOptions script;
  script.argv = {
      *perf, "script", "-i", dir_ + "/" + name_ + ".perf.data", "-F", "comm,tid,ip,sym,dso"};
  script.stdin_null = true;
  script.stdout_to = ChildOutput::kLogFile;
  script.log_path = dir_ + "/" + name_ + ".perf.script";
  script.stderr_to = ChildOutput::kNull;
  script.group = ChildGroup::kOwn;
  script.die_with_parent = true;
  std::filesystem::remove(script.log_path);  // appended to, so start empty
  auto pid = Spawn(script);
  if (!pid.ok()) return pid.status();
  std::optional<ExitStatus> exit = WaitExited(*pid, kPerfScriptMs);
  if (!exit) {
    KillAndReap(*pid);
    return Unavailable("perf script did not finish within " + std::to_string(kPerfScriptMs) +
                       " ms");
  }
  if (!exit->success()) return Internal("perf script " + exit->Describe());
  profile.stacks = FoldPerfScript(ReadAll(script.log_path));
  for (const auto& [stack, count] : profile.stacks) profile.samples += count;
  std::ofstream folded(dir_ + "/" + name_ + ".folded");
  for (const auto& [stack, count] : profile.stacks) folded << stack << " " << count << "\n";
  return profile;
}

nlohmann::json ProfileJson(const ProcessProfile& profile, uint64_t writes, double seconds) {
  const double n = writes == 0 ? 1 : static_cast<double>(writes);
  const double cpu_us = profile.task_clock_ms >= 0 ? profile.task_clock_ms * 1000 / n : -1;
  nlohmann::json out = {{"samples", profile.samples},
                        {"writes", writes},
                        {"writes_per_s", seconds > 0 ? static_cast<double>(writes) / seconds : 0},
                        {"cpu_us_per_write", cpu_us},
                        {"kernel_percent", KernelPercent(profile.stacks)}};
  if (profile.context_switches >= 0) {
    out["context_switches_per_write"] = profile.context_switches / n;
  }
  if (profile.syscalls >= 0) out["syscalls_per_write"] = profile.syscalls / n;
  auto shares = [&](const std::vector<Share>& list) {
    nlohmann::json rows = nlohmann::json::array();
    for (const Share& s : list) {
      nlohmann::json row = {{"name", s.name}, {"samples", s.samples}, {"percent", s.percent}};
      if (cpu_us >= 0) row["us_per_write"] = cpu_us * s.percent / 100;
      rows.push_back(row);
    }
    return rows;
  };
  out["components"] = shares(ComponentShares(profile.stacks));
  out["threads"] = shares(ThreadShares(profile.stacks));
  return out;
}

void PrintProfile(std::ostream& out, const nlohmann::json& profile) {
  char line[256];
  for (const auto& [who, p] : profile.items()) {
    if (!p.is_object() || !p.contains("components")) continue;
    std::snprintf(line, sizeof(line),
                  "profile, %s: %.1f us CPU per write, %.2f context switches and %.2f system "
                  "calls per write, %.0f%% in the kernel (%llu samples, %.0f writes/s under "
                  "perf)\n",
                  who.c_str(), p.value("cpu_us_per_write", -1.0),
                  p.value("context_switches_per_write", -1.0), p.value("syscalls_per_write", -1.0),
                  p.value("kernel_percent", 0.0),
                  static_cast<unsigned long long>(p.value("samples", uint64_t{0})),
                  p.value("writes_per_s", 0.0));
    out << line;
    for (const char* list : {"components", "threads"}) {
      for (const auto& row : p[list]) {
        std::snprintf(line, sizeof(line), "  %-10s %-36s %5.1f%%  %6.2f us/write\n", list,
                      row.value("name", "").c_str(), row.value("percent", 0.0),
                      row.value("us_per_write", -1.0));
        out << line;
      }
    }
  }
}

}  // namespace duplex::bench
