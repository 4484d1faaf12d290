// AloneRecords: the record store of a coordinator alone (its own RocksDB), opened afresh for
// each of its terms, and why it does not act while that store cannot be written. Owned by
// the coordinator's event loop; not thread-safe.
//
// A coordinator alone whose record cannot be written (disk full, failing) does not exit, as
// it did (_exit(70)): nothing restarts a coordinator (agents start replicas), so the pair
// would be left without failover until an operator came. Nor may it go on deciding without
// a durable record: a promotion announced and then forgotten at a restart could give two
// actives in one epoch. So it stops acting, as a coordinator on etcd does when its write
// fails: the term ends (nothing half-decided survives: the next term starts from the record
// alone), /status says why and when it tries again, the replicas serve on by themselves (an
// active on its standby's acks), and it reopens the store with backoff until a term begins,
// which writes the record: the disk works again.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "upgrade_coordinator/record_store.h"

namespace duplex {

class AloneRecords {
 public:
  static constexpr int64_t kRetryFirstUs = 200000;  // between attempts, doubling...
  static constexpr int64_t kRetryMaxUs = 1000000;   // ...up to this

  // first: the store opened at start, for the first term.
  AloneRecords(std::string path, rocksdb::Env* env, std::unique_ptr<RecordStore> first);

  // Whether an attempt to take up a term is due.
  bool Due(int64_t now_us) const { return now_us >= retry_us_; }
  // The store for a new term: the one opened at start, then one reopened.
  StatusOr<std::unique_ptr<RecordStore>> Open();
  // A write failed, or a term could not begin: not acting until the next attempt.
  void Failed(int64_t now_us, const std::string& why);
  // A term began: it acts.
  void Acting();
  // Why it does not act ("" while it does), and how long until it tries again.
  const std::string& not_acting() const { return not_acting_; }
  int64_t RetryInMs(int64_t now_us) const;
  // For /status: {"acting": true}, or false with "not_acting" (why) and "retry_in_ms".
  nlohmann::json Json(bool acting, int64_t now_us) const;

 private:
  const std::string path_;
  rocksdb::Env* const env_;
  std::unique_ptr<RecordStore> first_;
  std::string not_acting_;
  int64_t retry_us_ = 0;
  int64_t backoff_us_ = kRetryFirstUs;
};

}  // namespace duplex
