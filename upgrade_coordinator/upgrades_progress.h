// CampaignProgress: what the coordinator sees of a running campaign — the running step's
// detail for `upgrade status --watch` and the figures of the campaign's summary. Read from
// the replicas' periodic reports (through the CampaignHost), so as fresh as the report
// interval; the clients' own view (demo, bench) is the precise one. Volatile: a restarted
// coordinator starts observing again. Owned by Upgrades; the loop thread only.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "upgrade_coordinator/campaign/campaign.h"
#include "upgrade_coordinator/cluster_config.h"

namespace duplex {

class CampaignProgress {
 public:
  CampaignProgress(const ClusterConfig& config, const CampaignHost* host)
      : config_(config), host_(host) {}

  // Called on each loop turn while the campaign runs.
  void Observe(const CampaignRecord& record, int64_t now_us);
  // How far the running step is ("b standby/catching-up at seq 1200, ..."); "" when there
  // is nothing to say of it.
  std::string StepDetail(const CampaignRecord& record, int64_t now_us) const;
  // The summary's figures, or null when this campaign was not observed.
  nlohmann::json ObservedJson(uint64_t campaign_id) const;

 private:
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

  const ClusterConfig& config_;
  const CampaignHost* host_;
  Observation observed_;
};

}  // namespace duplex
