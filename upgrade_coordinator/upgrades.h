// Upgrades: the coordinator's side of rolling upgrades — the package store, the
// campaign (and its persistence), the admin API's package/upgrade/features calls,
// and the CampaignHost the campaign acts through. Runs on the coordinator's loop
// thread; blocking work (backup, digest comparison) runs on one worker thread
// whose results come back through Tick.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "upgrade_coordinator/arbiter.h"
#include "upgrade_coordinator/campaign/campaign.h"
#include "upgrade_coordinator/cluster_config.h"
#include "upgrade_coordinator/package.h"

namespace duplex {

// An admin API answer: HTTP status and JSON body.
struct ApiAnswer {
  int status = 200;
  nlohmann::json body;
};

class Upgrades final : public CampaignHost {
 public:
  Upgrades(const ClusterConfig& config, Arbiter* arbiter, RecordStore* store);
  ~Upgrades() override;

  Status Open();  // package store, and a campaign to resume
  void Tick(int64_t now_ms, int64_t now_us);
  // The binary a replica must run (its assigned version).
  std::string BinaryFor(const std::string& replica) const;

  ApiAnswer AddPackage(const nlohmann::json& body);  // any thread
  ApiAnswer ListPackages() const;
  ApiAnswer Plan(const std::string& to) const;
  ApiAnswer Start(const nlohmann::json& body);
  ApiAnswer Show() const;
  ApiAnswer Abort();
  ApiAnswer Finalize();
  ApiAnswer Features() const;
  nlohmann::json CampaignJson() const;
  const CampaignRecord* campaign() const { return campaign_ ? &campaign_->record() : nullptr; }

  // CampaignHost.
  std::string ActiveName() const override;
  std::string OtherName(const std::string& replica) const override;
  std::optional<StatusReport> Report(const std::string& replica) const override;
  bool InSync(const std::string& replica) const override;
  std::string AssignedVersion(const std::string& replica) const override;
  uint64_t Starts(const std::string& replica) const override;
  std::string CheckPackage(const std::string& version) const override;
  std::string CheckCompatibility(const std::string& from, const std::string& to) const override;
  void Persist(const CampaignRecord& record) override;
  void Isolate(const std::string& replica, bool isolated) override;
  void Reload(const std::string& replica, const std::string& version) override;
  Status Switchover() override;
  void SetClusterVersion(const std::string& version) override;
  void SetLock(bool held) override;
  void StartWork(const std::string& kind) override;

 private:
  StatusOr<PackageManifest> PackageFor(const std::string& version) const;
  std::vector<std::string> PlanChecks(const std::string& to, nlohmann::json* checks) const;
  // What the worker needs of the cluster, read by the loop when the work starts (the
  // worker thread must not read the arbiter).
  struct Job {
    std::string kind;
    uint64_t campaign_id = 0;
    std::string version;  // the campaign's target
    size_t active = 0;    // index in config_.replicas
    std::string active_binary;
    uint32_t schema = 1;  // digests compare in the older of the two replicas' schemas
    bool marks = false;   // both replicas compare digests by a mark in the delta stream
  };
  Status RunBackup(const Job& job);
  // Drives a DigestComparison with blocking requests.
  Status CompareDigests(const Job& job);
  void WorkerLoop();
  // upgrades_progress.cc: what the coordinator sees of a running campaign.
  void Observe();
  std::string StepDetail(const std::string& step) const;
  nlohmann::json ObservedJson() const;

  ClusterConfig config_;
  Arbiter* arbiter_;
  RecordStore* store_;
  std::unique_ptr<PackageStore> packages_;
  std::unique_ptr<Campaign> campaign_;
  int64_t now_us_ = 0;

  // Volatile (a restarted coordinator starts observing again): the running step's
  // progress and the figures of the campaign's summary, from the replicas' reports.
  struct Observation {
    uint64_t campaign_id = 0;
    int64_t since_us = 0;
    int64_t last_serving_us = 0;  // an active answered clients (reported as serving)
    int64_t longest_gap_us = 0;   // longest time without one
    std::string serving;          // who, and the seq it had committed
    uint64_t serving_committed = 0;
    uint64_t missing_acked = 0;  // committed seqs the next active did not have
    uint64_t requests = 0, server_errors = 0;
    std::map<std::string, std::pair<uint64_t, uint64_t>> counters;  // last (requests, errors)
    // Rates of the running catch-up, sampled every kRateSampleUs.
    int64_t sample_us = 0;
    uint64_t sample_bytes = 0, sample_seq = 0;
    double mb_per_s = 0, ops_per_s = 0;
  };
  Observation observed_;

  // The package store is used by the loop and by the HTTP thread (adding a package hashes
  // and copies a binary, too slow for the loop).
  mutable std::mutex packages_mu_;
  std::mutex mu_;  // guards jobs_, results_, stop_
  std::deque<Job> jobs_;
  std::deque<std::pair<std::string, Status>> results_;
  bool stop_ = false;
  std::atomic<bool> quiesce_wanted_{false};  // set by the worker, applied by the loop
  bool quiesce_applied_ = false;
  std::thread worker_;
};

}  // namespace duplex
