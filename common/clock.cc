#include "common/clock.h"

#include <chrono>

namespace duplex {

TimeMs SteadyClock::NowMs() const { return NowUs() / 1000; }

int64_t SteadyClock::NowUs() const { return duplex::NowUs(); }

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t SystemWallClock::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace duplex
