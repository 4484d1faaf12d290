// A lab's processes are found by their environment, not by a pid list: the replicas an agent
// started are the host's too, and so is anything they started, whoever their parent is now.
#include "chaos/lab/host_processes.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <thread>

#include "common/clock.h"

namespace duplex::lab {
namespace {

// Between two looks at processes that were signalled and have not gone yet.
constexpr int kPollMs = 2;
// Freeze looks again at most this many times for processes started while it stopped others.
constexpr int kFreezeRoundsMax = 20;

// The lab tags of a process: the first DUPLEX_LAB and DUPLEX_LAB_HOST of its environment (the
// first is what getenv finds). Empty for a process we cannot read, a zombie (its environment
// is gone with its memory) and a kernel thread.
struct Tags {
  std::string lab;
  std::string host;
  bool has_lab = false;
};

Tags ReadTags(pid_t pid) {
  Tags tags;
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  if (!in) return tags;
  const std::string lab_prefix = std::string(kLabEnv) + "=";
  const std::string host_prefix = std::string(kLabHostEnv) + "=";
  bool has_host = false;
  for (std::string entry; std::getline(in, entry, '\0');) {
    if (!tags.has_lab && entry.starts_with(lab_prefix)) {
      tags.lab = entry.substr(lab_prefix.size());
      tags.has_lab = true;
    } else if (!has_host && entry.starts_with(host_prefix)) {
      tags.host = entry.substr(host_prefix.size());
      has_host = true;
    }
  }
  return tags;
}

std::vector<pid_t> AllPids() {
  std::vector<pid_t> pids;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return pids;
  while (const dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (end != entry->d_name && *end == '\0' && pid > 0) pids.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(proc);
  std::sort(pids.begin(), pids.end());
  return pids;
}

void Signal(const std::vector<pid_t>& pids, int signal) {
  for (pid_t pid : pids) ::kill(pid, signal);
}

}  // namespace

std::vector<std::string> LabEnvironment(const std::string& lab_id, const std::string& host) {
  std::vector<std::string> env = {std::string(kLabEnv) + "=" + lab_id};
  // Always set, so a process on no host does not inherit the host of whoever started it.
  env.push_back(std::string(kLabHostEnv) + "=" + host);
  return env;
}

ProcessState StateOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // "pid (comm) S ...": comm may hold spaces and parentheses, the state follows the last ')'.
  const std::size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return ProcessState::kGone;
  switch (stat[close + 2]) {
    case 'T':
    case 't':
      return ProcessState::kStopped;
    case 'Z':
      return ProcessState::kZombie;
    case 'X':
      return ProcessState::kGone;
    default:
      return ProcessState::kRunning;
  }
}

const char* ProcessStateName(ProcessState state) {
  switch (state) {
    case ProcessState::kRunning:
      return "running";
    case ProcessState::kStopped:
      return "stopped";
    case ProcessState::kZombie:
      return "zombie";
    case ProcessState::kGone:
      return "gone";
  }
  return "?";
}

HostProcesses::HostProcesses(std::string lab_id) : lab_id_(std::move(lab_id)) {}

std::vector<pid_t> HostProcesses::Of(const std::string& host) const {
  std::vector<pid_t> found;
  const pid_t self = ::getpid();
  for (pid_t pid : AllPids()) {
    if (pid == self) continue;
    const Tags tags = ReadTags(pid);
    if (!tags.has_lab || tags.lab != lab_id_) continue;
    if (!host.empty() && tags.host != host) continue;
    found.push_back(pid);
  }
  return found;
}

std::optional<std::string> HostProcesses::HostOf(pid_t pid) const {
  const Tags tags = ReadTags(pid);
  if (!tags.has_lab || tags.lab != lab_id_) return std::nullopt;
  return tags.host;
}

StatusOr<int> HostProcesses::Crash(const std::string& host, int timeout_ms) const {
  const int64_t deadline_ms = NowUs() / 1000 + timeout_ms;
  std::set<pid_t> killed;
  for (;;) {
    std::vector<pid_t> pids = Of(host);
    if (pids.empty()) return static_cast<int>(killed.size());
    if (NowUs() / 1000 >= deadline_ms) {
      return Unavailable("host " + host + ": " + std::to_string(pids.size()) +
                         " processes still live " + std::to_string(timeout_ms) +
                         " ms after SIGKILL");
    }
    // Stopped, none of them can fork; a child forked before the stop is in the second look.
    Signal(pids, SIGSTOP);
    for (pid_t pid : Of(host)) {
      if (std::find(pids.begin(), pids.end(), pid) == pids.end()) pids.push_back(pid);
    }
    Signal(pids, SIGSTOP);
    Signal(pids, SIGKILL);
    killed.insert(pids.begin(), pids.end());
    SleepMs(kPollMs);
  }
}

int HostProcesses::Freeze(const std::string& host) const {
  std::set<pid_t> stopped;
  for (int round = 0; round < kFreezeRoundsMax; ++round) {
    std::vector<pid_t> fresh;
    for (pid_t pid : Of(host)) {
      if (!stopped.contains(pid)) fresh.push_back(pid);
    }
    if (fresh.empty()) break;
    Signal(fresh, SIGSTOP);
    stopped.insert(fresh.begin(), fresh.end());
  }
  return static_cast<int>(stopped.size());
}

int HostProcesses::Thaw(const std::string& host) const {
  const std::vector<pid_t> pids = Of(host);
  Signal(pids, SIGCONT);
  return static_cast<int>(pids.size());
}

StatusOr<int> HostProcesses::StopAll(int grace_ms, int timeout_ms) const {
  const int64_t start_ms = NowUs() / 1000;
  std::set<pid_t> seen;
  for (;;) {
    const std::vector<pid_t> pids = Of("");
    if (pids.empty()) return static_cast<int>(seen.size());
    const int64_t elapsed_ms = NowUs() / 1000 - start_ms;
    if (elapsed_ms >= timeout_ms) {
      return Unavailable("lab " + lab_id_ + ": " + std::to_string(pids.size()) +
                         " processes still live after " + std::to_string(timeout_ms) + " ms");
    }
    std::vector<pid_t> fresh;
    for (pid_t pid : pids) {
      if (seen.insert(pid).second) fresh.push_back(pid);
    }
    // A frozen process keeps SIGTERM pending until it runs again.
    Signal(fresh, SIGTERM);
    Signal(fresh, SIGCONT);
    if (elapsed_ms >= grace_ms) Signal(pids, SIGKILL);
    SleepMs(kPollMs);
  }
}

}  // namespace duplex::lab
