// `duplex package|upgrade|features`: the operator's side of rolling upgrades. Each command
// is one or a few HTTP+JSON calls to the coordinator's admin API
// (upgrade_coordinator/admin_api.md); the formatting lives in pure functions so tests need
// no cluster. Single-threaded; every call and every wait is bounded.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/duration.h"
#include "common/status.h"
#include "upgrade_coordinator/cluster_config.h"

namespace CLI {
class App;
}  // namespace CLI

namespace duplex::cli {

// The formatters take the coordinator's answers as they arrive (admin_api.md) and return
// text ending in a newline, or "coordinator answered unexpected JSON: ..." when a field
// the text needs is missing or has the wrong type. They never throw.

// POST /packages: "stored kv 2.0.0 (sha256 3f2a…, schema 2, features: expiry)".
StatusOr<std::string> FormatStoredPackage(const nlohmann::json& manifest);
// GET /packages: NAME VERSION SCHEMA UPGRADES-FROM FEATURES SHA256.
StatusOr<std::string> FormatPackages(const nlohmann::json& answer);
// GET /upgrade/plan: the numbered steps, then each check with OK/NOK and its reason.
StatusOr<std::string> FormatPlan(const nlohmann::json& plan);
// GET /upgrade (or the campaign a POST answers with, wrapped in {"campaign": ...} or not):
// the headline (id, from -> to, state), then each step with result, duration and reason.
StatusOr<std::string> FormatCampaign(const nlohmann::json& answer);
// The headline alone, for abort and finalize.
StatusOr<std::string> FormatCampaignHeadline(const nlohmann::json& answer);
// GET /features: FEATURE INTRODUCED-IN STATE WHY.
StatusOr<std::string> FormatFeatures(const nlohmann::json& answer);

// For `upgrade status --watch`: the lines to append when the campaign moved from `before`
// to `after` (both GET /upgrade answers; `before` null on the first poll), e.g.
// "+  1.2 s  reload b: ok". Times are seconds since the campaign's first step started.
StatusOr<std::vector<std::string>> CampaignChanges(const nlohmann::json& before,
                                                   const nlohmann::json& after);
// True when there is nothing more to watch: no campaign, or it is completed, rolled back or
// awaiting finalize.
// The running step's detail ("SyncFirst: b Standby/CatchingUp at seq ..."), or "".
StatusOr<std::string> RunningDetail(const nlohmann::json& answer);
// The coordinator's summary line of a settled campaign, or "".
StatusOr<std::string> CampaignSummary(const nlohmann::json& answer);

bool CampaignSettled(const nlohmann::json& answer);
// The exit code of `upgrade status --watch` once the campaign settled: 1 (failure) when it
// ended rolled back or the answer cannot be read, 0 when it completed, awaits finalize, or
// there is no campaign.
int WatchExitCode(const nlohmann::json& answer);

// Registers `package add|list`, `upgrade plan|start|status|abort|finalize` and `features`
// on `app` and runs whichever was parsed. Holds the parsed options, so it stays put.
class UpgradeCommands {
 public:
  explicit UpgradeCommands(CLI::App& app);
  UpgradeCommands(const UpgradeCommands&) = delete;
  UpgradeCommands& operator=(const UpgradeCommands&) = delete;

  // The exit code of the command that was parsed (0 ok, 1 operational error, 2 bad input),
  // or nullopt when the command line named none of these.
  std::optional<int> Run(const ClusterConfig& config) const;
  // `package keygen` and `package sign`, which need no cluster: run before the config is read.
  std::optional<int> RunWithoutConfig() const;

 private:
  int AddPackage(const ClusterConfig& config) const;
  int ListPackages(const ClusterConfig& config) const;
  int ShowPlan(const ClusterConfig& config) const;
  int StartCampaign(const ClusterConfig& config) const;
  int ShowCampaign(const ClusterConfig& config) const;
  int WatchCampaign(const ClusterConfig& config, int64_t timeout_ms) const;
  int Settle(const ClusterConfig& config, const std::string& path) const;
  int ShowFeatures(const ClusterConfig& config) const;

  int MakeKeys() const;
  int SignPackage() const;

  CLI::App* package_add_ = nullptr;
  CLI::App* package_keygen_ = nullptr;
  CLI::App* package_sign_ = nullptr;
  CLI::App* package_list_ = nullptr;
  CLI::App* plan_ = nullptr;
  CLI::App* start_ = nullptr;
  CLI::App* status_ = nullptr;
  CLI::App* abort_ = nullptr;
  CLI::App* finalize_ = nullptr;
  CLI::App* features_ = nullptr;

  std::string package_path_;
  bool by_path_ = false;
  std::string keys_out_dir_;
  std::string sign_key_file_;
  std::string to_version_;
  std::string package_name_;
  std::string soak_text_;
  std::string timeout_text_ = "10m";
  bool auto_finalize_ = false;
  bool force_ = false;
  bool watch_ = false;
  bool json_ = false;
};

}  // namespace duplex::cli
