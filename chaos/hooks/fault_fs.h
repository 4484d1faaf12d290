// FaultFileSystem: a RocksDB FileSystem that injects storage faults on demand, for the
// chaos harness (which runs real replica processes) and for in-process tests.
//  - Write errors: appends, syncs and the creation of writable files fail with NoSpace or
//    IOError; or only syncs fail.
//  - Slow disk: every Sync/Fsync of a writable file waits sync_delay_ms before it runs (as
//    an fsync queued behind a busy device does); appends and reads are not slowed.
//  - Power loss: bytes appended to writable files are held in this process's memory and
//    reach the OS only on Sync/Fsync/Close, so a SIGKILL drops whatever was not synced,
//    as a power cut drops unsynced page cache.
// Limits, by design:
//  - Close counts as durable (held bytes are written out, not synced). A deliberate
//    weakening: RocksDB syncs SST and MANIFEST files before closing them, but a WAL of
//    unsynced writes that is closed (at shutdown, say) keeps them.
//  - Directory entries (creates, renames, deletes) are not tracked: they survive a kill.
//  - Only writable files are faulted: reads, directory fsyncs, NewRandomRWFile and the info
//    LOG are not. PositionedAppend (direct I/O only) writes held bytes out first and is
//    never held. RangeSync is a write-back hint in RocksDB, never a durability point, so it
//    leaves held bytes held.
//  - FileSystem::GetFileSize and reads see what reached the OS; a writable file's own
//    GetFileSize counts its held bytes too, as RocksDB's writer expects.
// Thread-safe: RocksDB calls it from its write, flush and compaction threads.
#pragma once

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"

namespace duplex {

struct FaultSettings {
  enum class WriteError { kNone, kNoSpace, kIoError };
  WriteError write_error = WriteError::kNone;
  bool sync_only = false;   // only Sync/Fsync/RangeSync fail; appends and new files work
  bool power_loss = false;  // hold appended bytes in memory until Sync/Fsync/Close
  // Each Sync/Fsync sleeps this long first (0..kSyncDelayMsMax); in the calling thread, so
  // never in the simulator, which must not sleep.
  int64_t sync_delay_ms = 0;
  // Not storage: the replica's wall clock (what its processor reads) is off by this much,
  // so that one control file per replica carries every injected fault.
  int64_t clock_offset_ms = 0;
  bool operator==(const FaultSettings&) const = default;
};

// A sync delay above this is refused: a disk that slow is a dead one (use write errors).
inline constexpr int64_t kSyncDelayMsMax = 10000;

// The control file's text: one `key=value` a line, keys write_error (off|nospace|ioerror),
// sync_only (0|1), power_loss (0|1), sync_delay_ms (0..kSyncDelayMsMax), clock_offset_ms (an
// integer, may be negative); blank
// lines and lines starting with '#' are skipped;
// a key left out keeps its default. Errors name the line, the key and the value.
StatusOr<FaultSettings> ParseFaultSettings(std::string_view text);
// Every key, one a line; ParseFaultSettings(FormatFaultSettings(s)) == s.
std::string FormatFaultSettings(const FaultSettings& settings);

struct FaultCounters {
  uint64_t injected_errors = 0;  // operations failed on purpose
  uint64_t held_bytes = 0;       // appended in power-loss mode, not yet written out
  uint64_t malformed_lines = 0;  // control file lines reported and ignored
  uint64_t delayed_syncs = 0;    // syncs slowed by sync_delay_ms
};

class FaultFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  // How often the control file is stat()ed at most, on the thread doing file I/O.
  static constexpr TimeMs kControlCheckMs = 20;
  // Bytes read from the control file at most; the rest is reported and ignored.
  static constexpr size_t kControlFileBytesMax = 4096;

  // control_file: a path the harness writes (empty = settings only through Set()). It is
  // re-read whenever its mtime, size or inode change; a missing file means no faults. A
  // change of the file, or its removal, replaces whatever Set() installed. The harness
  // should write a temporary file and rename it over the path, so no half-written file
  // is ever read.
  FaultFileSystem(const std::shared_ptr<rocksdb::FileSystem>& target, std::string control_file);

  static const char* kClassName() { return "DuplexFaultFileSystem"; }
  const char* Name() const override { return kClassName(); }

  void Set(const FaultSettings& settings);
  // In-process power loss (the simulator): from CutPower until RestorePower, held bytes are
  // dropped instead of written out, and new appends vanish. Cut, then close the store
  // (its closing writes vanish too), then restore before reopening it.
  void CutPower() { power_cut_ = true; }
  void RestorePower() { power_cut_ = false; }
  // The settings in force, after re-reading the control file if it is due.
  FaultSettings settings();
  FaultCounters counters() const;

  rocksdb::IOStatus NewWritableFile(const std::string& fname, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& fname,
                                       const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override;
  // While the power is cut nothing reaches the disk: besides appends, the file system's
  // own changes (deleting, renaming, linking, truncating files, making directories) fail,
  // so a flush or compaction cut off mid-way cannot delete the files it replaces.
  rocksdb::IOStatus DeleteFile(const std::string& fname, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& dest,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus LinkFile(const std::string& src, const std::string& dest,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus Truncate(const std::string& fname, size_t size,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus CreateDir(const std::string& dirname, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus CreateDirIfMissing(const std::string& dirname,
                                       const rocksdb::IOOptions& options,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteDir(const std::string& dirname, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override;

 private:
  friend class FaultWritableFile;
  enum class Op { kWrite, kSync };

  // An error while the power is cut, else OK.
  rocksdb::IOStatus PowerCheck() const;
  // `change` (a change to the disk), unless the power is cut.
  template <typename Change>
  rocksdb::IOStatus Powered(Change change) const {
    rocksdb::IOStatus s = PowerCheck();
    return s.ok() ? change() : s;
  }
  // Whether a file may be created now: the power is on and no write error is injected.
  rocksdb::IOStatus MayCreate();
  // The injected error for `op` under `settings`, or OK.
  rocksdb::IOStatus MaybeFail(const FaultSettings& settings, Op op);
  rocksdb::IOStatus Wrap(rocksdb::IOStatus opened, std::unique_ptr<rocksdb::FSWritableFile>* file);
  void ReloadIfChangedLocked();

  // What identifies one version of the control file.
  struct FileStamp {
    bool exists = false;
    uint64_t inode = 0;
    int64_t size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const FileStamp&) const = default;
  };

  const std::string control_file_;
  SteadyClock clock_;
  std::mutex mu_;  // guards the fields below
  FaultSettings settings_;
  FileStamp stamp_;
  TimeMs last_check_ms_ = 0;
  std::atomic<uint64_t> injected_errors_{0};
  std::atomic<uint64_t> held_bytes_{0};
  std::atomic<uint64_t> malformed_lines_{0};
  std::atomic<uint64_t> delayed_syncs_{0};
  std::atomic<bool> power_cut_{false};
};

// An Env over a FaultFileSystem, for StoreOptions::env. Keep it alive until every DB
// opened with it is closed.
struct FaultEnv {
  std::shared_ptr<FaultFileSystem> fs;
  std::unique_ptr<rocksdb::Env> env;
};
FaultEnv MakeFaultEnv(const std::string& control_file);

}  // namespace duplex
