#include "upgrade_coordinator/upgrades_api.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "upgrade_coordinator/admin_body.h"

namespace duplex {
namespace {

ApiAnswer Error(int status, const std::string& why) { return {status, {{"error", why}}}; }

nlohmann::json ManifestJson(const PackageManifest& m) {
  nlohmann::json features = nlohmann::json::array();
  for (const auto& f : m.features) {
    features.push_back({{"name", f.name}, {"introduced_in", f.introduced_in.ToString()}});
  }
  return {{"name", m.name},
          {"version", m.version.ToString()},
          {"binary", m.binary},
          {"sha256", m.sha256},
          {"upgrade_from", m.upgrade_from.ToString()},
          {"schema", m.schema},
          {"features", features},
          {"signer", m.signer},
          {"dir", m.dir}};
}

}  // namespace

ApiAnswer UpgradesApi::AddPackage(const nlohmann::json& body) {
  auto request = DecodeAddPackage(body);
  if (!request.ok()) {
    return Error(400, request.status().message() + "; or upload the package as the body");
  }
  StatusOr<std::string> allowed = PathUnderPackageDir(request->path);
  if (!allowed.ok()) {
    upgrades_->CountPackageRefusal(PackageRefusal::kOutsideDir);
    spdlog::warn("POST /packages refused: {}", allowed.status().message());
    return Error(403, allowed.status().message());
  }
  return StorePackage(*allowed, *allowed);
}

ApiAnswer UpgradesApi::StorePackage(const std::string& file, const std::string& shown_as) {
  auto added = upgrades_->AddPackage(file);
  if (!added.ok()) {
    std::string why = added.status().message();
    if (why.starts_with(file)) why = shown_as + why.substr(file.size());
    spdlog::warn("package refused: {}", why);
    return Error(400, why);
  }
  spdlog::info("package {} {} stored{}", added->name, added->version.ToString(),
               added->signer.empty() ? " (unsigned)" : ", signed by " + added->signer);
  return {200, ManifestJson(*added)};
}

// The rule of POST /packages {"path"}: the path, with every symbolic link resolved, must lie
// inside security.package_dir (also resolved), so no file elsewhere that the coordinator can
// read is ever copied, and later executed, on a caller's word.
StatusOr<std::string> UpgradesApi::PathUnderPackageDir(const std::string& path) const {
  const std::string dir = PackagePolicyOf(config_).package_dir;
  const std::string rule = "POST /packages {\"path\"}: ";
  if (dir.empty()) {
    return FailedPrecondition(rule +
                              "refused: security.package_dir is not configured, so only "
                              "uploads are accepted (duplex package add uploads the package)");
  }
  std::error_code ec;
  const std::filesystem::path resolved = std::filesystem::canonical(path, ec);
  if (ec) return FailedPrecondition(rule + path + ": " + ec.message());
  const std::filesystem::path base = std::filesystem::canonical(dir, ec);
  if (ec) return FailedPrecondition(rule + "security.package_dir " + dir + ": " + ec.message());
  const std::string prefix = base.string() + "/";
  if (!resolved.string().starts_with(prefix)) {
    return FailedPrecondition(rule + path + " (" + resolved.string() +
                              ") is not under security.package_dir " + base.string());
  }
  return resolved.string();
}

ApiAnswer UpgradesApi::ListPackages() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& m : upgrades_->Packages()) list.push_back(ManifestJson(m));
  return {200, {{"packages", list}}};
}

std::vector<std::string> UpgradesApi::PlanChecks(const std::string& to,
                                                 nlohmann::json* checks) const {
  std::vector<std::string> problems;
  std::string from = arbiter_->record().cluster_version;
  auto add = [&](const std::string& check, const std::string& problem) {
    checks->push_back({{"check", check}, {"ok", problem.empty()}, {"reason", problem}});
    if (!problem.empty()) problems.push_back(check + ": " + problem);
  };
  add(Name(CampaignStep::kVerify), upgrades_->CheckPackage(to));
  add(Name(CampaignStep::kPreValidate), upgrades_->CheckCompatibility(from, to));
  std::string active = upgrades_->ActiveName();
  std::string health = active.empty() ? "no active replica" : "";
  for (const auto& r : config_.replicas) {
    auto rep = upgrades_->Report(r.name);
    if (health.empty() && !rep) health = r.name + " is not reporting";
    if (health.empty() && !rep->healthy) health = r.name + " is unhealthy: " + rep->health_detail;
    if (health.empty() && rep->version != from) health = r.name + " runs " + rep->version;
  }
  std::string standby = upgrades_->OtherName(active);
  if (health.empty() && !upgrades_->InSync(standby)) health = standby + " not in sync";
  add(Name(CampaignStep::kPreHealthCheck), health);
  std::string vetoes;
  for (const auto& r : config_.replicas) {
    auto rep = upgrades_->Report(r.name);
    if (rep && !rep->veto_reason.empty()) vetoes += r.name + " vetoes: " + rep->veto_reason;
  }
  add(Name(CampaignStep::kVetoRound), vetoes);
  add(Name(CampaignStep::kTakeLock), arbiter_->record().lock ? "the management lock is held" : "");
  return problems;
}

