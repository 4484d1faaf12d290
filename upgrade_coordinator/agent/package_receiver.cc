#include "upgrade_coordinator/agent/package_receiver.h"

#include <sys/stat.h>

#include <filesystem>

#include "common/files.h"

namespace duplex {

PackageReceiver::PackageReceiver(PackageStore* store, std::string scratch_dir)
    : store_(store), scratch_dir_(std::move(scratch_dir)) {}

Status PackageReceiver::OnPart(const PackagePart& part) {
  const std::string what = part.name + "-" + part.version;
  // Refused before it fills the host's memory.
  if (part.total_bytes > store_->policy().bytes_max) {
    return InvalidArgument(what + ": " + std::to_string(part.total_bytes) +
                           " bytes is larger than limits.package_bytes_max (" +
                           std::to_string(store_->policy().bytes_max) + ")");
  }
  if (part.name != name_ || part.version != version_ || part.offset == 0) {
    name_ = part.name;
    version_ = part.version;
    binary_.clear();
  }
  if (part.offset != binary_.size() || part.offset + part.data.size() > part.total_bytes) {
    const uint64_t had = binary_.size();
    name_.clear();
    binary_.clear();
    return InvalidArgument(what + ": part at " + std::to_string(part.offset) + " after " +
                           std::to_string(had) + " bytes (a part was lost; starting over)");
  }
  binary_ += part.data;
  if (binary_.size() < part.total_bytes) return Status::Ok();
  Status stored = Store(part);
  name_.clear();
  binary_.clear();
  return stored;
}

Status PackageReceiver::Store(const PackagePart& last) {
  const std::string what = last.name + "-" + last.version;
  StatusOr<PackageManifest> manifest = ParseManifest(last.manifest);
  if (!manifest.ok()) return InvalidArgument(what + ": manifest: " + manifest.status().message());
  namespace fs = std::filesystem;
  const std::string dir = scratch_dir_ + "/" + what;
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) return IOError(dir + ": " + ec.message());
  DUPLEX_RETURN_IF_ERROR(WriteFileAtomically(dir + "/manifest.yaml", last.manifest));
  if (!last.signature.empty()) {
    DUPLEX_RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + kSignatureFile, last.signature));
  }
  const std::string binary = dir + "/" + manifest->binary;
  DUPLEX_RETURN_IF_ERROR(WriteFileAtomically(binary, binary_));
  ::chmod(binary.c_str(), 0755);
  StatusOr<PackageManifest> stored = store_->Add(dir);  // verifies the signature and sha256
  fs::remove_all(dir, ec);
  if (!stored.ok()) {
    // Named by the package, not the scratch path: the coordinator matches the agent's
    // package_error to the package it distributes by this prefix.
    std::string why = stored.status().message();
    if (why.starts_with(dir)) why = what + why.substr(dir.size());
    return Status(stored.status().code(), why);
  }
  return Status::Ok();
}

}  // namespace duplex
