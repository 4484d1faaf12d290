// Packages on disk: platform checks, verification and the package store. Tarballs are checked
// entry by entry first (tarball.h), then unpacked by the system tar, run through
// common/subprocess.h with an argument vector (no shell).
#include "upgrade_coordinator/package.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "common/assert.h"
#include "common/sha256.h"
#include "common/subprocess.h"
#include "upgrade_coordinator/cluster_types.h"
#include "upgrade_coordinator/tarball.h"

namespace duplex {
namespace {

namespace fs = std::filesystem;

// A manifest is a page of YAML; anything this large is the wrong file.
constexpr std::size_t kManifestBytesMax = 1 << 20;
// Enough of tar's complaint to explain a failure without flooding the message.
constexpr std::size_t kTarErrorBytesMax = 2048;
// A package is one binary and a manifest; unpacking one that takes longer is stuck.
constexpr int kTarTimeoutMs = 10 * 60 * 1000;
constexpr uint64_t kBytesPerMb = 1024 * 1024;
// tar's complaint is quoted in an error message, which must stay far smaller than a manifest.
static_assert(kTarErrorBytesMax < kManifestBytesMax);
static_assert(kTarTimeoutMs > 0);

Status Prefixed(const std::string& prefix, const Status& status) {
  return Status(status.code(), prefix + ": " + status.message());
}

// Sets `*reason` (when asked for) and passes the status on.
Status Refused(PackageRefusal why, PackageRefusal* reason, Status status) {
  if (reason != nullptr) *reason = why;
  return status;
}

// ---- Platform ----

// Debian and Docker spell architectures differently from uname; accept both.
std::string CanonicalArch(const std::string& arch) {
  if (arch == "amd64") return "x86_64";
  if (arch == "arm64") return "aarch64";
  return arch;
}

StatusOr<uint64_t> ReadAvailableMemoryMb() {
  std::ifstream in("/proc/meminfo");
  if (!in) return IOError("/proc/meminfo: cannot read: " + std::string(std::strerror(errno)));
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("MemAvailable:")) continue;
    std::istringstream fields(line.substr(std::strlen("MemAvailable:")));
    uint64_t kb = 0;
    if (fields >> kb) return kb / 1024;
    break;
  }
  return IOError("/proc/meminfo: no MemAvailable line (Linux 3.14 or later is needed)");
}

// Measures the nearest existing directory, so a data dir not created yet still gets an answer.
Status ReadAvailableDiskMb(const std::string& data_dir, PlatformFacts* facts) {
  std::error_code ec;
  fs::path path = fs::absolute(data_dir.empty() ? "." : data_dir, ec);
  if (ec) return IOError(data_dir + ": cannot make the path absolute: " + ec.message());
  while (!fs::exists(path, ec) && path.has_parent_path() && path != path.parent_path()) {
    path = path.parent_path();
  }
  struct statvfs vfs {};
  if (::statvfs(path.c_str(), &vfs) != 0) {
    return IOError(path.string() + ": statvfs: " + std::strerror(errno));
  }
  facts->disk_path = path.string();
  facts->available_disk_mb = uint64_t{vfs.f_bavail} * vfs.f_frsize / kBytesPerMb;
  DUPLEX_ASSERT(path.is_absolute(), "the disk measured is named by an absolute path",
                facts->disk_path);
  return Status::Ok();
}

// ---- Files ----

// Removes its directory when destroyed: extracted tarballs and half-copied packages.
class ScratchDir {
 public:
  explicit ScratchDir(fs::path path) : path_(std::move(path)) {}
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

Status MakeScratchDir(const fs::path& parent, const std::string& prefix,
                      std::optional<ScratchDir>* out) {
  std::string pattern = (parent / (prefix + "XXXXXX")).string();
  DUPLEX_ASSERT(!out->has_value(), "a scratch directory is made once per holder", pattern);
  if (::mkdtemp(pattern.data()) == nullptr) {
    return IOError(pattern + ": cannot create a temporary directory: " + std::strerror(errno));
  }
  out->emplace(pattern);
  return Status::Ok();
}

StatusOr<std::string> ReadSmallFile(const fs::path& path, const std::string& name) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return InvalidArgument(name + ": cannot read: " + ec.message());
  if (size > kManifestBytesMax)
    return InvalidArgument(name + ": larger than 1 MiB, not a manifest");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) return IOError(name + ": cannot read: " + std::strerror(errno));
  return text.str();
}

