#include "chaos/scenario.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/duration.h"
#include "upgrade_coordinator/campaign/campaign.h"

namespace duplex {
namespace {

Status Bad(const std::string& path, const std::string& why) {
  return InvalidArgument(path + ": " + why);
}

std::string Join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

// Fields a map may hold; anything else is a typo worth naming.
Status CheckKeys(const YAML::Node& node, const std::string& path,
                 const std::set<std::string>& allowed) {
  if (!node.IsMap()) return Bad(path.empty() ? "scenario" : path, "must be a map");
  for (const auto& kv : node) {
    std::string key = kv.first.as<std::string>();
    if (!allowed.count(key)) return Bad(Join(path, key), "unknown field");
  }
  return Status::Ok();
}

template <typename T>
Status Read(const YAML::Node& node, const std::string& path, const std::string& key, T* out) {
  const YAML::Node value = node[key];
  if (!value.IsDefined() || value.IsNull()) return Status::Ok();
  try {
    *out = value.as<T>();
  } catch (const YAML::Exception&) {
    return Bad(Join(path, key), "\"" + YAML::Dump(value) + "\" has the wrong type");
  }
  return Status::Ok();
}

Status ReadDuration(const YAML::Node& node, const std::string& path, const std::string& key,
                    int64_t* out) {
  std::string text;
  DUPLEX_RETURN_IF_ERROR(Read(node, path, key, &text));
  if (text.empty()) return Status::Ok();
  auto ms = ParseDurationMs(text);
  if (!ms.ok()) return Bad(Join(path, key), ms.status().message());
  *out = *ms;
  return Status::Ok();
}

Status ReadProbability(const YAML::Node& node, const std::string& path, const std::string& key,
                       double* out) {
  DUPLEX_RETURN_IF_ERROR(Read(node, path, key, out));
  if (*out < 0 || *out > 1) return Bad(Join(path, key), "must be within 0..1");
  return Status::Ok();
}

bool IsStep(const std::string& step) { return FromName<CampaignStep>(step).has_value(); }

Status ReadTrigger(const YAML::Node& node, const std::string& path, Trigger* t) {
  if (!node.IsDefined()) return Bad(path, "required (after, step, acked or random)");
  DUPLEX_RETURN_IF_ERROR(CheckKeys(node, path, {"after", "step", "acked", "random"}));
  if (node.size() != 1) return Bad(path, "exactly one of after, step, acked, random");
  if (node["after"]) {
    int64_t ms = 0;
    DUPLEX_RETURN_IF_ERROR(ReadDuration(node, path, "after", &ms));
    t->after_ms = ms;
  } else if (node["step"]) {
    DUPLEX_RETURN_IF_ERROR(Read(node, path, "step", &t->step));
    if (!IsStep(t->step))
      return Bad(Join(path, "step"), "\"" + t->step + "\" is not a campaign step");
  } else if (node["acked"]) {
    uint64_t n = 0;
    DUPLEX_RETURN_IF_ERROR(Read(node, path, "acked", &n));
    t->acked = n;
  } else {
    const YAML::Node range = node["random"];
    if (!range.IsSequence() || range.size() != 2) {
      return Bad(Join(path, "random"), "a [from, to] pair of durations");
    }
    auto lo = ParseDurationMs(range[0].as<std::string>());
    auto hi = ParseDurationMs(range[1].as<std::string>());
    if (!lo.ok() || !hi.ok() || *lo > *hi) {
      return Bad(Join(path, "random"), "a [from, to] pair of durations, from <= to");
    }
    t->random_ms = std::make_pair(*lo, *hi);
  }
  return Status::Ok();
}

const std::set<std::string> kProcessTargets = {"a", "b", "active", "standby", "coordinator"};
// isolate-active: the active's link to the coordinator and the replicas' link, together.
const std::set<std::string> kLinkTargets = {"replicas", "control", "isolate-active"};

Status ReadFault(const YAML::Node& node, const std::string& path, FaultSpec* f) {
  DUPLEX_RETURN_IF_ERROR(CheckKeys(node, path,
                                   {"kind", "target", "at", "duration", "error", "sync_only",
                                    "direction", "sever", "drop", "duplicate", "reorder", "corrupt",
                                    "delay", "jitter", "down", "offset", "back", "torn", "nth"}));
  std::string kind;
  DUPLEX_RETURN_IF_ERROR(Read(node, path, "kind", &kind));
  static const std::map<std::string, FaultKind> kKinds = {{"kill", FaultKind::kKill},
                                                          {"pause", FaultKind::kPause},
                                                          {"power-loss", FaultKind::kPowerLoss},
                                                          {"disk", FaultKind::kDisk},
                                                          {"partition", FaultKind::kPartition},
                                                          {"link", FaultKind::kLinkFaults},
                                                          {"clock-jump", FaultKind::kClockJump}};
  auto it = kKinds.find(kind);
  if (it == kKinds.end()) {
    return Bad(Join(path, "kind"),
               "\"" + kind +
                   "\" is not one of kill, pause, power-loss, disk, partition, link, clock-jump");
  }
  f->kind = it->second;
  DUPLEX_RETURN_IF_ERROR(Read(node, path, "target", &f->target));
  bool link = f->kind == FaultKind::kPartition || f->kind == FaultKind::kLinkFaults;
  bool ok_target = link ? kLinkTargets.count(f->target) > 0
                        : kProcessTargets.count(f->target) > 0 ||
                              (f->kind == FaultKind::kPowerLoss && f->target == "both");
  if (!ok_target) {
    return Bad(Join(path, "target"), "\"" + f->target + "\" is not a " +
                                         (link ? "link (replicas, control, isolate-active)"
                                               : "process (a, b, active, standby, "
                                                 "coordinator)"));
  }
  if ((f->kind == FaultKind::kDisk || f->kind == FaultKind::kPowerLoss ||
       f->kind == FaultKind::kClockJump) &&
      f->target == "coordinator") {
    return Bad(Join(path, "target"), "storage and clock faults apply to replicas");
  }
  DUPLEX_RETURN_IF_ERROR(ReadTrigger(node["at"], Join(path, "at"), &f->at));
  DUPLEX_RETURN_IF_ERROR(ReadDuration(node, path, "duration", &f->duration_ms));
  DUPLEX_RETURN_IF_ERROR(ReadDuration(node, path, "down", &f->down_ms));
  DUPLEX_RETURN_IF_ERROR(ReadDuration(node, path, "offset", &f->offset_ms));
  DUPLEX_RETURN_IF_ERROR(Read(node, path, "back", &f->back));
  DUPLEX_RETURN_IF_ERROR(Read(node, path, "torn", &f->torn));
  DUPLEX_RETURN_IF_ERROR(Read(node, path, "nth", &f->nth));
  if (!f->torn.empty()) {
    if (f->kind != FaultKind::kKill || f->target != "coordinator") {
      return Bad(Join(path, "torn"), "only a kill of the coordinator can be torn");
    }
    if (f->torn != "any" && f->torn != "reload") {
      return Bad(Join(path, "torn"), "\"" + f->torn + "\" is not any or reload");
    }
    if (f->down_ms > 0) return Bad(Join(path, "down"), "a torn kill restarts at once");
  }
  if (f->nth < 1) return Bad(Join(path, "nth"), "must be 1 or more");
  if (f->kind == FaultKind::kClockJump && f->offset_ms <= 0) {
    return Bad(Join(path, "offset"), "required for clock-jump (e.g. 1h; back: true to go back)");
  }
  bool lasts = f->kind == FaultKind::kPause || f->kind == FaultKind::kDisk ||
               f->kind == FaultKind::kClockJump || link;
  if (lasts && f->duration_ms <= 0) return Bad(Join(path, "duration"), "required for " + kind);
  DUPLEX_RETURN_IF_ERROR(Read(node, path, "error", &f->error));
  if (f->error != "nospace" && f->error != "ioerror") {
    return Bad(Join(path, "error"), "\"" + f->error + "\" is not nospace or ioerror");
  }
  DUPLEX_RETURN_IF_ERROR(Read(node, path, "sync_only", &f->sync_only));
  DUPLEX_RETURN_IF_ERROR(Read(node, path, "direction", &f->direction));
  if (f->direction != "both" && f->direction != "to-target" && f->direction != "from-target") {
    return Bad(Join(path, "direction"),
               "\"" + f->direction + "\" is not both, to-target or from-target");
  }
  DUPLEX_RETURN_IF_ERROR(Read(node, path, "sever", &f->sever));
  DUPLEX_RETURN_IF_ERROR(ReadProbability(node, path, "drop", &f->drop));
  DUPLEX_RETURN_IF_ERROR(ReadProbability(node, path, "duplicate", &f->duplicate));
  DUPLEX_RETURN_IF_ERROR(ReadProbability(node, path, "reorder", &f->reorder));
  DUPLEX_RETURN_IF_ERROR(ReadProbability(node, path, "corrupt", &f->corrupt));
  int64_t delay = 0, jitter = 0;
  DUPLEX_RETURN_IF_ERROR(ReadDuration(node, path, "delay", &delay));
  DUPLEX_RETURN_IF_ERROR(ReadDuration(node, path, "jitter", &jitter));
  f->delay_ms = static_cast<int>(delay);
  f->jitter_ms = static_cast<int>(jitter);
  return Status::Ok();
}

}  // namespace

std::string Trigger::Describe() const {
  if (after_ms) return "after " + std::to_string(*after_ms) + " ms";
  if (!step.empty()) return "campaign step " + step;
  if (acked) return "after " + std::to_string(*acked) + " acknowledged writes";
  if (random_ms) {
    return "at random in [" + std::to_string(random_ms->first) + ", " +
           std::to_string(random_ms->second) + "] ms";
  }
  return "never";
}

StatusOr<Scenario> ParseScenario(const std::string& yaml_text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string("not YAML: ") + e.what());
  }
  Scenario s;
  s.source = source;
  DUPLEX_RETURN_IF_ERROR(CheckKeys(root, "",
                                   {"name", "description", "workload", "upgrade", "faults",
                                    "expect", "bounds", "mutants", "expect_violation"}));
  DUPLEX_RETURN_IF_ERROR(Read(root, "", "name", &s.name));
  if (s.name.empty() ||
      s.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
    return Bad("name", "required: lower-case letters, digits and '-'");
  }
  DUPLEX_RETURN_IF_ERROR(Read(root, "", "description", &s.description));
  if (const YAML::Node w = root["workload"]) {
    DUPLEX_RETURN_IF_ERROR(CheckKeys(w, "workload", {"clients", "incr", "mode", "deadline"}));
    DUPLEX_RETURN_IF_ERROR(ReadDuration(w, "workload", "deadline", &s.deadline_ms));
    if (s.deadline_ms <= 0) return Bad("workload.deadline", "must be positive");
    DUPLEX_RETURN_IF_ERROR(Read(w, "workload", "clients", &s.clients));
    if (s.clients < 1 || s.clients > 64) return Bad("workload.clients", "must be within 1..64");
    DUPLEX_RETURN_IF_ERROR(Read(w, "workload", "incr", &s.incr));
    DUPLEX_RETURN_IF_ERROR(Read(w, "workload", "mode", &s.mode));
    if (s.mode != "sync" && s.mode != "async") {
      return Bad("workload.mode", "\"" + s.mode + "\" is not sync or async");
    }
  }
  if (const YAML::Node u = root["upgrade"]) {
    DUPLEX_RETURN_IF_ERROR(CheckKeys(u, "upgrade", {"package", "soak"}));
    DUPLEX_RETURN_IF_ERROR(Read(u, "upgrade", "package", &s.package));
    if (s.package.empty()) return Bad("upgrade.package", "required (e.g. kv-2.0.0)");
    DUPLEX_RETURN_IF_ERROR(ReadDuration(u, "upgrade", "soak", &s.soak_ms));
  }
  if (const YAML::Node faults = root["faults"]) {
    if (!faults.IsSequence()) return Bad("faults", "must be a list");
    for (size_t i = 0; i < faults.size(); ++i) {
      FaultSpec f;
      DUPLEX_RETURN_IF_ERROR(ReadFault(faults[i], "faults[" + std::to_string(i) + "]", &f));
      if (!f.at.step.empty() && s.package.empty()) {
        return Bad("faults[" + std::to_string(i) + "].at.step", "needs an upgrade section");
      }
      s.faults.push_back(f);
    }
  }
  DUPLEX_RETURN_IF_ERROR(Read(root, "", "expect", &s.expect));
  static const std::set<std::string> kExpect = {"completed", "rolled_back", "either", "none"};
  if (!kExpect.count(s.expect)) {
    return Bad("expect", "\"" + s.expect + "\" is not completed, rolled_back, either or none");
  }
  if ((s.expect == "none") != s.package.empty()) {
    return Bad("expect", s.package.empty() ? "there is no upgrade: expect none"
                                           : "an upgrade needs completed, rolled_back or either");
  }
  if (const YAML::Node b = root["bounds"]) {
    DUPLEX_RETURN_IF_ERROR(CheckKeys(b, "bounds", {"run", "converge"}));
    DUPLEX_RETURN_IF_ERROR(ReadDuration(b, "bounds", "run", &s.run_ms));
    DUPLEX_RETURN_IF_ERROR(ReadDuration(b, "bounds", "converge", &s.converge_ms));
  }
  DUPLEX_RETURN_IF_ERROR(Read(root, "", "mutants", &s.mutants));
  static const std::set<std::string> kMutants = {"ack-before-replication", "skip-fsync",
                                                 "enable-flags-early", "skip-epoch-check"};
  for (const auto& m : s.mutants) {
    if (!kMutants.count(m)) return Bad("mutants", "\"" + m + "\" is not a known mutant");
  }
  DUPLEX_RETURN_IF_ERROR(Read(root, "", "expect_violation", &s.expect_violation));
  if (s.mutants.empty() != s.expect_violation.empty()) {
    return Bad("expect_violation", "goes with mutants, and mutants with it");
  }
  return s;
}

StatusOr<Scenario> LoadScenario(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound(path + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  auto s = ParseScenario(text.str(), path);
  if (!s.ok()) return Status(s.status().code(), path + ": " + s.status().message());
  return s;
}

StatusOr<std::vector<Scenario>> LoadCatalogue(const std::string& dir) {
  std::vector<std::string> paths;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".yaml") paths.push_back(e.path().string());
  }
  if (ec) return NotFound("scenario catalogue " + dir + ": " + ec.message());
  std::sort(paths.begin(), paths.end());
  std::vector<Scenario> out;
  for (const auto& p : paths) {
    auto s = LoadScenario(p);
    if (!s.ok()) return s.status();
    out.push_back(std::move(s).value());
  }
  return out;
}

}  // namespace duplex
