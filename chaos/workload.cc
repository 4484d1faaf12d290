#include "chaos/workload.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <random>

#include "common/clock.h"
#include "replica/client.h"

namespace duplex {

Workload::Workload(WorkloadOptions options) : options_(std::move(options)) {}

Workload::~Workload() { Stop(); }

void Workload::Start() {
  stop_ = false;
  for (int i = 0; i < options_.clients + options_.readers; ++i) {
    threads_.emplace_back([this, i] { RunClient(i); });
  }
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

std::string HotKey(const std::string& prefix, int i) {
  return prefix + "-hot-" + std::to_string(i);
}

namespace {

bool IsWrite(const OpRecord& r) { return r.op != "GET"; }

// Between a reader's reads (WorkloadOptions::readers).
constexpr int kReaderPauseMs = 1;

// Sends the record's request and fills in its outcome: unknown when no replica answered
// within the deadline, ok (a GET's "not found" included, as absent), or fail when the
// answer refused it (then it was not applied).
void Execute(Client& client, const std::vector<std::string>& args, OpRecord* rec) {
  rec->invoke_us = NowUs();
  CallStats stats;
  auto r = client.Call(rec->op, args, &stats);
  rec->complete_us = NowUs();
  rec->request_seq = client.last_request_seq();
  rec->attempts = stats.attempts;
  rec->answered_by = static_cast<int>(client.active_index());
  if (!r.ok()) {
    rec->outcome = OpOutcome::kInfo;  // unknown: it may or may not have been applied
  } else if (r->code == Code::kOk) {
    rec->outcome = OpOutcome::kOk;
    if (rec->op != "PUT") rec->value = r->value;
  } else if (r->code == Code::kNotFound && rec->op == "GET") {
    rec->outcome = OpOutcome::kOk;
    rec->absent = true;
  } else {
    rec->outcome = OpOutcome::kFail;
  }
}

}  // namespace

OpRecord Workload::HotOp(Client& client, int index, int n, unsigned draw, bool read_only) const {
  OpRecord rec;
  rec.client = index;
  rec.hot = true;
  rec.key = HotKey(options_.key_prefix, static_cast<int>(draw % options_.hot_keys));
  // Reads are the most frequent, as in Jepsen's register workloads; DEL is rare so that the
  // keys mostly hold values for INCR to build on.
  const unsigned kind = read_only ? 0 : (draw / 7) % 20;
  std::vector<std::string> args;
  if (kind < 8) {
    rec.op = "GET";
  } else if (kind < 13) {
    rec.op = "PUT";
    rec.value = std::to_string(static_cast<int64_t>(index) * 1000000 + n);
    args = {rec.value};
  } else if (kind < 18) {
    rec.op = "INCR";
    args = {"1"};
  } else {
    rec.op = "DEL";
  }
  args.insert(args.begin(), rec.key);
  Execute(client, args, &rec);
  return rec;
}

void Workload::Record(OpRecord rec) {
  if (rec.outcome == OpOutcome::kOk && IsWrite(rec)) acked_.fetch_add(1);
  std::lock_guard lock(mu_);
  history_.push_back(std::move(rec));
}

std::vector<std::string> Workload::EndpointsOf(int index) const {
  if (options_.pin_readers < 0) return options_.endpoints;
  const bool reader = index >= options_.clients;
  std::vector<std::string> known;
  for (size_t i = 0; i < options_.endpoints.size(); ++i) {
    if ((static_cast<int>(i) == options_.pin_readers) == reader) {
      known.push_back(options_.endpoints[i]);
    }
  }
  return known;
}

void Workload::RunClient(int index) {
  ClientOptions co = options_.access;
  co.endpoints = EndpointsOf(index);
  co.attempt_timeout_ms = options_.attempt_timeout_ms;
  co.deadline_ms = options_.deadline_ms;
  Client client(co);
  std::mt19937 rng(static_cast<uint32_t>(options_.seed * 1009 + static_cast<uint64_t>(index)));
  std::string counter = options_.key_prefix + "-ctr-" + std::to_string(index);
  const bool hot = options_.hot_keys > 0;
  const bool reader = index >= options_.clients;
  for (int n = 0; !stop_.load() && (options_.ops_per_client == 0 || n < options_.ops_per_client);
       ++n) {
    if (hot && (reader || n % 2 == 1)) {
      Record(HotOp(client, index, n, static_cast<unsigned>(rng()), reader));
      // A reader polls: an answer is cheap, and without a pause it would fill the history
      // (tens of thousands of reads a second) and a core.
      if (reader) std::this_thread::sleep_for(std::chrono::milliseconds(kReaderPauseMs));
      continue;
    }
    const int m = hot ? n / 2 : n;  // the own operations are numbered as without hot keys
    OpRecord rec;
    rec.client = index;
    bool put = !options_.incr || m % 2 == 0;
    rec.op = put ? "PUT" : "INCR";
    rec.key =
        put ? options_.key_prefix + "-" + std::to_string(index) + "-" + std::to_string(m) : counter;
    rec.value = put ? "v" + std::to_string(m) : "";
    Execute(
        client,
        put ? std::vector<std::string>{rec.key, rec.value} : std::vector<std::string>{counter, "1"},
        &rec);
    Record(std::move(rec));
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
    if (r.outcome == OpOutcome::kOk && IsWrite(r) && r.complete_us > t_us &&
        r.answered_by != not_by && (best < 0 || r.complete_us < best)) {
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
      if (r.outcome == OpOutcome::kOk && IsWrite(r)) acks.push_back(r.complete_us);
    }
  }
  return LongestGap(std::move(acks), from_us, to_us);
}

ReadValue Workload::FinalReader() const {
  ClientOptions co = options_.access;
  co.endpoints = options_.endpoints;
  co.deadline_ms = 20000;
  auto reader = std::make_shared<Client>(co);
  auto seen = std::make_shared<std::map<std::string, std::optional<std::string>>>();
  return [reader, seen](const std::string& key) -> std::optional<std::string> {
    auto it = seen->find(key);
    if (it != seen->end()) return it->second;
    std::optional<std::string> value;
    auto got = reader->Call("GET", {key});
    if (got.ok() && got->code == Code::kOk) value = got->value;
    seen->emplace(key, value);
    return value;
  };
}

CheckResult Workload::Check() const { return Check(FinalReader()); }

CheckResult Workload::Check(const ReadValue& read) const {
  return CheckHistory(History(), read, 10);
}

}  // namespace duplex