bool IsTarball(const std::string& path) {
  return path.ends_with(".tar") || path.ends_with(".tar.gz") || path.ends_with(".tgz");
}

// tar is looked up on PATH here: the subprocess helper runs a path, without searching.
StatusOr<std::string> FindTar() {
  const char* env = std::getenv("PATH");
  std::istringstream dirs(env != nullptr ? env : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/tar";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return FailedPrecondition("cannot unpack a tarball: no tar program on PATH");
}

// Runs tar with stdin and stdout on /dev/null; a failure carries what it said on stderr.
Status ExtractTarball(const std::string& tarball, const fs::path& into) {
  StatusOr<std::string> tar = FindTar();
  if (!tar.ok()) return tar.status();
  SpawnOptions options;
  // --force-local: a name with a colon is a local file, not host:path on a remote tape.
  options.argv = {*tar,    "-x", "--no-same-owner", "--force-local", "-f",
                  tarball, "-C", into.string()};
  if (!tarball.ends_with(".tar")) options.argv.insert(options.argv.begin() + 2, "-z");
  options.stdin_null = true;
  options.stdout_to = ChildOutput::kNull;
  options.stderr_to = ChildOutput::kCapture;
  StatusOr<RunResult> run = RunProgram(options, kTarTimeoutMs, kTarErrorBytesMax);
  if (!run.ok()) return run.status();
  // A waitpid(-1) elsewhere in the process (the Supervisor's reaper) may have taken the exit
  // status; verifying the extracted package afterwards still catches a partial extraction.
  if (run->exit.lost || run->exit.success()) return Status::Ok();
  std::string said = run->output;
  while (!said.empty() && (said.back() == '\n' || said.back() == ' ')) said.pop_back();
  return InvalidArgument("tar " + run->exit.Describe() + (said.empty() ? "" : ": " + said));
}

// A tarball holds the package at its top, or inside its one top-level directory.
StatusOr<fs::path> FindPackageRoot(const fs::path& extracted) {
  std::error_code ec;
  if (fs::exists(extracted / kManifestFile, ec)) return extracted;
  std::vector<fs::path> entries;
  for (fs::directory_iterator it(extracted, ec), end; !ec && it != end; it.increment(ec)) {
    entries.push_back(it->path());
  }
  if (entries.size() == 1 && fs::exists(entries[0] / kManifestFile, ec)) return entries[0];
  return InvalidArgument(std::string("no ") + kManifestFile +
                         " at the top of the tarball or inside its one top-level directory");
}

// manifest.sig's text, nullopt when the package has none.
StatusOr<std::optional<std::string>> ReadSignature(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir / kSignatureFile, ec)) return std::optional<std::string>();
  StatusOr<std::string> text = ReadSmallFile(dir / kSignatureFile, kSignatureFile);
  if (!text.ok()) return text.status();
  return std::optional<std::string>(std::move(text).value());
}

Status CheckBinary(const PackageManifest& manifest, PackageRefusal* reason);

