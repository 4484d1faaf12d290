#include "chaos/hooks/fault_fs.h"

#include <sys/stat.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <thread>
#include <vector>

namespace duplex {
namespace {

using rocksdb::IOStatus;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::optional<bool> ParseBit(std::string_view value) {
  if (value == "0") return false;
  if (value == "1") return true;
  return std::nullopt;
}

// Applies every well-formed line of `text` to `out`; returns one message per bad line.
std::vector<std::string> ParseLines(std::string_view text, FaultSettings& out) {
  std::vector<std::string> errors;
  int number = 0;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = Trim(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++number;
    if (line.empty() || line.front() == '#') continue;
    std::string where = "line " + std::to_string(number) + ": ";
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      errors.push_back(where + "expected key=value, got '" + std::string(line) + "'");
      continue;
    }
    std::string key(Trim(line.substr(0, eq)));
    std::string value(Trim(line.substr(eq + 1)));
    std::string bad_value = where + key + ": '" + value + "' is not ";
    if (key == "write_error") {
      using E = FaultSettings::WriteError;
      if (value == "off") {
        out.write_error = E::kNone;
      } else if (value == "nospace") {
        out.write_error = E::kNoSpace;
      } else if (value == "ioerror") {
        out.write_error = E::kIoError;
      } else {
        errors.push_back(bad_value + "off, nospace or ioerror");
      }
    } else if (key == "sync_only" || key == "power_loss") {
      std::optional<bool> bit = ParseBit(value);
      if (!bit) {
        errors.push_back(bad_value + "0 or 1");
      } else {
        (key == "sync_only" ? out.sync_only : out.power_loss) = *bit;
      }
    } else if (key == "sync_delay_ms") {
      int64_t ms = 0;
      auto [end_of_number, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
      if (ec != std::errc() || end_of_number != value.data() + value.size() || value.empty() ||
          ms < 0 || ms > kSyncDelayMsMax) {
        errors.push_back(bad_value + "a whole number of milliseconds in 0.." +
                         std::to_string(kSyncDelayMsMax));
      } else {
        out.sync_delay_ms = ms;
      }
    } else if (key == "clock_offset_ms") {
      int64_t ms = 0;
      auto [end_of_number, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
      if (ec != std::errc() || end_of_number != value.data() + value.size() || value.empty()) {
        errors.push_back(bad_value + "a whole number of milliseconds");
      } else {
        out.clock_offset_ms = ms;
      }
    } else {
      errors.push_back(where + "unknown key '" + key + "' in '" + std::string(line) + "'");
    }
  }
  return errors;
}

}  // namespace

StatusOr<FaultSettings> ParseFaultSettings(std::string_view text) {
  FaultSettings settings;
  std::vector<std::string> errors = ParseLines(text, settings);
  if (!errors.empty()) return InvalidArgument(errors.front());
  return settings;
}

std::string FormatFaultSettings(const FaultSettings& settings) {
  using E = FaultSettings::WriteError;
  const char* write_error = settings.write_error == E::kNoSpace   ? "nospace"
                            : settings.write_error == E::kIoError ? "ioerror"
                                                                  : "off";
  return std::string("write_error=") + write_error +
         "\nsync_only=" + (settings.sync_only ? "1" : "0") +
         "\npower_loss=" + (settings.power_loss ? "1" : "0") +
         "\nsync_delay_ms=" + std::to_string(settings.sync_delay_ms) +
         "\nclock_offset_ms=" + std::to_string(settings.clock_offset_ms) + "\n";
}

// A writable file that fails on demand and, in power-loss mode, holds appended bytes in
// `held_` until Sync/Fsync/Close. Calls on one file may come from two threads (RocksDB
// syncs a WAL from another thread when IsSyncThreadSafe()), hence the mutex.
class FaultWritableFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  using IOOptions = rocksdb::IOOptions;
  using IODebugContext = rocksdb::IODebugContext;
  using Slice = rocksdb::Slice;

  FaultWritableFile(std::unique_ptr<rocksdb::FSWritableFile> target, FaultFileSystem& fs)
      : FSWritableFileOwnerWrapper(std::move(target)), fs_(fs) {}

