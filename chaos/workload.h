// Workload: client threads that write to a cluster and record every operation
// (invoke, then ok / fail / info) so the history checker (chaos/checker.h) can prove
// nothing was lost or applied twice. Each client alternates PUT of a unique key and
// INCR of its own counter. Thread-safe: Start/Stop from one thread, reads of counters from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "chaos/checker.h"
#include "common/status.h"
#include "replica/client.h"

namespace duplex {

struct WorkloadOptions {
  std::vector<std::string> endpoints;
  // Every client's TLS files and password (admin_http.h ReplicaClientOptions); its endpoints
  // are replaced by the ones above.
  ClientOptions access;
  int clients = 3;
  int attempt_timeout_ms = 150;
  int deadline_ms = 10000;  // a request unanswered this long is recorded as info (unknown)
  std::string key_prefix = "w";
  int ops_per_client = 0;  // 0: until Stop()
  bool incr = true;        // alternate PUT and INCR (false: PUT only)
};

// The longest interval between consecutive times (acknowledgements) inside [from_us,
// to_us], the ends included, and where it began; times outside are ignored.
struct AckGap {
  int64_t length_us = 0;
  int64_t start_us = 0;
};
AckGap LongestGap(std::vector<int64_t> times, int64_t from_us, int64_t to_us);

class Workload {
 public:
  explicit Workload(WorkloadOptions options);
  ~Workload();

  void Start();
  void Stop();  // bounded by deadline_ms
  uint64_t acked() const { return acked_.load(); }
  // Waits until at least n operations were acknowledged in total (bounded).
  Status WaitAcked(uint64_t n, int timeout_ms) const;

  std::vector<OpRecord> History() const;
  // The first acknowledgement completed after t_us (e.g. a kill) by another replica
  // than `not_by` (the one killed; -1: any), or -1.
  int64_t FirstAckAfter(int64_t t_us, int not_by = -1) const;
  // The longest stretch inside [from_us, to_us] without an acknowledgement completing
  // (client-visible unavailability), and where it began.
  AckGap LongestAckGap(int64_t from_us, int64_t to_us) const;
  // Reads the final state through a fresh client and checks every record
  // (CheckHistory), spelling out the first ten problems.
  CheckResult Check() const;

 private:
  void RunClient(int index);

  WorkloadOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> acked_{0};
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  std::vector<OpRecord> history_;
};

}  // namespace duplex
