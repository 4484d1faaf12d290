// Supervisor: starts replica processes, sees them exit, stops them. Children
// are reaped with waitpid; processes adopted after a coordinator restart (not
// our children) are watched with kill(pid, 0). Owned by the coordinator's
// event loop; not thread-safe.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace duplex {

class Supervisor {
 public:
  // Starts argv[0] with argv, stdout and stderr appended to log_path, in its own
  // process group so that a signal meant for the coordinator does not reach it.
  StatusOr<pid_t> Start(const std::string& name, const std::vector<std::string>& argv,
                        const std::string& log_path);
  void Adopt(const std::string& name, pid_t pid);
  // SIGTERM now, SIGKILL if it still runs after grace_ms (checked by Reap); its exit is
  // reported by Reap like any other.
  void Terminate(const std::string& name, int grace_ms);
  // Names whose process has exited since the last call.
  std::vector<std::string> Reap();
  // SIGTERM to all, then SIGKILL to those still alive after grace_ms.
  void StopAll(int grace_ms);
  pid_t pid(const std::string& name) const;
  // The pid of a child we started (0 for none or an adopted process).
  pid_t owned_pid(const std::string& name) const;

 private:
  struct Proc {
    pid_t pid = 0;
    bool child = false;
    int64_t kill_at_ms = 0;  // 0: not being terminated
  };
  size_t ChildrenWithPid(pid_t pid) const;  // tracked children with this pid (0 or 1)

  std::map<std::string, Proc> procs_;
};

}  // namespace duplex
