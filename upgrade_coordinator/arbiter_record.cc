#include "upgrade_coordinator/arbiter_record.h"

#include <spdlog/spdlog.h>

#include "common/assert.h"
#include "common/fatal.h"
#include "feature_flags/feature_set.h"

namespace duplex {

RecordKeeper::RecordKeeper(const ArbiterOptions& options, RecordStore* store)
    : options_(options), store_(store) {
  DUPLEX_ASSERT(store_ != nullptr, "the arbiter needs a record store");
}

Status RecordKeeper::Load() {
  DUPLEX_ASSERT(saves_ == 0, "loaded once, before any decision", saves_);
  auto loaded = store_->Load();
  if (!loaded.ok()) return loaded.status();
  if (loaded->has_value()) {
    record_ = **loaded;
    // Every stored record went through Commit: check what it promised still holds.
    DUPLEX_ASSERT(record_.solo_grant_id <= record_.sync_id, "solo grant", record_.solo_grant_id,
                  "sync id", record_.sync_id);
    DUPLEX_ASSERT(record_.active.empty() || record_.last_active == record_.active, "active",
                  record_.active, "last active", record_.last_active);
    DUPLEX_ASSERT(record_.active.empty() || record_.epoch > 0, "an active needs an epoch",
                  record_.active);
    spdlog::info("recovered: epoch {}, active '{}'", record_.epoch, record_.active);
  }
  if (record_.cluster_version.empty()) {
    ClusterRecord next = record_;
    next.cluster_version = options_.initial_version;
    Commit(next);
  }
  return Status::Ok();
}

std::string RecordKeeper::VersionOf(const std::string& name) const {
  auto it = record_.replica_version.find(name);
  return it == record_.replica_version.end() || it->second.empty() ? options_.initial_version
                                                                   : it->second;
}

void RecordKeeper::AdoptEpoch(uint64_t epoch) {
  DUPLEX_ASSERT(epoch > record_.epoch, "adopt only a later epoch", epoch, "ours", record_.epoch);
  ClusterRecord next = record_;
  next.epoch = epoch;
  next.active.clear();
  Commit(next);
}

void RecordKeeper::BeginEpoch(const std::string& name, bool skip_lease_wait) {
  DUPLEX_ASSERT(Member(name), "promote a member", name);
  DUPLEX_ASSERT(!Failed(name), "a replica marked failed is never promoted", name);
  // Epochs come in steps of at most epoch_step_max (RefuseStep): never near the top.
  DUPLEX_ASSERT(record_.epoch < UINT64_MAX, "the epoch never wraps", record_.epoch);
  ClusterRecord next = record_;
  ++next.epoch;
  next.active = name;
  next.last_active = name;
  // The other replica must catch up in the new history before it counts as in sync.
  next.in_sync[options_.Other(name)] = false;
  next.in_sync[name] = false;
  next.solo_grant_id = 0;
  next.sync_id = 0;
  next.skip_lease_wait = skip_lease_wait;
  DUPLEX_ASSERT(next.epoch == record_.epoch + 1, "the next epoch is the recorded one plus one",
                next.epoch, record_.epoch);
  Commit(next);  // durable before anyone hears of the new epoch
}

void RecordKeeper::ClearActive() {
  DUPLEX_ASSERT(!record_.active.empty(), "clear an active that is recorded", record_.epoch);
  ClusterRecord next = record_;
  next.active.clear();
  Commit(next);
  DUPLEX_ASSERT(record_.last_active == next.last_active && !record_.last_active.empty(),
                "the last active is kept: it holds every acknowledged write", record_.last_active);
}

void RecordKeeper::GrantSolo(const std::string& standby, uint64_t request_id) {
  DUPLEX_ASSERT(!record_.active.empty(), "a solo grant needs an active", record_.epoch);
  DUPLEX_ASSERT(Member(standby) && standby != record_.active, "a solo grant names the standby",
                standby, "active", record_.active);
  DUPLEX_ASSERT(request_id > record_.sync_id, "each request is processed once", request_id,
                "processed", record_.sync_id);
  ClusterRecord next = record_;
  next.in_sync[standby] = false;
  next.solo_grant_id = request_id;
  next.sync_id = request_id;
  Commit(next);
  DUPLEX_ASSERT(!InSync(standby) && record_.solo_grant_id == request_id,
                "the solo grant's standby is durably out of sync", standby, request_id);
}

void RecordKeeper::RecordInSync(const std::string& standby, uint64_t request_id) {
  DUPLEX_ASSERT(!record_.active.empty(), "an in-sync standby follows an active", record_.epoch);
  DUPLEX_ASSERT(Member(standby) && standby != record_.active, "in sync: the standby", standby,
                "active", record_.active);
  DUPLEX_ASSERT(request_id > record_.sync_id, "each request is processed once", request_id,
                "processed", record_.sync_id);
  ClusterRecord next = record_;
  next.in_sync[standby] = true;
  next.sync_id = request_id;
  Commit(next);
  DUPLEX_ASSERT(record_.solo_grant_id < record_.sync_id, "an in-sync record ends the solo grant",
                record_.solo_grant_id, record_.sync_id);
}

void RecordKeeper::MarkFailed(const std::string& name) {
  DUPLEX_ASSERT(Member(name), "mark a member failed", name);
  ClusterRecord next = record_;
  next.failed[name] = true;
  Commit(next);
}

void RecordKeeper::SetIsolated(const std::string& name, bool isolated) {
  DUPLEX_ASSERT(Member(name), "isolate a member", name);
  DUPLEX_ASSERT(Isolated(name) != isolated, "isolation changes", name, isolated);
  ClusterRecord next = record_;
  next.isolated[name] = isolated;
  Commit(next);
}

void RecordKeeper::SetReplicaVersion(const std::string& name, const std::string& version) {
  DUPLEX_ASSERT(Member(name), "reload a member", name);
  DUPLEX_ASSERT(!version.empty(), "a reload names its version", name);
  ClusterRecord next = record_;
  next.replica_version[name] = version;
  next.failed[name] = false;  // a release that crash-looped is replaced, not blamed forever
  Commit(next);
}

void RecordKeeper::SetClusterVersion(const std::string& version) {
  DUPLEX_ASSERT(version != record_.cluster_version, "the cluster version changes", version);
  auto to = ParseVersion(version);
  DUPLEX_ASSERT(to.ok(), "the cluster version is a version", version);
  // Finalizing cannot be undone: a replica refuses an older cluster version as stale, and
  // state written with the new features cannot be read by the old release.
  if (auto from = ParseVersion(record_.cluster_version); from.ok()) {
    DUPLEX_ASSERT(*to > *from, "the cluster version only rises", record_.cluster_version, "->",
                  version);
  }
  // A feature comes on only once a replica is assigned a release that has it. (The whole
  // rule, every replica, is the chaos checker's feature gate: its self-test, a coordinator
  // that raises the version at the first reload, must reach the checker.)
  bool assigned = false;
  for (const auto& m : options_.replicas) {
    auto v = ParseVersion(VersionOf(m.name));
    assigned = assigned || (v.ok() && *v >= *to);
  }
  DUPLEX_ASSERT(assigned, "a replica is assigned the cluster version or later", version);
  ClusterRecord next = record_;
  next.cluster_version = version;
  Commit(next);
}

void RecordKeeper::SetLock(bool held) {
  DUPLEX_ASSERT(record_.lock != held, "the management lock is taken when free, freed when held",
                held);
  ClusterRecord next = record_;
  next.lock = held;
  Commit(next);
}

void RecordKeeper::CheckReplaces(const ClusterRecord& next) const {
  DUPLEX_ASSERT(next.epoch >= record_.epoch, "epochs only grow in what is persisted", next.epoch,
                "recorded", record_.epoch);
  // A new active comes only with a new epoch: at most one active per epoch.
  DUPLEX_ASSERT(next.epoch > record_.epoch || next.active.empty() || next.active == record_.active,
                "one active per epoch", next.epoch, next.active, record_.active);
  DUPLEX_ASSERT(next.active.empty() || Member(next.active), "the active is a member", next.active);
  DUPLEX_ASSERT(next.active.empty() || next.last_active == next.active, "active", next.active,
                "last active", next.last_active);
  DUPLEX_ASSERT(next.solo_grant_id <= next.sync_id, "a solo grant is a processed request",
                next.solo_grant_id, next.sync_id);
  DUPLEX_ASSERT(next.epoch > record_.epoch || next.sync_id >= record_.sync_id,
                "request ids only grow within an epoch", next.sync_id, record_.sync_id);
  DUPLEX_ASSERT(next.epoch != record_.epoch + 1 || next.active.empty() ||
                    (next.sync_id == 0 && next.solo_grant_id == 0),
                "a promotion starts the solo protocol afresh", next.sync_id, next.solo_grant_id);
  // The active's latest solo grant stands until an in-sync record follows it: its standby
  // is recorded out of sync as long as it does.
  bool grant_stands = next.solo_grant_id != 0 && next.solo_grant_id == next.sync_id;
  if (grant_stands && !next.last_active.empty()) {
    std::string standby = options_.Other(next.last_active);
    DUPLEX_ASSERT(!Flag(next.in_sync, standby), "a solo grant's standby is out of sync", standby,
                  next.solo_grant_id);
  }
  DUPLEX_ASSERT(!next.cluster_version.empty() || options_.initial_version.empty(),
                "a cluster version is recorded", next.epoch);
}

void RecordKeeper::Commit(const ClusterRecord& next) {
  CheckReplaces(next);
  Status s = store_->Save(next);
  // Without a durable record the coordinator must not decide anything: stop, and resume
  // from the last record when restarted.
  if (!s.ok()) Fatal(Status(s.code(), "cannot persist the cluster record: " + s.message()));
  record_ = next;  // visible only now that it is durable
  ++saves_;
}

}  // namespace duplex
