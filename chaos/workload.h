// Workload: client threads that write to a cluster and record every operation
// (invoke, then ok / fail / info) so the history checker (chaos/checker.h) can prove
// nothing was lost or applied twice, and the linearizability checker that every read saw
// what it should. Each client alternates PUT of a unique key and INCR of its own counter,
// and between them runs GET, PUT, DEL and INCR on a few keys all clients share (the hot
// keys: contention); readers only read them. Thread-safe: Start/Stop from one thread, reads of
// counters from any.
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
  // Every other operation goes to one of this many shared keys, <key_prefix>-hot-<i>
  // (0: none). A hot PUT writes a decimal integer unique per (client, op), so that a hot
  // INCR always applies.
  int hot_keys = 3;
  uint64_t seed = 1;  // the hot operations' choices (each client draws from seed and its index)
  // More clients, numbered after the others, that only read the hot keys (GET): a client with
  // a cached endpoint stays on the replica that answers its reads.
  int readers = 0;
  // Jepsen's per-node clients: >= 0 binds every reader to endpoints[pin_readers] alone and
  // every other client to the other endpoints alone; -1: every client knows every endpoint.
  int pin_readers = -1;
};

// The name of hot key i under `prefix`: "w-hot-0".
std::string HotKey(const std::string& prefix, int i);

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
  // Acknowledged writes (PUT, INCR, DEL; reads are not counted), all clients together.
  uint64_t acked() const { return acked_.load(); }
  // Waits until at least n writes were acknowledged in total (bounded).
  Status WaitAcked(uint64_t n, int timeout_ms) const;

  std::vector<OpRecord> History() const;
  // The first acknowledged write completed after t_us (e.g. a kill) by another replica
  // than `not_by` (the one killed; -1: any), or -1.
  int64_t FirstAckAfter(int64_t t_us, int not_by = -1) const;
  // The longest stretch inside [from_us, to_us] without an acknowledged write completing
  // (client-visible unavailability), and where it began.
  AckGap LongestAckGap(int64_t from_us, int64_t to_us) const;
  // Reads the final state through a fresh client and checks every record
  // (CheckHistory), spelling out the first ten problems. `read`, when given, is what the
  // check reads the final state through (e.g. FinalReader's cache).
  CheckResult Check() const;
  // A reader of the final state through a fresh client that asks each key once, whoever
  // reads it afterwards (Check, and the async loss accounting). Not thread-safe.
  ReadValue FinalReader() const;
  CheckResult Check(const ReadValue& read) const;

 private:
  void RunClient(int index);
  // One operation on a hot key, chosen by `draw` (0..99), a GET when `read_only`; `n`
  // numbers it within the client.
  OpRecord HotOp(Client& client, int index, int n, unsigned draw, bool read_only) const;
  // The endpoints client `index` knows (WorkloadOptions::pin_readers).
  std::vector<std::string> EndpointsOf(int index) const;
  void Record(OpRecord rec);

  WorkloadOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> acked_{0};
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  std::vector<OpRecord> history_;
};

}  // namespace duplex
