// SkewedWallClock: the system's wall clock off by the clock_offset_ms of a fault control
// file (fault_fs.h), so that one file per replica carries every fault the chaos harness
// injects into it. Built by the replica's wiring when it is given --fault-file; reads the
// FaultFileSystem's settings, so it is as thread-safe as they are.
#pragma once

#include "chaos/hooks/fault_fs.h"
#include "common/clock.h"

namespace duplex {

class SkewedWallClock final : public WallClock {
 public:
  // `faults` must outlive the clock.
  explicit SkewedWallClock(FaultFileSystem& faults) : faults_(faults) {}
  int64_t NowMs() const override { return system_.NowMs() + faults_.settings().clock_offset_ms; }

 private:
  SystemWallClock system_;
  FaultFileSystem& faults_;
};

}  // namespace duplex