  // A file dropped without Close (RocksDB closes its files, so only on odd error paths)
  // keeps its bytes, as the OS would.
  ~FaultWritableFile() override {
    std::lock_guard lock(mu_);
    if (!closed_) WriteOutLocked(IOOptions(), nullptr).PermitUncheckedError();
  }

  IOStatus Append(const Slice& data, const IOOptions& options, IODebugContext* dbg) override {
    FaultSettings settings = fs_.settings();
    IOStatus s = fs_.MaybeFail(settings, FaultFileSystem::Op::kWrite);
    if (!s.ok()) return s;
    std::lock_guard lock(mu_);
    if (fs_.power_cut_) return IOStatus::OK();  // written by a dying process: never lands
    if (settings.power_loss) {
      held_.append(data.data(), data.size());
      fs_.held_bytes_ += data.size();
      return IOStatus::OK();
    }
    s = WriteOutLocked(options, dbg);
    return s.ok() ? target()->Append(data, options, dbg) : s;
  }
  // The checksum hand-off is not used by this file system: the plain Append does the work.
  IOStatus Append(const Slice& data, const IOOptions& options,
                  const rocksdb::DataVerificationInfo& /*info*/, IODebugContext* dbg) override {
    return Append(data, options, dbg);
  }

  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& options,
                            IODebugContext* dbg) override {
    IOStatus s = fs_.MaybeFail(fs_.settings(), FaultFileSystem::Op::kWrite);
    if (!s.ok()) return s;
    std::lock_guard lock(mu_);
    s = WriteOutLocked(options, dbg);
    return s.ok() ? target()->PositionedAppend(data, offset, options, dbg) : s;
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& options,
                            const rocksdb::DataVerificationInfo& /*info*/,
                            IODebugContext* dbg) override {
    return PositionedAppend(data, offset, options, dbg);
  }

  IOStatus Sync(const IOOptions& options, IODebugContext* dbg) override {
    return SyncWith(options, dbg, [&] { return target()->Sync(options, dbg); });
  }
  IOStatus Fsync(const IOOptions& options, IODebugContext* dbg) override {
    return SyncWith(options, dbg, [&] { return target()->Fsync(options, dbg); });
  }
  IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const IOOptions& options,
                     IODebugContext* dbg) override {
    IOStatus s = fs_.MaybeFail(fs_.settings(), FaultFileSystem::Op::kSync);
    return s.ok() ? target()->RangeSync(offset, nbytes, options, dbg) : s;
  }

  // Flush hands bytes to the OS, which is exactly what power-loss mode holds back.
  IOStatus Flush(const IOOptions& options, IODebugContext* dbg) override {
    bool power_loss = fs_.settings().power_loss;
    std::lock_guard lock(mu_);
    IOStatus s = power_loss ? IOStatus::OK() : WriteOutLocked(options, dbg);
    return s.ok() ? target()->Flush(options, dbg) : s;
  }

  IOStatus Truncate(uint64_t size, const IOOptions& options, IODebugContext* dbg) override {
    std::lock_guard lock(mu_);
    IOStatus s = WriteOutLocked(options, dbg);
    return s.ok() ? target()->Truncate(size, options, dbg) : s;
  }

  // Closing counts as durable: see the header.
  IOStatus Close(const IOOptions& options, IODebugContext* dbg) override {
    FaultSettings settings = fs_.settings();
    std::lock_guard lock(mu_);
    IOStatus written;
    if (!held_.empty()) written = fs_.MaybeFail(settings, FaultFileSystem::Op::kWrite);
    if (written.ok()) {
      written = WriteOutLocked(options, dbg);
    } else {
      DropHeldLocked();  // a full disk takes nothing more
    }
    closed_ = true;
    IOStatus closed = target()->Close(options, dbg);
    return written.ok() ? closed : written;
  }

  uint64_t GetFileSize(const IOOptions& options, IODebugContext* dbg) override {
    std::lock_guard lock(mu_);
    return target()->GetFileSize(options, dbg) + held_.size();
  }

 private:
  template <typename SyncFn>
  IOStatus SyncWith(const IOOptions& options, IODebugContext* dbg, SyncFn sync) {
    const FaultSettings settings = fs_.settings();
    IOStatus s = fs_.MaybeFail(settings, FaultFileSystem::Op::kSync);
    if (!s.ok()) return s;  // held bytes stay held: a failed sync made nothing durable
    if (settings.sync_delay_ms > 0) {
      // A slow device: the sync (and the commit waiting for it) takes this much longer.
      ++fs_.delayed_syncs_;
      std::this_thread::sleep_for(std::chrono::milliseconds(settings.sync_delay_ms));
    }
    {
      // Appends may go on while the target syncs; the sync covers what was written out.
      std::lock_guard lock(mu_);
      s = WriteOutLocked(options, dbg);
    }
    return s.ok() ? sync() : s;
  }

  IOStatus WriteOutLocked(const IOOptions& options, IODebugContext* dbg) {
    if (held_.empty()) return IOStatus::OK();
    if (fs_.power_cut_) {  // the machine is off: what was not synced is gone
      DropHeldLocked();
      return IOStatus::OK();
    }
    IOStatus s = target()->Append(held_, options, dbg);
    DropHeldLocked();
    return s;
  }

  void DropHeldLocked() {
    fs_.held_bytes_ -= held_.size();
    held_.clear();
  }

  FaultFileSystem& fs_;
  std::mutex mu_;  // guards held_ and closed_, and orders writes to the target
  std::string held_;
  bool closed_ = false;
};

