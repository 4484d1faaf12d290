// RecordKeeper: the one writer of the arbiter's durable cluster record. Every change goes
// through a named method that checks its preconditions, persists the whole record
// (RecordStore::Save, synced) and only then makes it visible through record(): what the
// arbiter announces was durable first. A failed write stops the coordinator (Fatal).
// Owned by the Arbiter; single-threaded.
#pragma once

#include <cstdint>
#include <string>

#include "upgrade_coordinator/arbiter_types.h"

namespace duplex {

class RecordKeeper {
 public:
  RecordKeeper(const ArbiterOptions& options, RecordStore* store);

  // Reads the stored record (none: a new cluster) and records the configured version as
  // the cluster version if none is recorded yet.
  Status Load();

  // The durable record: nothing in it is unsaved.
  const ClusterRecord& record() const { return record_; }
  bool Failed(const std::string& name) const { return Flag(record_.failed, name); }
  bool Isolated(const std::string& name) const { return Flag(record_.isolated, name); }
  bool InSync(const std::string& name) const { return Flag(record_.in_sync, name); }
  // The version `name` is assigned: recorded by a reload, else the configured one.
  std::string VersionOf(const std::string& name) const;

  // A report from a later epoch than ours (our record was lost): never hand out an epoch
  // someone has seen; no active until one is promoted.
  void AdoptEpoch(uint64_t epoch);
  // Promotion: epoch + 1 with `name` active, both replicas out of sync in the new history.
  void BeginEpoch(const std::string& name, bool skip_lease_wait);
  // The active is gone and nobody could take over: no active in this epoch.
  void ClearActive();
  // The active may commit alone: its standby is recorded out of sync first.
  void GrantSolo(const std::string& standby, uint64_t request_id);
  // The active reports its standby caught up.
  void RecordInSync(const std::string& standby, uint64_t request_id);
  void MarkFailed(const std::string& name);
  void SetIsolated(const std::string& name, bool isolated);
  void SetReplicaVersion(const std::string& name, const std::string& version);
  void SetClusterVersion(const std::string& version);
  void SetLock(bool held);

 private:
  static bool Flag(const std::map<std::string, bool>& flags, const std::string& name) {
    auto it = flags.find(name);
    return it != flags.end() && it->second;
  }
  // Checks what every record must satisfy against the one it replaces, saves it, adopts it.
  void Commit(const ClusterRecord& next);
  void CheckReplaces(const ClusterRecord& next) const;
  bool Member(const std::string& name) const { return options_.Find(name) != nullptr; }

  const ArbiterOptions& options_;
  RecordStore* store_;
  ClusterRecord record_;
  uint64_t saves_ = 0;  // records made durable by this coordinator
};

}  // namespace duplex
