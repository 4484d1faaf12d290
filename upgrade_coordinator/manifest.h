// A package's manifest (manifest.yaml): what the package is, what it may be upgraded from and
// what it needs of a machine, parsed and validated field by field. Plain values;
// thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "feature_flags/feature_set.h"

namespace duplex {

// The manifest's file name inside a package directory.
inline constexpr char kManifestFile[] = "manifest.yaml";

// The versions a package may be upgraded from: every clause must hold (">=1.0.0 <2.0.0").
struct VersionRange {
  enum class Op { kGreaterEqual, kGreater, kLessEqual, kLess, kEqual };
  struct Clause {
    Op op = Op::kEqual;
    Version version;
    bool operator==(const Clause&) const = default;
  };

  std::vector<Clause> clauses;

  // An empty range (built in code, never parsed) contains nothing, so a forgotten range can
  // never let a campaign start from an arbitrary version.
  bool Contains(const Version& v) const;
  std::string ToString() const;  // ">=1.0.0 <2.0.0"
  bool operator==(const VersionRange&) const = default;
};

// Space-separated clauses, each an operator (>=, >, <=, <, =) and a version; at least one.
// ">= 1.0.0" (a space after the operator) is accepted too.
StatusOr<VersionRange> ParseVersionRange(const std::string& text);

struct PlatformRequirements {
  std::string arch;  // as uname -m says ("x86_64", "aarch64"); empty = any
  uint64_t memory_mb_min = 0;
  uint64_t disk_mb_min = 0;
  bool operator==(const PlatformRequirements&) const = default;
};

struct PackageManifest {
  std::string name;  // [a-z0-9_-]{1,32}
  Version version;
  std::string binary;  // a file name inside the package directory
  std::string sha256;  // 64 lowercase hex characters: the binary's digest
  VersionRange upgrade_from;
  PlatformRequirements platform;
  uint32_t schema = 1;  // the state schema this version reads and writes
  std::vector<Feature> features;
  std::string dir;  // absolute dir holding it; empty for a tarball read by ReadPackage
  // The Ed25519 key (hex) whose signature of manifest.yaml was verified when the package was
  // read (package_signature.h); "" = unsigned. Not part of the manifest's text.
  std::string signer;

  std::string BinaryPath() const { return dir + "/" + binary; }
};

// Parses manifest.yaml text; `dir` is left empty. Unknown fields are errors, and every error
// names the field: `features[0].introduced_in: "2.x" is not a version (MAJOR.MINOR.PATCH)`.
StatusOr<PackageManifest> ParseManifest(const std::string& yaml_text);

// True when two manifests describe the same package (every field but `dir` and `signer`).
bool SameContent(const PackageManifest& a, const PackageManifest& b);

}  // namespace duplex
