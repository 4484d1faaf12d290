// Packages for upgrade campaigns: a directory or tarball holding manifest.yaml (manifest.h) and
// one processor binary. ReadPackage reads and verifies one; PackageStore keeps verified copies
// under the coordinator's data dir; CheckPlatform measures this machine against a manifest's
// needs. Values are thread-compatible; PackageStore is not thread-safe and is owned by the
// coordinator.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "feature_flags/feature_set.h"
#include "upgrade_coordinator/manifest.h"
#include "upgrade_coordinator/package_signature.h"

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

// What a package must satisfy beyond a well-formed manifest (from the cluster config).
struct PackagePolicy {
  // security.package_keys (lowercase hex): a package must be signed by one of them. Empty:
  // unsigned packages are accepted, with a warning, as before signing existed.
  std::vector<std::string> trusted_keys;
  // limits.package_bytes_max: a tarball's files together, a received binary.
  uint64_t bytes_max = uint64_t{1} << 30;
  // security.package_dir (absolute): POST /packages {"path"} accepts only paths under it;
  // "" = only uploads.
  std::string package_dir;
};

struct ClusterConfig;
// security.package_keys and limits.package_bytes_max of `config`.
PackagePolicy PackagePolicyOf(const ClusterConfig& config);

// Packages refused, by reason (duplex_package_refused_total{reason}); any thread.
class PackageRefusalCounts {
 public:
  void Add(PackageRefusal reason) { counts_[static_cast<std::size_t>(reason)]++; }
  uint64_t Get(PackageRefusal reason) const { return counts_[static_cast<std::size_t>(reason)]; }

 private:
  std::array<std::atomic<uint64_t>, kPackageRefusalCount> counts_{};
};

// Checks that manifest.BinaryPath() exists, is executable and has the manifest's digest; a
// mismatch is InvalidArgument "kv-2.0.0: checksum mismatch: binary sha256 does not match the
// signed manifest (manifest says <a>, file has <b>): tampered or corrupt package".
Status VerifyBinary(const PackageManifest& manifest);

// Reads the package in `manifest.dir` again and verifies all of it under `policy`: the
// manifest's signature, that it still says what `manifest` says, and the binary. Campaigns
// and agents call it before using a stored package (an agent before every start).
Status VerifyPackage(const PackageManifest& manifest, const PackagePolicy& policy,
                     PackageRefusal* reason = nullptr);

// Reads and verifies the package at `path` under `policy`: a directory, or a .tar/.tar.gz/
// .tgz tarball holding manifest.yaml (and manifest.sig) at its top or inside one top-level
// directory. A tarball's headers are checked (tarball.h) before it is extracted into a
// temporary directory that is removed before this returns. Errors start with `path`.
StatusOr<PackageManifest> ReadPackage(const std::string& path, const PackagePolicy& policy = {});

// Packs the package directory `dir` (its manifest.yaml, manifest.sig when signed, and the
// binary the manifest names) into a new plain tarball `tarball`, as an upload sends it.
Status PackPackageDir(const std::string& dir, const std::string& tarball);

// Verified packages kept as <dir>/<name>-<version>/{manifest.yaml,<binary>}. A package appears
// there by one rename, so a crash leaves either all of it or none (scraps are removed at Open).
class PackageStore {
 public:
  // Creates `dir` if needed and loads (and verifies, under `policy`) every stored package.
  static StatusOr<std::unique_ptr<PackageStore>> Open(const std::string& dir,
                                                      PackagePolicy policy = {});

  // Verifies the package at `path` and stores a copy. Adding the same package again returns
  // the stored manifest; another package with the same name and version is refused. Every
  // refusal is counted in refusals() under its reason; an unsigned package accepted without
  // trusted keys is logged as a warning.
  StatusOr<PackageManifest> Add(const std::string& path);
  // Sorted by name, then version.
  std::vector<PackageManifest> List() const;
  // NotFound names what the store holds.
  StatusOr<PackageManifest> Get(const std::string& name, const Version& v) const;

  const std::string& dir() const { return dir_; }
  // Stored packages that failed verification when the store was opened (left out of List).
  const std::vector<std::string>& damaged() const { return damaged_; }
  const PackagePolicy& policy() const { return policy_; }
  const PackageRefusalCounts& refusals() const { return refusals_; }
  // Counts a refusal decided outside the store (POST /packages' own rules).
  void CountRefusal(PackageRefusal reason) { refusals_.Add(reason); }

 private:
  PackageStore(std::string dir, PackagePolicy policy)
      : dir_(std::move(dir)), policy_(std::move(policy)) {}
  Status Load();
  StatusOr<PackageManifest> AddVerified(const PackageManifest& incoming);

  std::vector<std::string> damaged_;
  std::string dir_;
  PackagePolicy policy_;
  PackageRefusalCounts refusals_;
  std::map<std::pair<std::string, Version>, PackageManifest> packages_;
};

}  // namespace duplex
