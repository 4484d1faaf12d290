// UpgradesApi: the admin API's package, upgrade and features calls (admin_api.md), as JSON
// answers. Reads the cluster through the arbiter and acts through Upgrades. AddPackage on
// any thread (the coordinator's HTTP thread); the rest on the loop thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "upgrade_coordinator/arbiter.h"
#include "upgrade_coordinator/cluster_config.h"
#include "upgrade_coordinator/upgrades.h"

namespace duplex {

// An admin API answer: HTTP status and JSON body.
struct ApiAnswer {
  int status = 200;
  nlohmann::json body;
};

class UpgradesApi {
 public:
  UpgradesApi(const ClusterConfig& config, const Arbiter* arbiter, Upgrades* upgrades)
      : config_(config), arbiter_(arbiter), upgrades_(upgrades) {}

  // POST /packages {"path": ...}: only a path under security.package_dir (symbolic links
  // resolved first); any thread.
  ApiAnswer AddPackage(const nlohmann::json& body);
  // Verifies and stores the package at `file`: an upload written by the HTTP thread
  // (package_upload.h), or a path AddPackage allowed; any thread.
  // Errors name the package as `shown_as` instead of `file` ("upload" for an upload).
  ApiAnswer StorePackage(const std::string& file, const std::string& shown_as);
  // Counts a refused upload (too large) with the store's other refusals; any thread.
  void CountPackageRefusal(PackageRefusal reason) { upgrades_->CountPackageRefusal(reason); }
  std::string PackageStoreDir() const { return upgrades_->PackageStoreDir(); }
  ApiAnswer ListPackages() const;
  ApiAnswer Plan(const std::string& to) const;
  ApiAnswer Start(const nlohmann::json& body);
  ApiAnswer Show() const;
  ApiAnswer Abort();
  ApiAnswer Finalize();
  ApiAnswer Features() const;
  // The campaign as the API shows it (record, running step's detail, pending steps,
  // observed figures); null without one.
  nlohmann::json CampaignJson() const;

 private:
  std::vector<std::string> PlanChecks(const std::string& to, nlohmann::json* checks) const;
  StatusOr<std::string> PathUnderPackageDir(const std::string& path) const;

  const ClusterConfig& config_;
  const Arbiter* arbiter_;
  Upgrades* upgrades_;
};

}  // namespace duplex
