#include "chaos/scenario.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "chaos/hooks/fault_fs.h"
#include "chaos/hooks/mutants.h"
#include "common/duration.h"
#include "common/yaml_fields.h"
#include "upgrade_coordinator/campaign/campaign.h"

namespace duplex {
namespace {

// Fields a map may hold; anything else is a typo worth naming.
Status CheckKeys(const YamlField& node, YamlField::Keys allowed) {
  if (!node.IsMap()) return node.Error("must be a map");
  return node.CheckKeys(allowed);
}

// yaml-cpp's conversions (yes/no booleans among them), as scenarios have always been read.
template <typename T>
Status Read(const YamlField& field, T* out) {
  if (field.missing()) return Status::Ok();
  if (!field.Convert(out)) return field.Error("\"" + field.Dump() + "\" has the wrong type");
  return Status::Ok();
}

Status ReadDuration(const YamlField& field, int64_t* out) {
  std::string text;
  DUPLEX_RETURN_IF_ERROR(Read(field, &text));
  if (text.empty()) return Status::Ok();
  auto ms = ParseDurationMs(text);
  if (!ms.ok()) return field.Error(ms.status().message());
  *out = *ms;
  return Status::Ok();
}

Status ReadProbability(const YamlField& field, double* out) {
  DUPLEX_RETURN_IF_ERROR(Read(field, out));
  if (*out < 0 || *out > 1) return field.Error("must be within 0..1");
  return Status::Ok();
}

bool IsStep(const std::string& step) { return FromName<CampaignStep>(step).has_value(); }

Status ReadTrigger(const YamlField& node, Trigger* t) {
  if (!node.written()) return node.Error("required (after, step, acked or random)");
  DUPLEX_RETURN_IF_ERROR(CheckKeys(node, {"after", "step", "acked", "random"}));
  if (node.size() != 1) return node.Error("exactly one of after, step, acked, random");
  if (node["after"].written()) {
    int64_t ms = 0;
    DUPLEX_RETURN_IF_ERROR(ReadDuration(node["after"], &ms));
    t->after_ms = ms;
  } else if (node["step"].written()) {
    DUPLEX_RETURN_IF_ERROR(Read(node["step"], &t->step));
    if (!IsStep(t->step)) return node["step"].Error("\"" + t->step + "\" is not a campaign step");
  } else if (node["acked"].written()) {
    uint64_t n = 0;
    DUPLEX_RETURN_IF_ERROR(Read(node["acked"], &n));
    t->acked = n;
  } else {
    const YamlField range = node["random"];
    if (!range.IsList() || range.size() != 2) {
      return node["random"].Error("a [from, to] pair of durations");
    }
    std::string from, to;  // "" (no duration) unless a single value
    range[0].Convert(&from);
    range[1].Convert(&to);
    auto lo = ParseDurationMs(from);
    auto hi = ParseDurationMs(to);
    if (!lo.ok() || !hi.ok() || *lo > *hi) {
      return node["random"].Error("a [from, to] pair of durations, from <= to");
    }
    t->random_ms = std::make_pair(*lo, *hi);
  }
  return Status::Ok();
}

// A host fault's target: active-host, standby-host (resolved when it fires) or h1..h<hosts>.
Status CheckHostTarget(const YamlField& node, const std::string& target, int hosts) {
  if (target == "active-host" || target == "standby-host") return Status::Ok();
  for (int k = 1; k <= hosts; ++k) {
    if (target == "h" + std::to_string(k)) return Status::Ok();
  }
  return node.Error("\"" + target + "\" is not a host (active-host, standby-host, or h1.." + "h" +
                    std::to_string(hosts) + " of the lab)");
}

// The fields of host faults, and what a lab cannot do (fault proxies sit on 127.0.0.1, so
// traffic through them would leave from no host: isolation is host-isolate's).
Status CheckHostFields(const YamlField& node, const std::string& kind, int hosts, FaultSpec* f) {
  const bool host_fault = IsHostFault(f->kind);
  if (host_fault && hosts == 0) {
    return node["kind"].Error(kind + " strikes a host: the scenario needs hosts: 2 or 3");
  }
  if (!host_fault && hosts > 0) {
    if (f->kind == FaultKind::kPartition || f->kind == FaultKind::kLinkFaults) {
      return node["kind"].Error(kind + " needs the fault proxies of one host; on a lab, " +
                                "use host-isolate");
    }
    if (f->target == "coordinator") {
      return node["target"].Error("the coordinator of a lab is not a fault target here");
    }
    return Status::Ok();
  }
  if (!host_fault) return Status::Ok();
  DUPLEX_RETURN_IF_ERROR(CheckHostTarget(node["target"], f->target, hosts));
  if (f->kind == FaultKind::kHostIsolate) {
    if (f->direction != "both" && f->direction != "in" && f->direction != "out") {
      return node["direction"].Error("\"" + f->direction + "\" is not both, in or out");
    }
  } else if (node["direction"].written()) {
    return node["direction"].Error("only host-isolate has a direction among host faults");
  }
  const bool lasts = f->kind == FaultKind::kHostFreeze || f->kind == FaultKind::kHostIsolate;
  if (lasts && f->duration_ms <= 0) return node["duration"].Error("required for " + kind);
  if (!lasts && node["duration"].written()) {
    return node["duration"].Error(kind + " has no duration (down: how long it stays down)");
  }
  if (f->kind == FaultKind::kHostCrash && f->down_ms <= 0) {
    return node["down"].Error("required for host-crash (how long the host stays down)");
  }
  const bool downs = f->kind == FaultKind::kHostCrash || f->kind == FaultKind::kAgentKill;
  if (!downs && node["down"].written()) return node["down"].Error(kind + " has no down");
  return Status::Ok();
}

const std::set<std::string> kProcessTargets = {"a", "b", "active", "standby", "coordinator"};
// isolate-active: the active's link to the coordinator and the replicas' link, together.
// control-active: the active's control link alone (its one-way cuts: heard or not heard).
const std::set<std::string> kLinkTargets = {"replicas", "control", "control-active",
                                            "isolate-active"};

// The kinds as scenarios spell them, in the order error messages list them.
const std::vector<std::pair<std::string, FaultKind>>& KindNames() {
  static const std::vector<std::pair<std::string, FaultKind>> kKinds = {
      {"kill", FaultKind::kKill},
      {"pause", FaultKind::kPause},
      {"power-loss", FaultKind::kPowerLoss},
      {"disk", FaultKind::kDisk},
      {"partition", FaultKind::kPartition},
      {"link", FaultKind::kLinkFaults},
      {"clock-jump", FaultKind::kClockJump},
      {"host-crash", FaultKind::kHostCrash},
      {"host-freeze", FaultKind::kHostFreeze},
      {"host-isolate", FaultKind::kHostIsolate},
      {"agent-kill", FaultKind::kAgentKill},
      {"agent-restart", FaultKind::kAgentRestart},
      {"coordinator-leader-kill", FaultKind::kLeaderKill},
      {"coordinator-leader-freeze", FaultKind::kLeaderFreeze},
      {"coordinator-isolate", FaultKind::kLeaderIsolate},
      {"etcd-member-kill", FaultKind::kEtcdMemberKill},
      {"etcd-quorum-loss", FaultKind::kEtcdQuorumLoss},
      {"corrupt-at-rest", FaultKind::kCorruptAtRest}};
  return kKinds;
}

// An etcd member's host: h1..h3, the acting coordinator's (leader-host) or the first host whose
// coordinator follows (follower-host), resolved when the fault fires.
Status CheckMemberTarget(const YamlField& node, const std::string& target) {
  if (target == "leader-host" || target == "follower-host") return Status::Ok();
  if (target == "h1" || target == "h2" || target == "h3") return Status::Ok();
  return node.Error("\"" + target + "\" is not leader-host, follower-host, h1, h2 or h3");
}

// Coordinator and etcd faults: they strike the acting coordinator (or etcd members), found
// when they fire, so only etcd-member-kill names a target; only a lab with etcd has them.
Status ReadCoordinatorFault(const YamlField& node, const std::string& kind, bool etcd,
                            FaultSpec* f) {
  if (!etcd) {
    return node["kind"].Error(kind + " strikes the coordinators: the scenario needs etcd: true " +
                              "(with hosts: 3)");
  }
  for (const char* other :
       {"error", "sync_only", "direction", "sever", "drop", "duplicate", "reorder", "corrupt",
        "delay", "jitter", "down", "offset", "back", "torn", "nth"}) {
    if (node[other].written()) return node[other].Error("not a field of " + kind);
  }
  DUPLEX_RETURN_IF_ERROR(ReadTrigger(node["at"], &f->at));
  DUPLEX_RETURN_IF_ERROR(ReadDuration(node["duration"], &f->duration_ms));
  DUPLEX_RETURN_IF_ERROR(Read(node["from"], &f->from));
  if (f->kind == FaultKind::kEtcdMemberKill) {
    if (!node["target"].written()) {
      return node["target"].Error("required for " + kind +
                                  " (leader-host, follower-host, h1, h2 or h3)");
    }
    DUPLEX_RETURN_IF_ERROR(CheckMemberTarget(node["target"], f->target));
  } else if (node["target"].written()) {
    return node["target"].Error(kind + " has no target: " +
                                (f->kind == FaultKind::kEtcdQuorumLoss
                                     ? "it stops the members of the two hosts the acting "
                                       "coordinator is not on"
                                     : "it strikes the acting coordinator, found when it fires"));
  }
  if (f->kind == FaultKind::kLeaderIsolate) {
    if (f->from != "etcd" && f->from != "replicas") {
      return node["from"].Error(node["from"].written()
                                    ? "\"" + f->from + "\" is not etcd or replicas"
                                    : "required for coordinator-isolate (etcd or replicas)");
    }
  } else if (node["from"].written()) {
    return node["from"].Error("only coordinator-isolate has from");
  }
  // A killed leader may stay down; everything else lasts a while and is then undone.
  const bool lasts = f->kind != FaultKind::kLeaderKill;
  if (lasts && f->duration_ms <= 0) return node["duration"].Error("required for " + kind);
  if (node["duration"].written() && f->duration_ms <= 0) {
    return node["duration"].Error("must be positive");
  }
  return Status::Ok();
}

// corrupt-at-rest: a replica of the one-host cluster (its agent is held while the files are
// changed), which files, how many bits.
Status ReadCorruptAtRest(const YamlField& node, int hosts, FaultSpec* f) {
  for (const std::string& key : node.MapKeys()) {
    if (key != "kind" && key != "target" && key != "at" && key != "files" && key != "flips") {
      return node[key].Error("not a field of corrupt-at-rest (target, at, files, flips)");
    }
  }
  if (hosts > 0) return node["kind"].Error("corrupt-at-rest runs on one host (no hosts:)");
  if (f->target != "a" && f->target != "b" && f->target != "active" && f->target != "standby") {
    return node["target"].Error("\"" + f->target + "\" is not a replica (a, b, active, standby)");
  }
  DUPLEX_RETURN_IF_ERROR(ReadTrigger(node["at"], &f->at));
  DUPLEX_RETURN_IF_ERROR(Read(node["files"], &f->files));
  if (f->files != "sst" && f->files != "wal" && f->files != "both") {
    return node["files"].Error("\"" + f->files + "\" is not sst, wal or both");
  }
  DUPLEX_RETURN_IF_ERROR(Read(node["flips"], &f->flips));
  if (f->flips < 1 || f->flips > 1024) return node["flips"].Error("must be 1..1024");
  return Status::Ok();
}

// slow_sync: a disk fault that slows every fsync instead of failing it.
Status ReadSlowSync(const YamlField& node, FaultSpec* f) {
  if (!node["slow_sync"].written()) return Status::Ok();
  if (f->kind != FaultKind::kDisk) return node["slow_sync"].Error("only a disk fault is slow");
  DUPLEX_RETURN_IF_ERROR(ReadDuration(node["slow_sync"], &f->slow_sync_ms));
  if (f->slow_sync_ms <= 0 || f->slow_sync_ms > kSyncDelayMsMax) {
    return node["slow_sync"].Error("must be within 1ms.." + std::to_string(kSyncDelayMsMax) + "ms");
  }
  for (const char* other : {"error", "sync_only"}) {
    if (node[other].written())
      return node[other].Error("a slow disk fails nothing: no " + std::string(other));
  }
  return Status::Ok();
}

Status ReadFault(const YamlField& node, int hosts, bool etcd, FaultSpec* f) {
  DUPLEX_RETURN_IF_ERROR(CheckKeys(
      node,
      {"kind", "target",    "at",      "duration", "error",     "sync_only", "direction", "sever",
       "drop", "duplicate", "reorder", "corrupt",  "delay",     "jitter",    "down",      "offset",
       "back", "torn",      "nth",     "from",     "slow_sync", "files",     "flips"}));
  std::string kind;
  DUPLEX_RETURN_IF_ERROR(Read(node["kind"], &kind));
  const auto& kinds = KindNames();
  auto it = std::find_if(kinds.begin(), kinds.end(),
                         [&](const auto& named) { return named.first == kind; });
  if (it == kinds.end()) {
    std::string names;
    for (const auto& [name, k] : kinds) names += (names.empty() ? "" : ", ") + name;
    return node["kind"].Error("\"" + kind + "\" is not one of " + names);
  }
  f->kind = it->second;
  DUPLEX_RETURN_IF_ERROR(Read(node["target"], &f->target));
  if (IsCoordinatorFault(f->kind)) return ReadCoordinatorFault(node, kind, etcd, f);
  if (f->kind == FaultKind::kCorruptAtRest) return ReadCorruptAtRest(node, hosts, f);
  if (node["files"].written() || node["flips"].written()) {
    return node[node["files"].written() ? "files" : "flips"].Error("only corrupt-at-rest has it");
  }
  if (node["from"].written()) return node["from"].Error("only coordinator-isolate has from");
  if (IsHostFault(f->kind)) {
    DUPLEX_RETURN_IF_ERROR(ReadTrigger(node["at"], &f->at));
    DUPLEX_RETURN_IF_ERROR(ReadDuration(node["duration"], &f->duration_ms));
    DUPLEX_RETURN_IF_ERROR(ReadDuration(node["down"], &f->down_ms));
    DUPLEX_RETURN_IF_ERROR(Read(node["direction"], &f->direction));
    for (const char* other :
         {"error", "sync_only", "sever", "drop", "duplicate", "reorder", "corrupt", "delay",
          "jitter", "offset", "back", "torn", "nth", "slow_sync"}) {
      if (node[other].written()) return node[other].Error("not a field of " + kind);
    }
    return CheckHostFields(node, kind, hosts, f);
  }
  bool link = f->kind == FaultKind::kPartition || f->kind == FaultKind::kLinkFaults;
  bool ok_target = link ? kLinkTargets.count(f->target) > 0
                        : kProcessTargets.count(f->target) > 0 ||
                              ((f->kind == FaultKind::kPowerLoss || f->kind == FaultKind::kKill) &&
                               f->target == "both");
  if (!ok_target) {
    return node["target"].Error("\"" + f->target + "\" is not a " +
                                (link ? "link (replicas, control, control-active, isolate-active)"
                                      : "process (a, b, active, standby, "
                                        "coordinator)"));
  }
  // The coordinator's disk: its record store (a coordinator alone) fails its writes.
  if ((f->kind == FaultKind::kPowerLoss || f->kind == FaultKind::kClockJump) &&
      f->target == "coordinator") {
    return node["target"].Error("power loss and clock faults apply to replicas");
  }
  DUPLEX_RETURN_IF_ERROR(ReadTrigger(node["at"], &f->at));
  DUPLEX_RETURN_IF_ERROR(ReadDuration(node["duration"], &f->duration_ms));
  DUPLEX_RETURN_IF_ERROR(ReadDuration(node["down"], &f->down_ms));
  DUPLEX_RETURN_IF_ERROR(ReadDuration(node["offset"], &f->offset_ms));
  DUPLEX_RETURN_IF_ERROR(Read(node["back"], &f->back));
  DUPLEX_RETURN_IF_ERROR(Read(node["torn"], &f->torn));
  DUPLEX_RETURN_IF_ERROR(Read(node["nth"], &f->nth));
  if (!f->torn.empty()) {
    if (f->kind != FaultKind::kKill || f->target != "coordinator") {
      return node["torn"].Error("only a kill of the coordinator can be torn");
    }
    if (f->torn != "any" && f->torn != "reload" && f->torn != "epoch" && f->torn != "finalize") {
      return node["torn"].Error("\"" + f->torn + "\" is not any, reload, epoch or finalize");
    }
    if (f->down_ms > 0) return node["down"].Error("a torn kill restarts at once");
  }
  if (f->nth < 1) return node["nth"].Error("must be 1 or more");
  if (f->kind == FaultKind::kClockJump && f->offset_ms <= 0) {
    return node["offset"].Error("required for clock-jump (e.g. 1h; back: true to go back)");
  }
  bool lasts = f->kind == FaultKind::kPause || f->kind == FaultKind::kDisk ||
               f->kind == FaultKind::kClockJump || link;
  if (lasts && f->duration_ms <= 0) return node["duration"].Error("required for " + kind);
  DUPLEX_RETURN_IF_ERROR(Read(node["error"], &f->error));
  if (f->error != "nospace" && f->error != "ioerror") {
    return node["error"].Error("\"" + f->error + "\" is not nospace or ioerror");
  }
  DUPLEX_RETURN_IF_ERROR(Read(node["sync_only"], &f->sync_only));
  DUPLEX_RETURN_IF_ERROR(ReadSlowSync(node, f));
  DUPLEX_RETURN_IF_ERROR(Read(node["direction"], &f->direction));
  if (f->direction != "both" && f->direction != "to-target" && f->direction != "from-target") {
    return node["direction"].Error("\"" + f->direction +
                                   "\" is not both, to-target or from-target");
  }
  DUPLEX_RETURN_IF_ERROR(Read(node["sever"], &f->sever));
  DUPLEX_RETURN_IF_ERROR(ReadProbability(node["drop"], &f->drop));
  DUPLEX_RETURN_IF_ERROR(ReadProbability(node["duplicate"], &f->duplicate));
  DUPLEX_RETURN_IF_ERROR(ReadProbability(node["reorder"], &f->reorder));
  DUPLEX_RETURN_IF_ERROR(ReadProbability(node["corrupt"], &f->corrupt));
  int64_t delay = 0, jitter = 0;
  DUPLEX_RETURN_IF_ERROR(ReadDuration(node["delay"], &delay));
  DUPLEX_RETURN_IF_ERROR(ReadDuration(node["jitter"], &jitter));
  f->delay_ms = static_cast<int>(delay);
  f->jitter_ms = static_cast<int>(jitter);
  return CheckHostFields(node, kind, hosts, f);
}

}  // namespace

bool IsHostFault(FaultKind kind) {
  return kind == FaultKind::kHostCrash || kind == FaultKind::kHostFreeze ||
         kind == FaultKind::kHostIsolate || kind == FaultKind::kAgentKill ||
         kind == FaultKind::kAgentRestart;
}

bool IsCoordinatorFault(FaultKind kind) {
  return kind == FaultKind::kLeaderKill || kind == FaultKind::kLeaderFreeze ||
         kind == FaultKind::kLeaderIsolate || kind == FaultKind::kEtcdMemberKill ||
         kind == FaultKind::kEtcdQuorumLoss;
}

const char* FaultKindName(FaultKind kind) {
  for (const auto& [name, k] : KindNames()) {
    if (k == kind) return name.c_str();
  }
  return "?";
}

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
  StatusOr<YamlField> parsed = YamlField::Parse(yaml_text, "scenario");
  if (!parsed.ok()) return InvalidArgument("not YAML: " + parsed.status().message());
  const YamlField& root = *parsed;
  Scenario s;
  s.source = source;
  DUPLEX_RETURN_IF_ERROR(CheckKeys(
      root, {"name", "description", "hosts", "etcd", "workload", "upgrade", "faults", "expect",
             "expect_gap", "expect_failover", "bounds", "mutants", "expect_violation"}));
  DUPLEX_RETURN_IF_ERROR(Read(root["name"], &s.name));
  if (s.name.empty() ||
      s.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
    return root["name"].Error("required: lower-case letters, digits and '-'");
  }
  DUPLEX_RETURN_IF_ERROR(Read(root["description"], &s.description));
  DUPLEX_RETURN_IF_ERROR(Read(root["hosts"], &s.hosts));
  if (root["hosts"].written() && s.hosts != 2 && s.hosts != 3) {
    return root["hosts"].Error("a lab of 2 or 3 hosts (leave it out for one host)");
  }
  DUPLEX_RETURN_IF_ERROR(Read(root["etcd"], &s.etcd));
  if (s.etcd && s.hosts != 3) {
    return root["etcd"].Error("needs hosts: 3 (an etcd member and a coordinator on each host)");
  }
  if (const YamlField w = root["workload"]; w.written()) {
    DUPLEX_RETURN_IF_ERROR(
        CheckKeys(w, {"clients", "incr", "mode", "deadline", "readers", "pin_readers"}));
    DUPLEX_RETURN_IF_ERROR(ReadDuration(w["deadline"], &s.deadline_ms));
    if (s.deadline_ms <= 0) return w["deadline"].Error("must be positive");
    DUPLEX_RETURN_IF_ERROR(Read(w["clients"], &s.clients));
    if (s.clients < 1 || s.clients > 64) return w["clients"].Error("must be within 1..64");
    DUPLEX_RETURN_IF_ERROR(Read(w["readers"], &s.readers));
    if (s.readers < 0 || s.readers > 64) return w["readers"].Error("must be within 0..64");
    DUPLEX_RETURN_IF_ERROR(Read(w["pin_readers"], &s.pin_readers));
    if (w["pin_readers"].written() && s.pin_readers != "active" && s.pin_readers != "standby") {
      return w["pin_readers"].Error("\"" + s.pin_readers + "\" is not active or standby");
    }
    if (!s.pin_readers.empty() && (s.readers == 0 || s.hosts != 0)) {
      return w["pin_readers"].Error("needs readers, on one host (no hosts:)");
    }
    DUPLEX_RETURN_IF_ERROR(Read(w["incr"], &s.incr));
    DUPLEX_RETURN_IF_ERROR(Read(w["mode"], &s.mode));
    if (s.mode != "sync" && s.mode != "async") {
      return w["mode"].Error("\"" + s.mode + "\" is not sync or async");
    }
  }
  if (const YamlField u = root["upgrade"]; u.written()) {
    DUPLEX_RETURN_IF_ERROR(CheckKeys(u, {"package", "soak"}));
    DUPLEX_RETURN_IF_ERROR(Read(u["package"], &s.package));
    if (s.package.empty()) return u["package"].Error("required (e.g. kv-2.0.0)");
    DUPLEX_RETURN_IF_ERROR(ReadDuration(u["soak"], &s.soak_ms));
  }
  if (const YamlField faults = root["faults"]; faults.written()) {
    if (!faults.IsList()) return faults.Error("must be a list");
    for (size_t i = 0; i < faults.size(); ++i) {
      FaultSpec f;
      DUPLEX_RETURN_IF_ERROR(ReadFault(faults[i], s.hosts, s.etcd, &f));
      if (!f.at.step.empty() && s.package.empty()) {
        return faults[i]["at"]["step"].Error("needs an upgrade section");
      }
      s.faults.push_back(f);
    }
  }
  DUPLEX_RETURN_IF_ERROR(Read(root["expect"], &s.expect));
  static const std::set<std::string> kExpect = {"completed", "rolled_back", "either", "none"};
  if (!kExpect.count(s.expect)) {
    return root["expect"].Error("\"" + s.expect +
                                "\" is not completed, rolled_back, either or none");
  }
  if ((s.expect == "none") != s.package.empty()) {
    return root["expect"].Error(s.package.empty()
                                    ? "there is no upgrade: expect none"
                                    : "an upgrade needs completed, rolled_back or either");
  }
  DUPLEX_RETURN_IF_ERROR(Read(root["expect_gap"], &s.expect_gap));
  if (root["expect_gap"].written() && s.expect_gap != "steady") {
    auto ms = ParseDurationMs(s.expect_gap);
    if (!ms.ok() || *ms <= 0) {
      return root["expect_gap"].Error("\"" + s.expect_gap +
                                      "\" is not steady or a positive duration (e.g. 600ms)");
    }
    s.expect_gap_ms = *ms;
  }
  if (!s.expect_gap.empty() && s.faults.empty()) {
    return root["expect_gap"].Error("judges the faults' time: the scenario has none");
  }
  DUPLEX_RETURN_IF_ERROR(Read(root["expect_failover"], &s.expect_failover));
  if (s.expect_failover && !std::any_of(s.faults.begin(), s.faults.end(), [](const FaultSpec& f) {
        return f.kind == FaultKind::kHostCrash || f.kind == FaultKind::kHostFreeze ||
               f.kind == FaultKind::kHostIsolate;
      })) {
    return root["expect_failover"].Error("judges host crash, freeze or isolation: there is none");
  }
  if (const YamlField b = root["bounds"]; b.written()) {
    DUPLEX_RETURN_IF_ERROR(CheckKeys(b, {"run", "converge"}));
    DUPLEX_RETURN_IF_ERROR(ReadDuration(b["run"], &s.run_ms));
    DUPLEX_RETURN_IF_ERROR(ReadDuration(b["converge"], &s.converge_ms));
  }
  DUPLEX_RETURN_IF_ERROR(Read(root["mutants"], &s.mutants));
  for (const auto& m : s.mutants) {
    StatusOr<Mutant> known = MutantNamed(m);
    if (!known.ok()) return root["mutants"].Error(known.status().message());
  }
  DUPLEX_RETURN_IF_ERROR(Read(root["expect_violation"], &s.expect_violation));
  if (s.mutants.empty() != s.expect_violation.empty()) {
    return root["expect_violation"].Error("goes with mutants, and mutants with it");
  }
  return s;
}

StatusOr<Scenario> LoadScenario(const std::string& path) {
  // The same bound as every YAML file (kYamlBytesMax), checked before the file is read.
  StatusOr<std::string> text = ReadYamlFile(path);
  if (!text.ok()) return text.status();
  auto s = ParseScenario(*text, path);
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