FaultFileSystem::FaultFileSystem(const std::shared_ptr<rocksdb::FileSystem>& target,
                                 std::string control_file)
    : FileSystemWrapper(target), control_file_(std::move(control_file)) {
  // A control file written before the process started applies from the first operation.
  std::lock_guard lock(mu_);
  if (!control_file_.empty()) ReloadIfChangedLocked();
  last_check_ms_ = clock_.NowMs();
}

void FaultFileSystem::Set(const FaultSettings& settings) {
  std::lock_guard lock(mu_);
  settings_ = settings;
}

FaultSettings FaultFileSystem::settings() {
  std::lock_guard lock(mu_);
  if (!control_file_.empty()) {
    TimeMs now = clock_.NowMs();
    if (now - last_check_ms_ >= kControlCheckMs) {
      last_check_ms_ = now;
      ReloadIfChangedLocked();
    }
  }
  return settings_;
}

FaultCounters FaultFileSystem::counters() const {
  return {injected_errors_.load(), held_bytes_.load(), malformed_lines_.load(),
          delayed_syncs_.load()};
}

void FaultFileSystem::ReloadIfChangedLocked() {
  FileStamp stamp;
  struct stat st {};
  if (::stat(control_file_.c_str(), &st) == 0) {
    stamp = {true, static_cast<uint64_t>(st.st_ino), static_cast<int64_t>(st.st_size),
             static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
  }
  if (stamp == stamp_) return;
  stamp_ = stamp;
  settings_ = FaultSettings();  // a missing or unreadable file means no faults
  std::ifstream in(control_file_, std::ios::binary);
  if (!stamp.exists || !in) return;
  std::string text(kControlFileBytesMax + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kControlFileBytesMax) {
    text.resize(kControlFileBytesMax);
    std::fprintf(stderr, "fault_fs: %s: longer than %zu bytes; the rest is ignored\n",
                 control_file_.c_str(), kControlFileBytesMax);
  }
  // Each version of the file is read once, so each bad line is reported once.
  for (const std::string& error : ParseLines(text, settings_)) {
    ++malformed_lines_;
    std::fprintf(stderr, "fault_fs: %s: %s; ignored\n", control_file_.c_str(), error.c_str());
  }
}

IOStatus FaultFileSystem::MaybeFail(const FaultSettings& settings, Op op) {
  using E = FaultSettings::WriteError;
  if (settings.write_error == E::kNone || (op == Op::kWrite && settings.sync_only)) {
    return IOStatus::OK();
  }
  ++injected_errors_;
  return settings.write_error == E::kNoSpace
             ? IOStatus::NoSpace("fault injection: no space left on device")
             : IOStatus::IOError("fault injection: I/O error");
}

IOStatus FaultFileSystem::Wrap(IOStatus opened, std::unique_ptr<rocksdb::FSWritableFile>* file) {
  if (opened.ok()) *file = std::make_unique<FaultWritableFile>(std::move(*file), *this);
  return opened;
}

IOStatus FaultFileSystem::NewWritableFile(const std::string& fname,
                                          const rocksdb::FileOptions& options,
                                          std::unique_ptr<rocksdb::FSWritableFile>* result,
                                          rocksdb::IODebugContext* dbg) {
  IOStatus s = MayCreate();
  if (!s.ok()) return s;
  return Wrap(target()->NewWritableFile(fname, options, result, dbg), result);
}

IOStatus FaultFileSystem::ReopenWritableFile(const std::string& fname,
                                             const rocksdb::FileOptions& options,
                                             std::unique_ptr<rocksdb::FSWritableFile>* result,
                                             rocksdb::IODebugContext* dbg) {
  IOStatus s = MayCreate();
  if (!s.ok()) return s;
  return Wrap(target()->ReopenWritableFile(fname, options, result, dbg), result);
}

IOStatus FaultFileSystem::ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                            const rocksdb::FileOptions& options,
                                            std::unique_ptr<rocksdb::FSWritableFile>* result,
                                            rocksdb::IODebugContext* dbg) {
  IOStatus s = MayCreate();
  if (!s.ok()) return s;
  return Wrap(target()->ReuseWritableFile(fname, old_fname, options, result, dbg), result);
}