// Errors name the file inside the package, or the package (name and version) once the
// manifest is read; the caller prefixes the path. The signature is checked before the
// binary: the binary's digest is only worth comparing with a manifest that is trusted.
StatusOr<PackageManifest> ReadPackageDir(const fs::path& dir, const PackagePolicy& policy,
                                         PackageRefusal* reason) {
  std::error_code ec;
  const fs::path canonical = fs::canonical(dir, ec);
  if (ec) return IOError(ec.message());
  StatusOr<std::string> text = ReadSmallFile(canonical / kManifestFile, kManifestFile);
  if (!text.ok()) return text.status();
  StatusOr<PackageManifest> manifest = ParseManifest(*text);
  if (!manifest.ok()) return Prefixed(kManifestFile, manifest.status());
  manifest->dir = canonical.string();
  const std::string package = "package " + manifest->name + "-" + manifest->version.ToString();
  StatusOr<std::optional<std::string>> signature = ReadSignature(canonical);
  if (!signature.ok()) return Prefixed(package, signature.status());
  Status trusted = CheckManifestSignature(*text, *signature, policy.trusted_keys, reason);
  if (!trusted.ok()) return Prefixed(package, trusted);
  if (signature->has_value()) manifest->signer = ParseSignature(**signature)->key_hex;
  DUPLEX_RETURN_IF_ERROR(CheckBinary(*manifest, reason));
  DUPLEX_ASSERT(canonical.is_absolute(), "a package read is named by its absolute directory",
                manifest->dir);
  return manifest;
}

// Copies the tarball into the scratch directory first, so the archive checked is the archive
// extracted (the original could change in between), then checks it, then extracts the copy.
Status UnpackTarball(const std::string& path, const PackagePolicy& policy, const fs::path& into,
                     PackageRefusal* reason) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return IOError("cannot read: " + ec.message());
  if (size > policy.bytes_max) {
    return Refused(
        PackageRefusal::kTooLarge, reason,
        InvalidArgument(std::to_string(size) + " bytes: larger than " +
                        "limits.package_bytes_max (" + std::to_string(policy.bytes_max) + ")"));
  }
  const fs::path copy = into / (LooksGzipped(path) ? "package.tar.gz" : "package.tar");
  fs::copy_file(path, copy, ec);
  if (ec) return IOError("cannot copy into " + into.string() + ": " + ec.message());
  DUPLEX_RETURN_IF_ERROR(CheckTarball(copy.string(), policy.bytes_max, reason));
  const fs::path files = into / "files";
  fs::create_directory(files, ec);
  if (ec) return IOError(files.string() + ": " + ec.message());
  Status extracted = ExtractTarball(copy.string(), files);
  fs::remove(copy, ec);
  return extracted;
}

// Reads the package at `path`; a tarball is extracted into a new directory under
// `scratch_parent`, owned by `scratch`, which must outlive the use of the result's `dir`.
StatusOr<PackageManifest> OpenPackage(const std::string& path, const PackagePolicy& policy,
                                      const fs::path& scratch_parent,
                                      std::optional<ScratchDir>* scratch, PackageRefusal* reason) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return ReadPackageDir(path, policy, reason);
  if (!fs::exists(path, ec)) return NotFound("no such directory or file");
  if (!IsTarball(path) || !fs::is_regular_file(path, ec)) {
    return InvalidArgument("not a package: expected a directory or a .tar, .tar.gz or .tgz file");
  }
  DUPLEX_RETURN_IF_ERROR(MakeScratchDir(scratch_parent, ".incoming-", scratch));
  DUPLEX_RETURN_IF_ERROR(UnpackTarball(path, policy, (*scratch)->path(), reason));
  StatusOr<fs::path> root = FindPackageRoot((*scratch)->path() / "files");
  if (!root.ok()) return root.status();
  return ReadPackageDir(*root, policy, reason);
}

// fsync, so a package renamed into the store after a power cut still has its bytes.
Status SyncPath(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IOError(path.string() + ": open: " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int fsync_errno = errno;
  ::close(fd);
  if (rc != 0) return IOError(path.string() + ": fsync: " + std::strerror(fsync_errno));
  return Status::Ok();
}

Status CopyDurably(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::copy_file(from, to, ec);
  if (ec) return IOError(from.string() + " -> " + to.string() + ": copy: " + ec.message());
  return SyncPath(to);
}

std::string Describe(const std::string& name, const Version& v) {
  return name + " " + v.ToString();
}

}  // namespace

// ---- Public: platform ----

StatusOr<PlatformFacts> ReadPlatformFacts(const std::string& data_dir) {
  PlatformFacts facts;
  struct utsname names {};
  if (::uname(&names) != 0) return IOError(std::string("uname: ") + std::strerror(errno));
  facts.arch = names.machine;
  StatusOr<uint64_t> memory = ReadAvailableMemoryMb();
  if (!memory.ok()) return memory.status();
  facts.available_memory_mb = *memory;
  DUPLEX_RETURN_IF_ERROR(ReadAvailableDiskMb(data_dir, &facts));
  return facts;
}

