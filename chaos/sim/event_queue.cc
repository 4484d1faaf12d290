#include "chaos/sim/event_queue.h"

#include <algorithm>

namespace duplex::sim {

void EventQueue::At(int64_t at_us, std::function<void()> fn) {
  queue_.push(Event{std::max(at_us, now_), next_seq_++, std::move(fn)});
}

void EventQueue::After(int64_t delay_us, std::function<void()> fn) {
  At(now_ + delay_us, std::move(fn));
}

void EventQueue::Every(int64_t period_us, std::function<bool()> fn) {
  After(period_us, [this, period_us, fn] {
    if (fn()) Every(period_us, fn);
  });
}

void EventQueue::RunUntil(int64_t until_us) {
  while (!queue_.empty() && queue_.top().at <= until_us) {
    Event e = queue_.top();
    queue_.pop();
    now_ = e.at;
    ++processed_;
    e.fn();
  }
  now_ = std::max(now_, until_us);
}

}  // namespace duplex::sim
