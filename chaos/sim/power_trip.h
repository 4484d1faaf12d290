// PowerTrip: a file system layer over a replica's FaultFileSystem that cuts the power at
// its Nth change to the disk from when it is armed (a file created, appended to, synced,
// truncated, closed, renamed or deleted), so that a power cut can fall inside a flush or
// compaction, which the simulator runs as one event (Processes::Compact). It also refuses
// RocksDB's OPTIONS files, which RocksDB writes, reads back and compares at every open (a
// tenth of a simulated run) and never needs: a store opens without one. Owned by the
// replica's slot, beside its disk; armed and disarmed on the simulation's thread, counted
// on RocksDB's job thread while the simulation waits for the job.
#pragma once

#include <rocksdb/file_system.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "chaos/hooks/fault_fs.h"

namespace duplex::sim {

class PowerTrip final : public rocksdb::FileSystemWrapper {
 public:
  explicit PowerTrip(const std::shared_ptr<FaultFileSystem>& disk)
      : FileSystemWrapper(disk), disk_(disk) {}

  static const char* kClassName() { return "DuplexSimPowerTrip"; }
  const char* Name() const override { return kClassName(); }

  // The power goes at the `changes`th change from now (>= 1), unless disarmed first.
  void Arm(uint64_t changes) { left_ = changes; }
  // Disarms it; whether it cut the power since it was armed (the power stays cut).
  bool Disarm() {
    left_ = 0;
    return tripped_.exchange(false);
  }
  // One change to the disk is about to be made: the power goes first, at the armed count.
  void Count() {
    if (left_.load() > 0 && --left_ == 0) {
      disk_->CutPower();
      tripped_ = true;
    }
  }

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
  rocksdb::IOStatus DeleteFile(const std::string& fname, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& dest,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;

 private:
  std::shared_ptr<FaultFileSystem> disk_;
  std::atomic<uint64_t> left_{0};  // changes until the power goes; 0: disarmed
  std::atomic<bool> tripped_{false};
};

}  // namespace duplex::sim
