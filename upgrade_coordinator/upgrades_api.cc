// Upgrades: the admin API's package, upgrade and features calls (see admin_api.md).
#include <spdlog/spdlog.h>

#include "upgrade_coordinator/upgrades.h"

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
          {"dir", m.dir}};
}

}  // namespace

ApiAnswer Upgrades::AddPackage(const nlohmann::json& body) {
  std::string path = body.value("path", "");
  if (path.empty()) return Error(400, "path: required");
  std::lock_guard lock(packages_mu_);
  auto added = packages_->Add(path);
  if (!added.ok()) return Error(400, added.status().message());
  spdlog::info("package {} {} stored", added->name, added->version.ToString());
  return {200, ManifestJson(*added)};
}

ApiAnswer Upgrades::ListPackages() const {
  std::lock_guard lock(packages_mu_);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& m : packages_->List()) list.push_back(ManifestJson(m));
  return {200, {{"packages", list}}};
}

std::vector<std::string> Upgrades::PlanChecks(const std::string& to, nlohmann::json* checks) const {
  std::vector<std::string> problems;
  std::string from = arbiter_->record().cluster_version;
  auto add = [&](const std::string& check, const std::string& problem) {
    checks->push_back({{"check", check}, {"ok", problem.empty()}, {"reason", problem}});
    if (!problem.empty()) problems.push_back(check + ": " + problem);
  };
  add("Verify", CheckPackage(to));
  add("PreValidate", CheckCompatibility(from, to));
  std::string active = ActiveName();
  std::string health = active.empty() ? "no active replica" : "";
  for (const auto& r : config_.replicas) {
    auto rep = Report(r.name);
    if (health.empty() && !rep) health = r.name + " is not reporting";
    if (health.empty() && !rep->healthy) health = r.name + " is unhealthy: " + rep->health_detail;
    if (health.empty() && rep->version != from) health = r.name + " runs " + rep->version;
  }
  if (health.empty() && !InSync(OtherName(active))) health = OtherName(active) + " not in sync";
  add("PreHealthCheck", health);
  std::string vetoes;
  for (const auto& r : config_.replicas) {
    auto rep = Report(r.name);
    if (rep && !rep->veto_reason.empty()) vetoes += r.name + " vetoes: " + rep->veto_reason;
  }
  add("VetoRound", vetoes);
  add("TakeLock", arbiter_->record().lock ? "the management lock is held" : "");
  return problems;
}

ApiAnswer Upgrades::Plan(const std::string& to) const {
  if (!ParseVersion(to).ok()) return Error(400, "to: \"" + to + "\" is not a version");
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& [step, what] : CampaignSteps()) {
    steps.push_back({{"step", step}, {"description", what}});
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

ApiAnswer Upgrades::Start(const nlohmann::json& body) {
  if (campaign_ && !campaign_->record().Done()) {
    return Error(409, "campaign " + std::to_string(campaign_->record().id) + " is " +
                          campaign_->record().state);
  }
  if (arbiter_->record().lock) return Error(409, "the management lock is held");
  CampaignRecord r;
  try {
    r.to = body.at("to").get<std::string>();
    r.soak_ms = body.value("soak_ms", int64_t{5000});
    r.auto_finalize = body.value("auto_finalize", false);
    r.force = body.value("force", false);
  } catch (const std::exception& e) {
    return Error(400, std::string("upgrade start: ") + e.what());
  }
  if (!ParseVersion(r.to).ok()) return Error(400, "to: \"" + r.to + "\" is not a version");
  if (r.soak_ms < 0) return Error(400, "soak_ms: must not be negative");
  r.from = arbiter_->record().cluster_version;
  if (r.from == r.to) return Error(409, "the cluster already runs " + r.to);
  r.id = campaign_ ? campaign_->record().id + 1 : 1;
  r.state = "running";
  Persist(r);
  campaign_ = std::make_unique<Campaign>(r, this);
  spdlog::info("campaign {}: {} -> {}{}", r.id, r.from, r.to, r.force ? " (forced)" : "");
  return Show();
}

nlohmann::json Upgrades::CampaignJson() const {
  if (!campaign_) return nullptr;
  const CampaignRecord& record = campaign_->record();
  auto j = nlohmann::json::parse(CampaignToJson(record));
  j["finalize_waits_for"] = campaign_->FinalizeWaitsFor();
  j["now_ms"] = now_us_ / 1000;
  if (!record.steps.empty() && record.steps.back().result == "running") {
    j["steps"].back()["detail"] = StepDetail(record.steps.back().step);
  }
  // The happy path's steps not reached yet (a rollback takes its own).
  nlohmann::json pending = nlohmann::json::array();
  if (!record.Done() && record.state != "rolling back") {
    bool reached = true;
    for (const auto& [step, what] : CampaignSteps()) {
      if (!reached) pending.push_back(step);
      if (!record.steps.empty() && step == record.steps.back().step) reached = false;
    }
  }
  j["pending"] = pending;
  if (observed_.campaign_id == record.id) j["observed"] = ObservedJson();
  return j;
}

ApiAnswer Upgrades::Show() const { return {200, {{"campaign", CampaignJson()}}}; }

ApiAnswer Upgrades::Abort() {
  if (!campaign_) return Error(409, "no campaign to abort");
  Status s = campaign_->Abort("aborted by the operator");
  if (!s.ok()) return Error(409, s.message());
  return Show();
}

ApiAnswer Upgrades::Finalize() {
  if (!campaign_) return Error(409, "no campaign to finalize");
  Status s = campaign_->Finalize();
  if (!s.ok()) return Error(409, s.message());
  return Show();
}

ApiAnswer Upgrades::Features() const {
  const std::string& cluster = arbiter_->record().cluster_version;
  auto cv = ParseVersion(cluster);
  // Every feature any stored package introduces, and whether the cluster reached it.
  std::map<std::string, Version> known;
  std::lock_guard lock(packages_mu_);
  for (const auto& m : packages_->List()) {
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
