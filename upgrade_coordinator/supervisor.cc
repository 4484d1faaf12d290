#include "upgrade_coordinator/supervisor.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "common/assert.h"
#include "common/subprocess.h"

namespace duplex {

// Unreaped children keep their pids, so a child's pid names one tracked child at a time.
size_t Supervisor::ChildrenWithPid(pid_t pid) const {
  size_t n = 0;
  for (const auto& [name, p] : procs_) n += p.child && p.pid == pid ? 1 : 0;
  return n;
}

StatusOr<pid_t> Supervisor::Start(const std::string& name, const std::vector<std::string>& argv,
                                  const std::string& log_path) {
  if (argv.empty()) return InvalidArgument("no command for replica " + name);
  if (::access(argv[0].c_str(), X_OK) != 0) {
    return InvalidArgument("replica " + name + ": " + argv[0] +
                           " is not executable: " + std::strerror(errno));
  }
  SpawnOptions options;
  options.argv = argv;
  options.stdout_to = ChildOutput::kLogFile;
  options.stderr_to = ChildOutput::kLogFile;
  options.log_path = log_path;
  options.group = ChildGroup::kOwn;  // a signal meant for the coordinator does not reach it
  options.unblock_signals = true;    // a mask the coordinator inherited is not passed on
  StatusOr<pid_t> pid = Spawn(options);
  if (!pid.ok())
    return Status(pid.status().code(), "replica " + name + ": " + pid.status().message());
  DUPLEX_ASSERT(*pid > 0, "a started child has a pid", name, *pid);
  procs_[name] = {*pid, true, 0};
  DUPLEX_ASSERT(ChildrenWithPid(*pid) == 1, "a child's pid is tracked once", name, *pid);
  return *pid;
}

void Supervisor::Adopt(const std::string& name, pid_t pid) {
  auto it = procs_.find(name);
  if (it != procs_.end() && it->second.pid == pid) return;
  procs_[name] = {pid, false, 0};
}

namespace {
int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

// An adopted process is not our child: it is gone when kill(pid, 0) fails, or a zombie
// when nobody reaps it (a container's pid 1 may not).
bool Running(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'Z';
}

void Supervisor::Terminate(const std::string& name, int grace_ms) {
  auto it = procs_.find(name);
  if (it == procs_.end() || it->second.pid == 0) return;
  DUPLEX_ASSERT(grace_ms >= 0, "a grace period is a duration", name, grace_ms);
  ::kill(it->second.pid, SIGTERM);
  it->second.kill_at_ms = NowMs() + grace_ms;
}

std::vector<std::string> Supervisor::Reap() {
  std::vector<std::string> exited;
  for (auto& [name, p] : procs_) {
    if (p.pid != 0 && p.kill_at_ms != 0 && NowMs() >= p.kill_at_ms) {
      ::kill(p.pid, SIGKILL);  // it did not stop within its grace
      p.kill_at_ms = 0;
    }
  }
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    DUPLEX_ASSERT(ChildrenWithPid(pid) <= 1, "a child is reaped once, for one name", pid);
    for (auto& [name, p] : procs_) {
      if (p.pid == pid) {
        exited.push_back(name);
        p.pid = 0;
      }
    }
  }
  for (auto& [name, p] : procs_) {
    if (p.pid != 0 && !p.child && !Running(p.pid)) {
      exited.push_back(name);
      p.pid = 0;
    }
  }
  // Each exit is reported once: a name's pid is cleared as it is reported.
  for (const std::string& name : exited) {
    DUPLEX_ASSERT(procs_.at(name).pid == 0, "a reported exit clears its pid", name);
  }
  DUPLEX_ASSERT(exited.size() <= procs_.size(), "at most one exit per name", exited.size(),
                procs_.size());
  return exited;
}

void Supervisor::StopAll(int grace_ms) {
  for (auto& [name, p] : procs_) {
    if (p.pid != 0) ::kill(p.pid, SIGTERM);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  auto alive = [&] {
    Reap();
    for (auto& [name, p] : procs_) {
      if (p.pid != 0 && ::kill(p.pid, 0) == 0) return true;
    }
    return false;
  };
  while (alive() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& [name, p] : procs_) {
    if (p.pid != 0 && ::kill(p.pid, SIGKILL) == 0 && p.child) ::waitpid(p.pid, nullptr, 0);
    p.pid = 0;
  }
  DUPLEX_ASSERT(
      std::all_of(procs_.begin(), procs_.end(), [](const auto& e) { return e.second.pid == 0; }),
      "after StopAll no process is tracked as running", procs_.size());
}

pid_t Supervisor::pid(const std::string& name) const {
  auto it = procs_.find(name);
  return it == procs_.end() ? 0 : it->second.pid;
}

pid_t Supervisor::owned_pid(const std::string& name) const {
  auto it = procs_.find(name);
  return it == procs_.end() || !it->second.child ? 0 : it->second.pid;
}

}  // namespace duplex