ApiAnswer UpgradesApi::Plan(const std::string& to) const {
  if (!ParseVersion(to).ok()) return Error(400, "to: \"" + to + "\" is not a version");
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& [step, what] : CampaignSteps()) {
    steps.push_back({{"step", Name(step)}, {"description", what}});
  }
  nlohmann::json checks = nlohmann::json::array();
  auto problems = PlanChecks(to, &checks);
  return {200,
          {{"from", arbiter_->record().cluster_version},
           {"to", to},
           {"steps", steps},
           {"checks", checks},
           {"ok", problems.empty()}}};
}

ApiAnswer UpgradesApi::Start(const nlohmann::json& body) {
  const CampaignRecord* last = upgrades_->campaign();
  if (last && !last->Done()) {
    return Error(409, "campaign " + std::to_string(last->id) + " is " + Name(last->state));
  }
  if (arbiter_->record().lock) return Error(409, "the management lock is held");
  auto request = DecodeUpgradeStart(body);
  if (!request.ok()) return Error(400, request.status().message());
  CampaignRecord r;
  r.to = request->to;
  r.package = request->package;
  r.soak_ms = request->soak_ms;
  r.auto_finalize = request->auto_finalize;
  r.force = request->force;
  if (!ParseVersion(r.to).ok()) return Error(400, "to: \"" + r.to + "\" is not a version");
  r.from = arbiter_->record().cluster_version;
  if (r.from == r.to) return Error(409, "the cluster already runs " + r.to);
  if (auto chosen = upgrades_->PackageFor(r.package, r.to); !chosen.ok()) {
    return Error(409, chosen.status().message());
  } else {
    r.package = chosen->name;  // recorded by name: a later package of another name changes nothing
  }
  r.id = last ? last->id + 1 : 1;
  upgrades_->StartCampaign(r);
  spdlog::info("campaign {}: {} -> {}{}", r.id, r.from, r.to, r.force ? " (forced)" : "");
  return Show();
}

nlohmann::json UpgradesApi::CampaignJson() const {
  const Campaign* campaign = upgrades_->current_campaign();
  if (campaign == nullptr) return nullptr;
  const CampaignRecord& record = campaign->record();
  const CampaignProgress& progress = upgrades_->progress();
  auto j = nlohmann::json::parse(CampaignToJson(record));
  j["finalize_waits_for"] = campaign->FinalizeWaitsFor();
  j["now_ms"] = upgrades_->now_us() / 1000;
  if (!record.steps.empty() && record.steps.back().result == StepOutcome::kRunning) {
    j["steps"].back()["detail"] = progress.StepDetail(record, upgrades_->now_us());
  }
  // The happy path's steps not reached yet (a rollback takes its own).
  nlohmann::json pending = nlohmann::json::array();
  if (!record.Done() && record.state != CampaignState::kRollingBack) {
    bool reached = true;
    for (const auto& [step, what] : CampaignSteps()) {
      if (!reached) pending.push_back(Name(step));
      if (!record.steps.empty() && step == record.steps.back().step) reached = false;
    }
  }
  j["pending"] = pending;
  if (nlohmann::json observed = progress.ObservedJson(record.id); !observed.is_null()) {
    j["observed"] = std::move(observed);
  }
  return j;
}

ApiAnswer UpgradesApi::Show() const { return {200, {{"campaign", CampaignJson()}}}; }

ApiAnswer UpgradesApi::Abort() {
  Campaign* campaign = upgrades_->mutable_campaign();
  if (campaign == nullptr) return Error(409, "no campaign to abort");
  Status s = campaign->Abort("aborted by the operator");
  if (!s.ok()) return Error(409, s.message());
  return Show();
}

ApiAnswer UpgradesApi::Finalize() {
  Campaign* campaign = upgrades_->mutable_campaign();
  if (campaign == nullptr) return Error(409, "no campaign to finalize");
  Status s = campaign->Finalize();
  if (!s.ok()) return Error(409, s.message());
  return Show();
}

ApiAnswer UpgradesApi::Features() const {
  const std::string& cluster = arbiter_->record().cluster_version;
  auto cv = ParseVersion(cluster);
  // Every feature any stored package introduces, and whether the cluster reached it.
  std::map<std::string, Version> known;
  for (const auto& m : upgrades_->Packages()) {
    for (const auto& f : m.features) known.emplace(f.name, f.introduced_in);
  }
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [name, introduced] : known) {
    bool on = cv.ok() && *cv >= introduced;
    std::string why =
        on ? "the cluster version " + cluster + " has reached " + introduced.ToString()
           : "disabled until the cluster is upgraded to " + introduced.ToString() +
                 " and finalized (cluster version " + cluster + ")";
    list.push_back(
        {{"name", name}, {"introduced_in", introduced.ToString()}, {"enabled", on}, {"why", why}});
  }
  return {200, {{"cluster_version", cluster}, {"features", list}}};
}

}  // namespace duplex
