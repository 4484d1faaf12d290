#include "common/wakeup.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "common/assert.h"

namespace duplex {

int PollWaitMs(int64_t deadline_us, int64_t now_us, int wait_max_ms) {
  const int64_t wait_us = std::clamp<int64_t>(deadline_us - now_us, 0, int64_t{wait_max_ms} * 1000);
  return static_cast<int>((wait_us + 999) / 1000);
}

Wakeup::Wakeup() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  DUPLEX_ASSERT(fd_ >= 0, "an eventfd to wake a loop", std::strerror(errno));
}

Wakeup::~Wakeup() { ::close(fd_); }

void Wakeup::Notify() {
  const uint64_t one = 1;
  (void)::write(fd_, &one, sizeof(one));  // only fails when the counter is full: still readable
}

void Wakeup::Clear() {
  uint64_t count = 0;
  (void)::read(fd_, &count, sizeof(count));  // EAGAIN when nothing was notified
}

}  // namespace duplex
