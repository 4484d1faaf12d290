// FeatureSet: which features exist, the version that introduced each, and the
// cluster version that gates them. Pure values, no I/O; thread-compatible.
// A feature is on only when the cluster version has reached its version.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace duplex {

struct Version {
  uint32_t major = 0, minor = 0, patch = 0;
  auto operator<=>(const Version&) const = default;
  std::string ToString() const;
};

// "1.2.3" -> Version; anything else -> InvalidArgument naming the text.
StatusOr<Version> ParseVersion(const std::string& text);

struct Feature {
  std::string name;
  Version introduced_in;
};

class FeatureSet {
 public:
  // Each feature once, named, introduced by a release (above 0.0.0).
  FeatureSet(std::vector<Feature> known, Version cluster_version);

  const Version& cluster_version() const { return cluster_version_; }
  const std::vector<Feature>& known() const { return known_; }
  bool Enabled(const std::string& name) const;
  // Ok when enabled; FeatureDisabled "feature <name> is disabled until the cluster is
  // upgraded to <version>" otherwise; NotFound for a name never registered.
  Status Check(const std::string& name) const;

 private:
  std::vector<Feature> known_;
  Version cluster_version_;
};

}  // namespace duplex
