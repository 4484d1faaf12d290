// OffloadWorker: runs the replica's offloaded work (ReplicaCore's Offload actions: digests,
// checkpoints) in order on one thread of its own. Owned by the replica daemon; Add() and
// Done() are called by the event loop, the only thread that touches the ZeroMQ sockets, and
// wake_fd() becomes readable when a reply is done, so the loop waits for it in its poll.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/wakeup.h"
#include "replica/actions.h"

namespace duplex {

class OffloadWorker {
 public:
  OffloadWorker();
  ~OffloadWorker();
  OffloadWorker(const OffloadWorker&) = delete;
  OffloadWorker& operator=(const OffloadWorker&) = delete;

  void Add(std::function<ToClient()> job);
  // The replies done since the last call, in order; clears wake_fd().
  std::vector<ToClient> Done();
  // Readable while replies wait in Done().
  int wake_fd() const { return wake_.fd(); }

 private:
  void Loop();

  // The thread runs at a lower CPU priority: a digest scans the whole state, and on a busy
  // machine it must not take the core the event loop needs. (Suspected, not shown, of a
  // 117 ms write gap during an upgrade's soak on 2 cores.)
  static constexpr int kNice = 10;
  Wakeup wake_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::deque<std::function<ToClient()>> jobs_;
  std::vector<ToClient> done_;
  std::thread thread_;  // last: starts after the members it uses
};

}  // namespace duplex
