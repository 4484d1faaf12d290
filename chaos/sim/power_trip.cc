#include "chaos/sim/power_trip.h"

namespace duplex::sim {
namespace {

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

// A writable file whose changes count towards the trip.
class CountedFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  CountedFile(std::unique_ptr<rocksdb::FSWritableFile> target, PowerTrip& trip)
      : FSWritableFileOwnerWrapper(std::move(target)), trip_(trip) {}

  IOStatus Append(const Slice& data, const IOOptions& options, IODebugContext* dbg) override {
    trip_.Count();
    return target()->Append(data, options, dbg);
  }
  IOStatus Append(const Slice& data, const IOOptions& options,
                  const rocksdb::DataVerificationInfo& info, IODebugContext* dbg) override {
    trip_.Count();
    return target()->Append(data, options, info, dbg);
  }
  IOStatus Truncate(uint64_t size, const IOOptions& options, IODebugContext* dbg) override {
    trip_.Count();
    return target()->Truncate(size, options, dbg);
  }
  IOStatus Close(const IOOptions& options, IODebugContext* dbg) override {
    trip_.Count();
    return target()->Close(options, dbg);
  }
  IOStatus Sync(const IOOptions& options, IODebugContext* dbg) override {
    trip_.Count();
    return target()->Sync(options, dbg);
  }
  IOStatus Fsync(const IOOptions& options, IODebugContext* dbg) override {
    trip_.Count();
    return target()->Fsync(options, dbg);
  }

 private:
  PowerTrip& trip_;
};

IOStatus Counted(IOStatus opened, std::unique_ptr<rocksdb::FSWritableFile>* file, PowerTrip& trip) {
  if (opened.ok()) *file = std::make_unique<CountedFile>(std::move(*file), trip);
  return opened;
}

}  // namespace

IOStatus PowerTrip::NewWritableFile(const std::string& fname, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    IODebugContext* dbg) {
  if (fname.find("/OPTIONS-") != std::string::npos) {
    return IOStatus::NotSupported("the simulated disk keeps no RocksDB OPTIONS file");
  }
  Count();
  return Counted(target()->NewWritableFile(fname, options, result, dbg), result, *this);
}

IOStatus PowerTrip::ReopenWritableFile(const std::string& fname,
                                       const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       IODebugContext* dbg) {
  Count();
  return Counted(target()->ReopenWritableFile(fname, options, result, dbg), result, *this);
}

IOStatus PowerTrip::ReuseWritableFile(const std::string& fname, const std::string& old_fname,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      IODebugContext* dbg) {
  Count();
  return Counted(target()->ReuseWritableFile(fname, old_fname, options, result, dbg), result,
                 *this);
}

IOStatus PowerTrip::DeleteFile(const std::string& fname, const IOOptions& options,
                               IODebugContext* dbg) {
  Count();
  return target()->DeleteFile(fname, options, dbg);
}

IOStatus PowerTrip::RenameFile(const std::string& src, const std::string& dest,
                               const IOOptions& options, IODebugContext* dbg) {
  Count();
  return target()->RenameFile(src, dest, options, dbg);
}

}  // namespace duplex::sim
