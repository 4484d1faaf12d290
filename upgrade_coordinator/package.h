// Packages for upgrade campaigns: a directory or tarball holding manifest.yaml (manifest.h) and
// one processor binary. ReadPackage reads and verifies one; PackageStore keeps verified copies
// under the coordinator's data dir; CheckPlatform measures this machine against a manifest's
// needs. Values are thread-compatible; PackageStore is not thread-safe and is owned by the
// coordinator.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "feature_flags/feature_set.h"
#include "upgrade_coordinator/manifest.h"

namespace duplex {

// What this machine offers, measured once so a check and its report agree.
struct PlatformFacts {
  std::string arch;                  // uname(2) machine
  uint64_t available_memory_mb = 0;  // /proc/meminfo MemAvailable
  std::string disk_path;             // the directory whose file system was measured
  uint64_t available_disk_mb = 0;    // statvfs f_bavail, for an unprivileged writer
};

// Measures the file system of `data_dir`, or of its nearest existing parent when the dir is
// not created yet.
StatusOr<PlatformFacts> ReadPlatformFacts(const std::string& data_dir);
// FailedPrecondition naming the requirement and both values:
// "platform.min_memory_mb: needs 4096, this machine has 2048 available".
Status CheckPlatform(const PlatformRequirements& required, const PlatformFacts& facts);
Status CheckPlatform(const PlatformRequirements& required, const std::string& data_dir);

// Checks that manifest.BinaryPath() exists, is executable and has the manifest's digest; a
// mismatch is InvalidArgument "kv-2.0.0: checksum mismatch: manifest says <a>, file has <b>
// (tampered or corrupt package)". Campaigns call it again before using a stored package.
Status VerifyBinary(const PackageManifest& manifest);

// Reads and verifies the package at `path`: a directory, or a .tar/.tar.gz/.tgz tarball
// holding manifest.yaml at its top or inside one top-level directory. A tarball is extracted
// into a temporary directory that is removed before this returns. Errors start with `path`.
StatusOr<PackageManifest> ReadPackage(const std::string& path);

// Verified packages kept as <dir>/<name>-<version>/{manifest.yaml,<binary>}. A package appears
// there by one rename, so a crash leaves either all of it or none (scraps are removed at Open).
class PackageStore {
 public:
  // Creates `dir` if needed and loads (and verifies) every stored package.
  static StatusOr<std::unique_ptr<PackageStore>> Open(const std::string& dir);

  // Verifies the package at `path` and stores a copy. Adding the same package again returns
  // the stored manifest; another package with the same name and version is refused.
  StatusOr<PackageManifest> Add(const std::string& path);
  // Sorted by name, then version.
  std::vector<PackageManifest> List() const;
  // NotFound names what the store holds.
  StatusOr<PackageManifest> Get(const std::string& name, const Version& v) const;

  const std::string& dir() const { return dir_; }
  // Stored packages that failed verification when the store was opened (left out of List).
  const std::vector<std::string>& damaged() const { return damaged_; }

 private:
  explicit PackageStore(std::string dir) : dir_(std::move(dir)) {}
  Status Load();
  StatusOr<PackageManifest> AddVerified(const PackageManifest& incoming);

  std::vector<std::string> damaged_;
  std::string dir_;
  std::map<std::pair<std::string, Version>, PackageManifest> packages_;
};

}  // namespace duplex
