#include "chaos/checker.h"

#include <map>
#include <set>

#include "feature_flags/feature_set.h"

namespace duplex {
namespace {

using nlohmann::json;

std::string When(const json& e) {
  return "at t=" + std::to_string(e.value("t_us", int64_t{0})) + "us";
}

// a < b as versions; text that is not a version never compares below.
bool Older(const std::string& a, const std::string& b) {
  auto va = ParseVersion(a);
  auto vb = ParseVersion(b);
  return va.ok() && vb.ok() && *va < *vb;
}

// A replica's latest report as the log shows it, only while its process is alive.
struct Seen {
  bool alive = false;
  std::string version, cluster_version;
};

// Lines for every live replica older than `enabled`, blamed on `who`.
// A violation is reported once, at its first sighting, however long it lasts.
void OlderThan(const std::map<std::string, Seen>& replicas, const std::string& enabled,
               const std::string& who, const json& e, std::set<std::string>* seen_before,
               std::vector<std::string>* out) {
  for (const auto& [name, seen] : replicas) {
    if (!seen.alive || !Older(seen.version, enabled)) continue;
    std::string what =
        who + " enables features up to " + enabled + " while " + name + " runs " + seen.version;
    if (seen_before->insert(what).second) out->push_back(When(e) + ": " + what);
  }
}

}  // namespace

std::vector<std::string> CheckFeatureGate(const std::vector<json>& events) {
  std::vector<std::string> out;
  std::map<std::string, Seen> replicas;
  std::set<std::string> reported;
  std::string cluster_version;
  for (const json& e : events) {
    std::string kind = e.value("kind", "");
    if (kind == "replica") {
      Seen& seen = replicas[e.value("replica", "")];
      seen.alive = e.value("alive", false) && e.contains("version");
      seen.version = e.value("version", "");
      seen.cluster_version = e.value("cluster_version", "");
    } else if (kind == "cluster") {
      std::string next = e.value("cluster_version", "");
      if (next != cluster_version && !next.empty()) {
        OlderThan(replicas, next, "the cluster record", e, &reported, &out);
      }
      cluster_version = next;
      continue;
    } else {
      continue;
    }
    for (const auto& [name, seen] : replicas) {
      if (seen.alive && !seen.cluster_version.empty()) {
        OlderThan(replicas, seen.cluster_version, "replica " + name, e, &reported, &out);
      }
    }
  }
  return out;
}

std::vector<std::string> CheckEpochs(const std::vector<json>& events) {
  std::vector<std::string> out;
  std::map<uint64_t, std::set<std::string>> actives;
  std::map<std::string, uint64_t> epoch_of;
  uint64_t cluster_epoch = 0;
  for (const json& e : events) {
    std::string kind = e.value("kind", "");
    uint64_t epoch = e.value("epoch", uint64_t{0});
    if (kind == "cluster") {
      if (epoch < cluster_epoch) {
        out.push_back(When(e) + ": the cluster record's epoch went back from " +
                      std::to_string(cluster_epoch) + " to " + std::to_string(epoch));
      }
      cluster_epoch = std::max(cluster_epoch, epoch);
    }
    if (kind != "replica" || !e.contains("epoch")) continue;
    std::string name = e.value("replica", "");
    if (epoch < epoch_of[name]) {
      out.push_back(When(e) + ": replica " + name + "'s epoch went back from " +
                    std::to_string(epoch_of[name]) + " to " + std::to_string(epoch));
    }
    epoch_of[name] = std::max(epoch_of[name], epoch);
    if (e.value("role", "").starts_with("Active")) {
      auto& names = actives[epoch];
      names.insert(name);
      if (names.size() == 2) {
        out.push_back(When(e) + ": two actives in epoch " + std::to_string(epoch) + ": " +
                      *names.begin() + " and " + *names.rbegin());
      }
    }
  }
  return out;
}

}  // namespace duplex
