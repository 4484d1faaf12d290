#include "feature_flags/feature_set.h"

#include <charconv>

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
