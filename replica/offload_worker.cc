#include "replica/offload_worker.h"

#include <sys/resource.h>
#include <unistd.h>

#include <utility>

namespace duplex {

OffloadWorker::OffloadWorker() : thread_([this] { Loop(); }) {}

OffloadWorker::~OffloadWorker() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
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
  if (done_.empty()) return {};  // no read of the eventfd at every loop turn
  wake_.Clear();                 // under mu_: no reply slips past it
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
    wake_.Notify();
  }
}

}  // namespace duplex
