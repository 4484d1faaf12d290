#include "chaos/workload.h"

#include <algorithm>
#include <chrono>

#include "common/clock.h"
#include "replica/client.h"

namespace duplex {

Workload::Workload(WorkloadOptions options) : options_(std::move(options)) {}

Workload::~Workload() { Stop(); }

void Workload::Start() {
  stop_ = false;
  for (int i = 0; i < options_.clients; ++i) threads_.emplace_back([this, i] { RunClient(i); });
}

void Workload::Stop() {
  stop_ = true;
  for (auto& t : threads_) t.join();
  threads_.clear();
}

Status Workload::WaitAcked(uint64_t n, int timeout_ms) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (acked_.load() < n) {
    if (std::chrono::steady_clock::now() > deadline) {
      return Unavailable("only " + std::to_string(acked_.load()) + " of " + std::to_string(n) +
                         " writes acknowledged within " + std::to_string(timeout_ms) + " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return Status::Ok();
}

void Workload::RunClient(int index) {
  ClientOptions co = options_.access;
  co.endpoints = options_.endpoints;
  co.attempt_timeout_ms = options_.attempt_timeout_ms;
  co.deadline_ms = options_.deadline_ms;
  Client client(co);
  std::string counter = options_.key_prefix + "-ctr-" + std::to_string(index);
  for (int n = 0; !stop_.load() && (options_.ops_per_client == 0 || n < options_.ops_per_client);
       ++n) {
    OpRecord rec;
    rec.client = index;
    bool put = !options_.incr || n % 2 == 0;
    rec.op = put ? "PUT" : "INCR";
    rec.key =
        put ? options_.key_prefix + "-" + std::to_string(index) + "-" + std::to_string(n) : counter;
    rec.value = put ? "v" + std::to_string(n) : "";
    rec.invoke_us = NowUs();
    CallStats stats;
    auto r = put ? client.Call("PUT", {rec.key, rec.value}, &stats)
                 : client.Call("INCR", {counter, "1"}, &stats);
    rec.complete_us = NowUs();
    rec.request_seq = client.last_request_seq();
    rec.attempts = stats.attempts;
    rec.answered_by = static_cast<int>(client.active_index());
    if (!r.ok()) {
      rec.outcome = OpOutcome::kInfo;  // unknown: it may or may not have been applied
    } else if (r->code == Code::kOk) {
      rec.outcome = OpOutcome::kOk;
      if (!put) rec.value = r->value;
      acked_.fetch_add(1);
    } else {
      rec.outcome = OpOutcome::kFail;
    }
    std::lock_guard lock(mu_);
    history_.push_back(std::move(rec));
  }
}

std::vector<OpRecord> Workload::History() const {
  std::lock_guard lock(mu_);
  return history_;
}

int64_t Workload::FirstAckAfter(int64_t t_us, int not_by) const {
  std::lock_guard lock(mu_);
  int64_t best = -1;
  for (const auto& r : history_) {
    if (r.outcome == OpOutcome::kOk && r.complete_us > t_us && r.answered_by != not_by &&
        (best < 0 || r.complete_us < best)) {
      best = r.complete_us;
    }
  }
  return best;
}

AckGap LongestGap(std::vector<int64_t> times, int64_t from_us, int64_t to_us) {
  std::erase_if(times, [&](int64_t t) { return t < from_us || t > to_us; });
  times.push_back(to_us);
  std::sort(times.begin(), times.end());
  AckGap gap;
  int64_t prev = from_us;
  for (int64_t t : times) {
    if (t - prev > gap.length_us) gap = {t - prev, prev};
    prev = t;
  }
  return gap;
}

AckGap Workload::LongestAckGap(int64_t from_us, int64_t to_us) const {
  std::vector<int64_t> acks;
  {
    std::lock_guard lock(mu_);
    for (const auto& r : history_) {
      if (r.outcome == OpOutcome::kOk) acks.push_back(r.complete_us);
    }
  }
  return LongestGap(std::move(acks), from_us, to_us);
}

CheckResult Workload::Check() const {
  ClientOptions co = options_.access;
  co.endpoints = options_.endpoints;
  co.deadline_ms = 20000;
  Client reader(co);
  auto read = [&reader](const std::string& key) -> std::optional<std::string> {
    auto got = reader.Call("GET", {key});
    if (!got.ok() || got->code != Code::kOk) return std::nullopt;
    return got->value;
  };
  return CheckHistory(History(), read, 10);
}

}  // namespace duplex
