// Elector: a thread that runs ElectionCore against etcd through its own EtcdClient, so that a
// coordinator knows at any moment whether it may act. View() and Resign() are thread-safe;
// the destructor resigns (revokes the lease) and joins, bounded by the client's timeouts.
// It logs each change of leader and each loss and return of etcd.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"
#include "upgrade_coordinator/etcd/election_core.h"
#include "upgrade_coordinator/etcd/etcd_client.h"

namespace duplex {

struct ElectorOptions {
  ElectionOptions election;
  EtcdClientOptions client;  // its read_timeout_ms is replaced by the one below
  // Bounds how late a loss of etcd is noticed, so shorter than the record store's (etcd
  // answers a keepalive in milliseconds).
  int read_timeout_ms = 500;
  std::string name;  // in log lines ("elector h2: ...")
};

class Elector {
 public:
  // Starts the thread. InvalidArgument for bad endpoints or options.
  static StatusOr<std::unique_ptr<Elector>> Start(ElectorOptions options);
  ~Elector();
  Elector(const Elector&) = delete;
  Elector& operator=(const Elector&) = delete;

  LeaderView View() const;
  // Steps down now (acting ends before this returns) and revokes the lease, so that another
  // coordinator takes over at its next campaign; this one campaigns again only after the
  // core's resign hold.
  void Resign();

 private:
  Elector(ElectorOptions options, std::unique_ptr<EtcdClient> client);
  void Run();
  // Makes `call` with the client and hands the result to the core.
  void Execute(const EtcdCall& call);
  // The call itself; on success the answer is handed to the core (under the mutex).
  Status Exchange(const EtcdCall& call, int64_t sent_us);
  // Logs what changed since the last view logged (thread only).
  void LogChanges(const LeaderView& now);

  const ElectorOptions options_;
  std::unique_ptr<EtcdClient> client_;  // the elector thread's only
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  ElectionCore core_;  // guarded by mutex_
  bool stopping_ = false;
  LeaderView logged_;  // the elector thread's only
  std::thread thread_;
};

}  // namespace duplex
