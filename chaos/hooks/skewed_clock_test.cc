#include "chaos/hooks/skewed_clock.h"

#include <gtest/gtest.h>

namespace duplex {
namespace {

TEST(SkewedWallClock, IsOffByTheOffsetTheFaultSettingsHold) {
  FaultEnv faults = MakeFaultEnv("");
  SkewedWallClock skewed(*faults.fs);
  SystemWallClock system;
  constexpr int64_t kHourMs = 3600 * 1000;
  faults.fs->Set({.clock_offset_ms = -kHourMs});
  int64_t before = system.NowMs();
  int64_t reading = skewed.NowMs();
  int64_t after = system.NowMs();
  EXPECT_GE(reading, before - kHourMs);
  EXPECT_LE(reading, after - kHourMs);
  faults.fs->Set({});
  before = system.NowMs();
  reading = skewed.NowMs();
  EXPECT_GE(reading, before);
}

}  // namespace
}  // namespace duplex
