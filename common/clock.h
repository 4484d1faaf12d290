// Clock: the only source of time for the core. Daemons use SteadyClock; the
// simulator and tests drive a ManualClock. WallClock: calendar time, which a replica
// stamps on client requests; daemons use SystemWallClock. Thread-compatible.
#pragma once

#include <cstdint>

namespace duplex {

// Milliseconds on a monotonic scale; differences are meaningful, origins are not.
using TimeMs = int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimeMs NowMs() const = 0;
  virtual int64_t NowUs() const { return NowMs() * 1000; }
};

class SteadyClock final : public Clock {
 public:
  TimeMs NowMs() const override;
  int64_t NowUs() const override;
};

// SteadyClock's reading, for code that just needs "now" (harnesses, benchmarks, tools).
int64_t NowUs();
// Blocks the calling thread: for polls bounded by a deadline, never as synchronisation.
void SleepMs(int ms);

class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimeMs start = 0) : now_ms_(start) {}
  TimeMs NowMs() const override { return now_ms_; }
  void Advance(TimeMs delta_ms) { now_ms_ += delta_ms; }
  void Set(TimeMs now_ms) { now_ms_ = now_ms; }

 private:
  TimeMs now_ms_;
};

// Milliseconds since the Unix epoch: what a replica gives its processor as the time of a
// request, so that deadlines stored in the state mean the same on the other replica. A
// seam: chaos tests install a skewed one (chaos/hooks/skewed_clock.h).
class WallClock {
 public:
  virtual ~WallClock() = default;
  virtual int64_t NowMs() const = 0;
};

class SystemWallClock final : public WallClock {
 public:
  int64_t NowMs() const override;
};

}  // namespace duplex
