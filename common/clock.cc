#include "common/clock.h"

#include <chrono>
#include <thread>

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

void SleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

}  // namespace duplex
