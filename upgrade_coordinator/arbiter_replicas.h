// ReplicaTracker: what the arbiter knows of each replica process (its latest report,
// whether it runs, its pid and late reports of exited ones) and the restart policy
// (backoff, too many crashes in a window: marked failed, through the RecordKeeper). It
// decides; the Arbiter turns its answers into StartReplica/StopReplica actions.
// Owned by the Arbiter; single-threaded.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "upgrade_coordinator/arbiter_record.h"
#include "upgrade_coordinator/arbiter_types.h"

namespace duplex {

class ReplicaTracker {
 public:
  ReplicaTracker(const ArbiterOptions& options, RecordKeeper* records);

  // Supervision begins (the coordinator recovered): the startup grace counts from here.
  void Begin(int64_t now_us) { started_us_ = now_us; }
  int64_t started_us() const { return started_us_; }

  const std::map<std::string, ReplicaView>& views() const { return views_; }
  const ReplicaView& view(const std::string& name) const;
  bool Has(const std::string& name) const { return views_.count(name) != 0; }
  // Its process runs and reported within the failure timeout.
  bool Recent(const std::string& name, int64_t now_us) const;
  std::optional<StatusReport> RecentReport(const std::string& name, int64_t now_us) const;

  // Takes in a report; false when it is ignored (an unknown replica, an exited process).
  bool Adopt(const StatusReport& s, int64_t now_us);
  // Asks for `name` to be stopped (it restarts with its assigned version); `planned` says
  // its exit is no crash. True when a StopReplica must be issued (none is out yet).
  bool RequestStop(const std::string& name, bool planned);
  // Its assigned version changed (already recorded). True when it must be stopped now to
  // restart with it; a process that is down starts with it at once.
  bool Reload(const std::string& name, const std::string& version, int64_t now_us);

  void Started(const std::string& name, int32_t pid, int64_t now_us);
  // A process started with pid 0 (its agent had not said) has this pid.
  void KnownPid(const std::string& name, int32_t pid);
  // Its process exited: whether that was a planned restart, or nothing if it was not known
  // to run (not a member, or already counted).
  std::optional<bool> Exited(const std::string& name, int64_t now_us);
  // After an exit: restarts at once (planned), after a backoff (a crash), or never (too
  // many crashes in the window: marked failed).
  void ScheduleRestart(const std::string& name, bool planned, int64_t now_us);
  // The replicas to start now: first starts after the grace, and restarts that are due.
  std::vector<std::string> DueStarts(int64_t now_us);

 private:
  bool Recent(const ReplicaView& v, int64_t now_us) const;

  const ArbiterOptions& options_;
  RecordKeeper* records_;
  std::map<std::string, ReplicaView> views_;
  std::map<std::string, bool> planned_restart_;
  int64_t started_us_ = 0;
};

}  // namespace duplex