Status CheckPlatform(const PlatformRequirements& required, const PlatformFacts& facts) {
  if (!required.arch.empty() && CanonicalArch(required.arch) != facts.arch) {
    return FailedPrecondition("platform.arch: needs " + required.arch + ", this machine is " +
                              facts.arch);
  }
  if (facts.available_memory_mb < required.memory_mb_min) {
    return FailedPrecondition("platform.min_memory_mb: needs " +
                              std::to_string(required.memory_mb_min) + ", this machine has " +
                              std::to_string(facts.available_memory_mb) + " available");
  }
  if (facts.available_disk_mb < required.disk_mb_min) {
    return FailedPrecondition("platform.min_disk_mb: needs " +
                              std::to_string(required.disk_mb_min) + ", " + facts.disk_path +
                              " has " + std::to_string(facts.available_disk_mb) + " available");
  }
  return Status::Ok();
}

Status CheckPlatform(const PlatformRequirements& required, const std::string& data_dir) {
  StatusOr<PlatformFacts> facts = ReadPlatformFacts(data_dir);
  if (!facts.ok()) return facts.status();
  return CheckPlatform(required, *facts);
}

// ---- Public: manifests and packages ----

PackagePolicy PackagePolicyOf(const ClusterConfig& config) {
  PackagePolicy policy;
  policy.trusted_keys = config.security.package_keys;
  policy.bytes_max = config.limits.package_bytes_max;
  policy.package_dir = config.security.package_dir;
  return policy;
}

Status VerifyBinary(const PackageManifest& manifest) { return CheckBinary(manifest, nullptr); }

namespace {

// VerifyBinary, telling the checksum's refusal apart from a missing or unusable file.
Status CheckBinary(const PackageManifest& manifest, PackageRefusal* reason) {
  const fs::path path = manifest.BinaryPath();
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) return InvalidArgument(manifest.binary + ": missing from the package");
  if (!fs::is_regular_file(status))
    return InvalidArgument(manifest.binary + ": not a regular file");
  constexpr fs::perms kExec =
      fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec;
  if ((status.permissions() & kExec) == fs::perms::none) {
    return InvalidArgument(manifest.binary + ": not executable (chmod +x it before packaging)");
  }
  StatusOr<std::string> digest = Sha256HexOfFile(path.string());
  if (!digest.ok()) return digest.status();
  // sha256sum's spelling (ReadSha256 lowercases the manifest's), so one string comparison decides.
  DUPLEX_ASSERT(digest->size() == 64, "a file's digest is 64 hex digits", *digest);
  if (*digest != manifest.sha256) {
    return Refused(
        PackageRefusal::kChecksum, reason,
        InvalidArgument(manifest.binary + ": checksum mismatch: binary sha256 does not match " +
                        "the " + (manifest.signer.empty() ? "" : "signed ") +
                        "manifest (manifest says " + manifest.sha256 + ", file has " + *digest +
                        "): tampered or corrupt package"));
  }
  return Status::Ok();
}

}  // namespace

Status VerifyPackage(const PackageManifest& manifest, const PackagePolicy& policy,
                     PackageRefusal* reason) {
  StatusOr<PackageManifest> read = ReadPackageDir(manifest.dir, policy, reason);
  if (!read.ok()) return read.status();
  if (!SameContent(*read, manifest)) {
    return Refused(
        PackageRefusal::kInvalid, reason,
        FailedPrecondition("package " + manifest.name + "-" + manifest.version.ToString() + ": " +
                           manifest.dir + " holds another manifest than the one stored"));
  }
  return Status::Ok();
}

