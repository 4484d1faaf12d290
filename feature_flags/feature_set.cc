#include "feature_flags/feature_set.h"

#include <charconv>
#include <set>

#include "common/assert.h"

namespace duplex {

std::string Version::ToString() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

StatusOr<Version> ParseVersion(const std::string& text) {
  uint32_t parts[3] = {0, 0, 0};
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (int i = 0; i < 3; ++i) {
    auto [next, ec] = std::from_chars(p, end, parts[i]);
    if (ec != std::errc() || next == p) break;
    p = next;
    if (i < 2) {
      if (p == end || *p != '.') break;
      ++p;
    } else if (p == end) {
      return Version{parts[0], parts[1], parts[2]};
    }
  }
  return InvalidArgument("\"" + text + "\" is not a version (MAJOR.MINOR.PATCH)");
}

FeatureSet::FeatureSet(std::vector<Feature> known, Version cluster_version)
    : known_(std::move(known)), cluster_version_(cluster_version) {
  std::set<std::string> names;
  for (const Feature& f : known_) {
    DUPLEX_ASSERT(!f.name.empty(), "a feature has a name", f.introduced_in.ToString());
    DUPLEX_ASSERT(names.insert(f.name).second, "a feature is registered once", f.name);
    // Every release has its version 1.0.0 or later, and a feature comes with a release.
    DUPLEX_ASSERT(f.introduced_in > Version{}, "a feature names the version that introduced it",
                  f.name);
  }
}

bool FeatureSet::Enabled(const std::string& name) const { return Check(name).ok(); }

Status FeatureSet::Check(const std::string& name) const {
  for (const Feature& f : known_) {
    if (f.name != name) continue;
    if (cluster_version_ >= f.introduced_in) return Status::Ok();
    return {Code::kFeatureDisabled, "feature " + name +
                                        " is disabled until the cluster is upgraded to " +
                                        f.introduced_in.ToString()};
  }
  return NotFound("feature " + name + " is not known");
}

}  // namespace duplex
