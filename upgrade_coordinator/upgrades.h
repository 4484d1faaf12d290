// Upgrades: the coordinator's host of rolling upgrades — the package store, the campaign
// and its persistence, and the CampaignHost the campaign acts through. The admin API's
// calls are UpgradesApi (upgrades_api.h); what is seen of a running campaign is
// CampaignProgress (upgrades_progress.h). Runs on the coordinator's loop thread, except the
// package store calls (any thread); blocking work (verify, backup, digest comparison) runs
// on one worker thread whose results come back through Tick.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "upgrade_coordinator/arbiter.h"
#include "upgrade_coordinator/campaign/campaign.h"
#include "upgrade_coordinator/cluster_config.h"
#include "upgrade_coordinator/package.h"
#include "upgrade_coordinator/package_distribution.h"
#include "upgrade_coordinator/upgrades_progress.h"

namespace duplex {

class Upgrades final : public CampaignHost {
 public:
  // `agents`: the hosts' agents, which receive packages and report their hosts' facts.
  Upgrades(const ClusterConfig& config, Arbiter* arbiter, RecordStore* store,
           const AgentLinks* agents,
           FeaturesOnReload features_on_reload = &FeaturesWaitForEveryReplica);
  ~Upgrades() override;

  Status Open();  // package store, and a campaign to resume
  void Tick(int64_t now_ms, int64_t now_us);
  int64_t now_us() const { return now_us_; }
  // The binary a replica must run (its assigned version).
  std::string BinaryFor(const std::string& replica) const;
  // The package (name, version) an agent starts the replica with; the name is "" for the
  // configured processor binary.
  std::pair<std::string, std::string> PackageRefFor(const std::string& replica) const;
  // Package parts due to the agents now (see PackageDistributor).
  std::vector<std::pair<std::string, PackagePart>> TakePackageParts(int64_t now_us) {
    return distributor_.TakeParts(now_us);
  }

  // The package store; any thread (adding one hashes and copies a binary).
  StatusOr<PackageManifest> AddPackage(const std::string& dir);
  // Where uploads are written before they are added (inside the store: one file system).
  std::string PackageStoreDir() const;
  // Packages refused since this term opened the store, by reason name (every reason, even 0).
  std::map<std::string, uint64_t> PackageRefusals() const;
  // Counts a refusal decided before the store saw the package (POST /packages' rules).
  void CountPackageRefusal(PackageRefusal reason);
  // Packages the hosts' agents refused during distribution; the loop thread.
  uint64_t AgentPackageRefusals() const { return distributor_.agent_refusals(); }
  std::vector<PackageManifest> Packages() const;
  // The stored package `name` at `version`; with no name, the one stored package of that
  // version (several of different names: an error naming them).
  StatusOr<PackageManifest> PackageFor(const std::string& name, const std::string& version) const;
  // The package of `version` a replica runs: the campaign's (by name), else as above.
  StatusOr<PackageManifest> PackageFor(const std::string& version) const;

  // The latest campaign (running or ended), if any.
  const CampaignRecord* campaign() const { return campaign_ ? &campaign_->record() : nullptr; }
  // A campaign under way, or a quiesce to apply: Tick has work at every loop turn.
  bool Busy() const {
    return (campaign_ && !campaign_->record().Done()) || quiesce_wanted_ != quiesce_applied_;
  }
  Campaign* mutable_campaign() { return campaign_.get(); }
  const Campaign* current_campaign() const { return campaign_.get(); }
  // Persists a new campaign's record, then starts it.
  void StartCampaign(const CampaignRecord& record);
  const CampaignProgress& progress() const { return progress_; }

  // CampaignHost.
  std::string ActiveName() const override;
  std::string OtherName(const std::string& replica) const override;
  std::optional<StatusReport> Report(const std::string& replica) const override;
  bool InSync(const std::string& replica) const override;
  std::string AssignedVersion(const std::string& replica) const override;
  uint64_t Starts(const std::string& replica) const override;
  std::string CheckPackage(const std::string& version) const override;
  Distribution DistributePackage(const std::string& version) override;
  std::string CheckCompatibility(const std::string& from, const std::string& to) const override;
  void Persist(const CampaignRecord& record) override;
  void Isolate(const std::string& replica, bool isolated) override;
  void Reload(const std::string& replica, const std::string& version) override;
  Status Switchover() override;
  void SetClusterVersion(const std::string& version) override;
  void SetLock(bool held) override;
  void StartWork(WorkKind kind) override;

 private:
  // What the worker needs of the cluster, read by the loop when the work starts (the
  // worker thread must not read the arbiter).
  struct Job {
    WorkKind kind = WorkKind::kVerify;
    uint64_t campaign_id = 0;
    std::string version;  // the campaign's target
    size_t active = 0;    // index in config_.replicas
    std::string active_binary;
    uint32_t schema = 1;  // digests compare in the older of the two replicas' schemas
    bool marks = false;   // both replicas compare digests by a mark in the delta stream
    // By replica index: its status says it is a release older than AdminRequest frames,
    // so admin requests go to it as the "_digest..." client ops it took.
    bool legacy_ops[2] = {false, false};
  };
  struct Done {
    WorkKind kind;
    uint64_t campaign_id;
    Status status;
  };
  Status RunBackup(const Job& job);
  // Drives a DigestComparison with blocking requests.
  Status CompareDigests(const Job& job);
  void WorkerLoop();

  ClusterConfig config_;
  Arbiter* arbiter_;
  RecordStore* store_;
  FeaturesOnReload features_on_reload_;
  const AgentLinks* agents_;
  PackageDistributor distributor_;
  std::unique_ptr<PackageStore> packages_;
  std::unique_ptr<Campaign> campaign_;
  CampaignProgress progress_;
  int64_t now_us_ = 0;

  // The package store is used by the loop and by the HTTP thread (adding a package hashes
  // and copies a binary, too slow for the loop).
  mutable std::mutex packages_mu_;
  std::mutex mu_;                    // guards jobs_, done_, stop_
  std::condition_variable jobs_cv_;  // a job queued, or stop_
  std::deque<Job> jobs_;
  std::deque<Done> done_;
  bool stop_ = false;
  std::atomic<bool> quiesce_wanted_{false};  // set by the worker, applied by the loop
  bool quiesce_applied_ = false;
  std::thread worker_;
};

}  // namespace duplex