IOStatus FaultFileSystem::PowerCheck() const {
  return power_cut_ ? IOStatus::IOError("fault injection: the power is off") : IOStatus::OK();
}

IOStatus FaultFileSystem::MayCreate() {
  IOStatus s = PowerCheck();
  return s.ok() ? MaybeFail(settings(), Op::kWrite) : s;
}

IOStatus FaultFileSystem::DeleteFile(const std::string& fname, const rocksdb::IOOptions& options,
                                     rocksdb::IODebugContext* dbg) {
  return Powered([&] { return target()->DeleteFile(fname, options, dbg); });
}

IOStatus FaultFileSystem::RenameFile(const std::string& src, const std::string& dest,
                                     const rocksdb::IOOptions& options,
                                     rocksdb::IODebugContext* dbg) {
  return Powered([&] { return target()->RenameFile(src, dest, options, dbg); });
}

IOStatus FaultFileSystem::LinkFile(const std::string& src, const std::string& dest,
                                   const rocksdb::IOOptions& options,
                                   rocksdb::IODebugContext* dbg) {
  return Powered([&] { return target()->LinkFile(src, dest, options, dbg); });
}

IOStatus FaultFileSystem::Truncate(const std::string& fname, size_t size,
                                   const rocksdb::IOOptions& options,
                                   rocksdb::IODebugContext* dbg) {
  return Powered([&] { return target()->Truncate(fname, size, options, dbg); });
}

IOStatus FaultFileSystem::CreateDir(const std::string& dirname, const rocksdb::IOOptions& options,
                                    rocksdb::IODebugContext* dbg) {
  return Powered([&] { return target()->CreateDir(dirname, options, dbg); });
}

IOStatus FaultFileSystem::CreateDirIfMissing(const std::string& dirname,
                                             const rocksdb::IOOptions& options,
                                             rocksdb::IODebugContext* dbg) {
  return Powered([&] { return target()->CreateDirIfMissing(dirname, options, dbg); });
}

IOStatus FaultFileSystem::DeleteDir(const std::string& dirname, const rocksdb::IOOptions& options,
                                    rocksdb::IODebugContext* dbg) {
  return Powered([&] { return target()->DeleteDir(dirname, options, dbg); });
}

FaultEnv MakeFaultEnv(const std::string& control_file) {
  FaultEnv out;
  out.fs = std::make_shared<FaultFileSystem>(rocksdb::FileSystem::Default(), control_file);
  out.env = rocksdb::NewCompositeEnv(out.fs);
  return out;
}

}  // namespace duplex
