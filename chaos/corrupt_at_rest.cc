#include "chaos/corrupt_at_rest.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include "common/assert.h"
#include "state_sync/store.h"
#include "state_sync/store_quarantine.h"

namespace duplex {
namespace {

namespace fs = std::filesystem;

// Non-empty files of the store named *<suffix> (the WAL is NNNNNN.log; RocksDB's info log
// is LOG, which no suffix here matches).
std::vector<fs::path> FilesEndingWith(const std::string& dir, const std::string& suffix) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.ends_with(suffix) && fs::file_size(e.path(), ec) > 0) {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Status FlipBit(const fs::path& file, uint64_t offset, int bit) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  char c = 0;
  f.seekg(static_cast<std::streamoff>(offset));
  f.read(&c, 1);
  c = static_cast<char>(c ^ (1 << bit));
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
  f.flush();
  if (!f) return IOError("flip a bit of " + file.string() + " at " + std::to_string(offset));
  return Status::Ok();
}

// `flips` bits over `files`, each file's share by its size (at least one bit each while
// bits remain).
StatusOr<std::string> FlipIn(const std::vector<fs::path>& files, int flips, std::mt19937_64& rng) {
  DUPLEX_ASSERT(!files.empty() && flips >= 1, "bits to flip in some file", files.size(), flips);
  std::vector<int> per_file(files.size(), 0);
  std::uniform_int_distribution<size_t> which(0, files.size() - 1);
  for (int i = 0; i < flips; ++i) ++per_file[i < static_cast<int>(files.size()) ? i : which(rng)];
  std::string note;
  for (size_t i = 0; i < files.size(); ++i) {
    if (per_file[i] == 0) continue;
    const uint64_t size = fs::file_size(files[i]);
    std::uniform_int_distribution<uint64_t> offset(0, size - 1);
    std::uniform_int_distribution<int> bit(0, 7);
    for (int k = 0; k < per_file[i]; ++k)
      DUPLEX_RETURN_IF_ERROR(FlipBit(files[i], offset(rng), bit(rng)));
    note += (note.empty() ? "" : ", ") + std::to_string(per_file[i]) + " bit(s) in " +
            files[i].filename().string();
  }
  return note;
}

}  // namespace

StatusOr<std::string> CorruptStoreFiles(const std::string& store_dir, const std::string& files,
                                        int flips, uint64_t seed) {
  DUPLEX_ASSERT(files == "sst" || files == "wal" || files == "both", "a parsed files field", files);
  // A quarantine of an earlier corruption would be taken for the finding of this one.
  std::error_code ec;
  fs::remove_all(QuarantineDirOf(store_dir), ec);
  std::mt19937_64 rng(seed);
  const bool sst = files != "wal", wal = files != "sst";
  if (sst) DUPLEX_RETURN_IF_ERROR(FlushClosedStoreState(store_dir));
  std::string note;
  for (const char* suffix : {".sst", ".log"}) {
    const bool wanted = std::string(suffix) == ".sst" ? sst : wal;
    if (!wanted) continue;
    auto found = FilesEndingWith(store_dir, suffix);
    if (found.empty()) {
      return FailedPrecondition("no " + std::string(suffix) + " file with data in " + store_dir);
    }
    const int share =
        files == "both" ? (suffix == std::string(".sst") ? flips / 2 : flips - flips / 2) : flips;
    if (share == 0) continue;
    auto flipped = FlipIn(found, share, rng);
    if (!flipped.ok()) return flipped.status();
    note += (note.empty() ? "" : ", ") + *flipped;
  }
  return note;
}

bool CorruptionFound(const std::string& store_dir) {
  const fs::path dir = QuarantineDirOf(store_dir);
  std::error_code ec;
  return fs::exists(dir / "REASON", ec) || fs::exists(dir / "REASON.resynced", ec);
}

}  // namespace duplex
