#include "replica/offload_worker.h"

#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include "common/assert.h"

namespace duplex {

OffloadWorker::OffloadWorker()
    : wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)), thread_([this] { Loop(); }) {
  DUPLEX_ASSERT(wake_fd_ >= 0, "an eventfd for the offload worker", std::strerror(errno));
}

OffloadWorker::~OffloadWorker() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
  ::close(wake_fd_);
}

void OffloadWorker::Add(std::function<ToClient()> job) {
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

std::vector<ToClient> OffloadWorker::Done() {
  std::lock_guard lock(mu_);
  uint64_t count = 0;
  (void)::read(wake_fd_, &count, sizeof(count));  // under mu_: no reply slips past the reset
  return std::exchange(done_, {});
}

void OffloadWorker::Loop() {
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kNice);
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, and nothing left to do
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    ToClient reply = job();
    lock.lock();
    done_.push_back(std::move(reply));
    const uint64_t one = 1;
    (void)::write(wake_fd_, &one, sizeof(one));
  }
}

}  // namespace duplex
