#include "chaos/sim/event_queue.h"

#include <algorithm>

namespace duplex::sim {

void EventQueue::At(int64_t at_us, std::function<void()> fn) {
  heap_.push_back(Event{std::max(at_us, now_), next_seq_++, std::move(fn)});
  std::push_heap(heap_.begin(), heap_.end(), std::greater<Event>());
}

void EventQueue::After(int64_t delay_us, std::function<void()> fn) {
  At(now_ + delay_us, std::move(fn));
}

void EventQueue::Every(int64_t period_us, std::function<bool()> fn) {
  After(period_us, [this, period_us, fn = std::move(fn)]() mutable {
    if (fn()) Every(period_us, std::move(fn));
  });
}

void EventQueue::RunUntil(int64_t until_us) {
  while (!heap_.empty() && heap_.front().at <= until_us) {
    std::pop_heap(heap_.begin(), heap_.end(), std::greater<Event>());
    Event e = std::move(heap_.back());
    heap_.pop_back();
    now_ = e.at;
    ++processed_;
    e.fn();
  }
  now_ = std::max(now_, until_us);
}

}  // namespace duplex::sim
