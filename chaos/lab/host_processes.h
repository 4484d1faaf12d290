// HostProcesses: the processes of one lab's simulated hosts, found by the tag every one of
// them carries in its environment (DUPLEX_LAB=<lab id>, DUPLEX_LAB_HOST=<host>), which the
// replicas an agent starts inherit. Crash, freeze and thaw a host by signalling all of them.
// Stateless beyond the lab id; reads /proc on each call. Thread-compatible.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace duplex::lab {

inline constexpr const char* kLabEnv = "DUPLEX_LAB";
inline constexpr const char* kLabHostEnv = "DUPLEX_LAB_HOST";

// The environment entries ("NAME=value") of a process the lab starts on `host`; a process
// of the lab on no host (the coordinator of a two-host lab) has an empty host.
std::vector<std::string> LabEnvironment(const std::string& lab_id, const std::string& host);

// What /proc/<pid>/stat says of a process.
enum class ProcessState { kRunning, kStopped, kZombie, kGone };
ProcessState StateOf(pid_t pid);
const char* ProcessStateName(ProcessState state);  // "running", "stopped", "zombie", "gone"

class HostProcesses {
 public:
  explicit HostProcesses(std::string lab_id);

  // Live processes tagged with the lab and `host` ("" = every process of the lab, whatever
  // its host), in pid order. Unreadable and vanished pids, zombies and our own are skipped.
  std::vector<pid_t> Of(const std::string& host) const;
  // The host a process of the lab was tagged with ("" = none); nullopt when the process is not
  // the lab's (or is gone, or a zombie).
  std::optional<std::string> HostOf(pid_t pid) const;

  // SIGSTOP to every process of the host first (none can start another), then SIGKILL to all,
  // again until none is left or timeout_ms passes. The number killed; Unavailable when some
  // still live at the deadline.
  StatusOr<int> Crash(const std::string& host, int timeout_ms = 5000) const;
  // SIGSTOP / SIGCONT to every process of the host; the number signalled. Freeze looks again
  // until no new process appears (one started in between is stopped too), bounded.
  int Freeze(const std::string& host) const;
  int Thaw(const std::string& host) const;
  // `down`: SIGTERM to every process of the lab, then SIGKILL to what is left after
  // grace_ms; the number of processes there were. Unavailable when some live after timeout.
  StatusOr<int> StopAll(int grace_ms, int timeout_ms = 5000) const;

 private:
  std::string lab_id_;
};

}  // namespace duplex::lab
