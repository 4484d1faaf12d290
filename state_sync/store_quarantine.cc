#include "state_sync/store_quarantine.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/assert.h"

namespace duplex {
namespace {

namespace fs = std::filesystem;

constexpr char kReasonFile[] = "REASON";

std::string ReadReason(const std::string& path) {
  std::ifstream in(fs::path(QuarantineDirOf(path)) / kReasonFile);
  if (!in) return "";
  std::stringstream text;
  text << in.rdbuf();
  std::string reason = text.str();
  while (!reason.empty() && reason.back() == '\n') reason.pop_back();
  return reason;
}

// Moves every file of `path` but `keep` and the quarantine itself into a new quarantine,
// which replaces the old one once complete (a crash meanwhile leaves corrupt.new behind, and
// the store's files, wherever they were, are moved again at the next start).
Status Quarantine(const std::string& path, const std::set<std::string>& keep,
                  const std::string& reason) {
  const fs::path dir = QuarantineDirOf(path);
  const fs::path fresh = dir.string() + ".new";
  std::error_code ec;
  fs::remove_all(fresh, ec);
  fs::create_directories(fresh, ec);
  if (ec) return IOError("quarantine " + fresh.string() + ": " + ec.message());
  for (const auto& entry : fs::directory_iterator(path, ec)) {
    const std::string name = entry.path().filename().string();
    if (keep.count(name) > 0 || entry.path() == dir || entry.path() == fresh) continue;
    fs::rename(entry.path(), fresh / name, ec);
    if (ec) return IOError("quarantine " + entry.path().string() + ": " + ec.message());
  }
  if (ec) return IOError("list " + path + ": " + ec.message());
  std::ofstream(fresh / kReasonFile) << reason << "\n";
  fs::remove_all(dir, ec);
  fs::rename(fresh, dir, ec);
  if (ec) return IOError("quarantine " + dir.string() + ": " + ec.message());
  return Status::Ok();
}

}  // namespace

std::string QuarantineDirOf(const std::string& path) {
  return (fs::path(path) / "corrupt").string();
}

StatusOr<OpenedStore> OpenOrQuarantine(const StoreOptions& options,
                                       const std::set<std::string>& keep) {
  auto opened = Store::Open(options);
  if (opened.ok()) {
    OpenedStore out{std::move(opened).value(), ""};
    // Incomplete with a REASON beside it: a restart came before the resync that the
    // corruption started. Complete: that resync is over, and the REASON is kept for the
    // operator under another name, so that a later install cut off for another cause is not
    // reported as this corruption.
    if (out.store->meta().snapshot_incomplete) {
      out.corrupt = ReadReason(options.path);
    } else {
      const fs::path reason = fs::path(QuarantineDirOf(options.path)) / kReasonFile;
      std::error_code ec;
      if (fs::exists(reason, ec)) fs::rename(reason, reason.string() + ".resynced", ec);
    }
    return out;
  }
  if (opened.status().code() != Code::kCorruption) return opened.status();
  const std::string reason = opened.status().message();
  // An error, not critical: the replica handles it (critical marks a process that dies).
  spdlog::error(
      "store {} is corrupt at rest ({}): its files go to {}; this replica serves nothing and "
      "cannot be promoted until a full resync from its peer completes",
      options.path, reason, QuarantineDirOf(options.path));
  // The epoch fence outlives the state: it only ever rises, and a replica whose fence went
  // back could take for current an epoch it had already seen superseded.
  StatusOr<StoreMeta> salvaged = SalvageMeta(options.path, options.env);
  DUPLEX_RETURN_IF_ERROR(Quarantine(options.path, keep, reason));
  auto fresh = Store::Open(options);
  if (!fresh.ok()) return fresh.status();
  if (salvaged.ok() && salvaged->epoch > 0) {
    DUPLEX_RETURN_IF_ERROR((*fresh)->AdoptEpoch(salvaged->epoch));
    spdlog::warn("store {}: kept the epoch fence {} from a checksum-verified metadata record",
                 options.path, salvaged->epoch);
  } else {
    spdlog::warn(
        "store {}: no epoch fence could be salvaged ({}): it starts from 0, as a new "
        "replica's does, until the coordinator's next assignment",
        options.path, salvaged.ok() ? "none was set" : salvaged.status().ToString());
  }
  // The incomplete mark is durable: a restart before the resync completes keeps it.
  DUPLEX_RETURN_IF_ERROR((*fresh)->BeginSnapshotInstall());
  DUPLEX_ASSERT((*fresh)->meta().snapshot_incomplete && (*fresh)->meta().applied_seq == 0,
                "a quarantined store is replaced by an empty, incomplete one",
                (*fresh)->meta().applied_seq);
  return OpenedStore{std::move(fresh).value(), reason};
}

}  // namespace duplex