StatusOr<PackageManifest> ReadPackage(const std::string& path, const PackagePolicy& policy) {
  std::error_code ec;
  const fs::path temp = fs::temp_directory_path(ec);
  if (ec) return IOError(path + ": no temporary directory to unpack into: " + ec.message());
  std::optional<ScratchDir> scratch;
  StatusOr<PackageManifest> manifest = OpenPackage(path, policy, temp, &scratch, nullptr);
  if (!manifest.ok()) return Prefixed(path, manifest.status());
  if (scratch.has_value()) manifest->dir.clear();  // the extracted copy goes with `scratch`
  return manifest;
}

Status PackPackageDir(const std::string& dir, const std::string& tarball) {
  StatusOr<std::string> text = ReadSmallFile(fs::path(dir) / kManifestFile, kManifestFile);
  if (!text.ok()) return Prefixed(dir, text.status());
  StatusOr<PackageManifest> manifest = ParseManifest(*text);
  if (!manifest.ok()) return Prefixed(dir + "/" + kManifestFile, manifest.status());
  StatusOr<std::string> tar = FindTar();
  if (!tar.ok()) return tar.status();
  SpawnOptions options;
  // --dereference: a binary linked into the directory travels as the file it names.
  options.argv = {*tar, "-c", "--dereference", "--force-local", "-f", tarball,
                  "-C", dir,  kManifestFile,   manifest->binary};
  std::error_code ec;
  if (fs::exists(fs::path(dir) / kSignatureFile, ec)) options.argv.push_back(kSignatureFile);
  options.stdin_null = true;
  options.stdout_to = ChildOutput::kNull;
  options.stderr_to = ChildOutput::kCapture;
  StatusOr<RunResult> run = RunProgram(options, kTarTimeoutMs, kTarErrorBytesMax);
  if (!run.ok()) return run.status();
  if (!run->exit.lost && !run->exit.success()) {
    return InvalidArgument(dir + ": tar " + run->exit.Describe() + ": " + run->output);
  }
  return Status::Ok();
}

// ---- PackageStore ----

StatusOr<std::unique_ptr<PackageStore>> PackageStore::Open(const std::string& dir,
                                                           PackagePolicy policy) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return IOError(dir + ": cannot create the package store: " + ec.message());
  const fs::path canonical = fs::canonical(dir, ec);
  if (ec) return IOError(dir + ": " + ec.message());
  std::unique_ptr<PackageStore> store(new PackageStore(canonical.string(), std::move(policy)));
  DUPLEX_RETURN_IF_ERROR(store->Load());
  return store;
}

// Scraps of an interrupted Add (dot-names) are removed; every package must still verify, since
// a stored package that changed on disk must not reach a replica.
Status PackageStore::Load() {
  std::error_code ec;
  // increment(ec) rather than a range-for, whose ++ throws on a listing error.
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::directory_entry& entry = *it;
    const std::string file_name = entry.path().filename().string();
    if (file_name.starts_with(".")) {
      fs::remove_all(entry.path(), ec);
      continue;
    }
    if (!entry.is_directory(ec)) continue;
    StatusOr<PackageManifest> manifest = ReadPackageDir(entry.path(), policy_, nullptr);
    const std::string fix = "; remove " + entry.path().string() + " and add the package again";
    // A damaged package is left out (and named), not fatal: the coordinator must start.
    if (!manifest.ok()) {
      damaged_.push_back(entry.path().string() + ": " + manifest.status().message() + fix);
      continue;
    }
    if (file_name != manifest->name + "-" + manifest->version.ToString()) {
      damaged_.push_back(entry.path().string() + ": holds " +
                         Describe(manifest->name, manifest->version) + fix);
      continue;
    }
    const bool first = packages_.count({manifest->name, manifest->version}) == 0;
    DUPLEX_ASSERT(first, "one directory per name and version", file_name);
    packages_[{manifest->name, manifest->version}] = std::move(manifest).value();
  }
  if (ec) return IOError(dir_ + ": cannot list the package store: " + ec.message());
  return Status::Ok();
}

StatusOr<PackageManifest> PackageStore::Add(const std::string& path) {
  std::optional<ScratchDir> scratch;
  PackageRefusal reason = PackageRefusal::kInvalid;
  StatusOr<PackageManifest> incoming = OpenPackage(path, policy_, dir_, &scratch, &reason);
  if (!incoming.ok()) {
    refusals_.Add(reason);
    return Prefixed(path, incoming.status());
  }
  StatusOr<PackageManifest> stored = AddVerified(*incoming);
  if (!stored.ok()) refusals_.Add(PackageRefusal::kInvalid);
  if (stored.ok() && stored->signer.empty()) {
    spdlog::warn(
        "package {}-{} is not signed and was accepted: security.package_keys is not "
        "configured (duplex package keygen, duplex package sign)",
        stored->name, stored->version.ToString());
  }
  return stored;
}

// Copies into a dot-named directory, verifies the copy, then renames it into place.
StatusOr<PackageManifest> PackageStore::AddVerified(const PackageManifest& incoming) {
  const std::string what = Describe(incoming.name, incoming.version);
  auto existing = packages_.find({incoming.name, incoming.version});
  if (existing != packages_.end()) {
    if (SameContent(existing->second, incoming)) return existing->second;
    const bool same_binary = existing->second.sha256 == incoming.sha256;
    return FailedPrecondition(what + " is already stored with another " +
                              (same_binary ? "manifest" : "checksum"));
  }
  const fs::path final_dir = fs::path(dir_) / (incoming.name + "-" + incoming.version.ToString());
  std::optional<ScratchDir> copy;
  DUPLEX_RETURN_IF_ERROR(MakeScratchDir(dir_, ".tmp-", &copy));
  const fs::path from = incoming.dir;
  DUPLEX_RETURN_IF_ERROR(CopyDurably(from / kManifestFile, copy->path() / kManifestFile));
  DUPLEX_RETURN_IF_ERROR(CopyDurably(from / incoming.binary, copy->path() / incoming.binary));
  if (!incoming.signer.empty()) {
    DUPLEX_RETURN_IF_ERROR(CopyDurably(from / kSignatureFile, copy->path() / kSignatureFile));
  }
  DUPLEX_RETURN_IF_ERROR(SyncPath(copy->path()));
  StatusOr<PackageManifest> stored = ReadPackageDir(copy->path(), policy_, nullptr);
  if (!stored.ok()) return Prefixed("the stored copy of " + what, stored.status());
  // The source could have changed between reading and copying.
  if (!SameContent(*stored, incoming) || stored->signer != incoming.signer)
    return FailedPrecondition(what + ": the package changed while it was being added");
  std::error_code ec;
  DUPLEX_ASSERT(stored->sha256 == incoming.sha256, "the stored copy has the verified checksum",
                what, stored->sha256, incoming.sha256);
  fs::rename(copy->path(), final_dir, ec);
  if (ec) return IOError(final_dir.string() + ": cannot store the package: " + ec.message());
  DUPLEX_RETURN_IF_ERROR(SyncPath(dir_));
  stored->dir = final_dir.string();
  packages_[{stored->name, stored->version}] = *stored;
  DUPLEX_ASSERT(packages_.count({incoming.name, incoming.version}) == 1,
                "an added package is found under its name and version", what);
  return stored;
}

std::vector<PackageManifest> PackageStore::List() const {
  std::vector<PackageManifest> list;
  for (const auto& [key, manifest] : packages_) {
    DUPLEX_ASSERT(key.first == manifest.name && key.second == manifest.version,
                  "a package is stored under its own name and version", key.first, manifest.name);
    list.push_back(manifest);
  }
  return list;
}

StatusOr<PackageManifest> PackageStore::Get(const std::string& name, const Version& v) const {
  auto it = packages_.find({name, v});
  if (it != packages_.end()) {
    DUPLEX_ASSERT(!it->second.dir.empty(), "a stored package has its directory", name);
    return it->second;
  }
  std::string stored;
  for (const auto& [key, manifest] : packages_) {
    stored += (stored.empty() ? "" : ", ") + Describe(key.first, key.second);
  }
  return NotFound("no package " + Describe(name, v) + " in the store; " +
                  (stored.empty() ? "the store is empty" : "stored: " + stored));
}

}  // namespace duplex
