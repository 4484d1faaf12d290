// The simulated clients and their history: each goes round a cycle of a PUT of a unique
// key, an operation on the shared hot keys (hot-0..hot-2: GET, PUT, DEL or INCR, contended by
// every client), an INCR of its own counter and another hot operation; it retries on the
// other replica (same seq) until a deadline, and records every operation with its invoke and
// completion in simulated time (chaos/checker.h's OpRecord) for the judge. In runs whose
// profile splits the clients, client 0 only reads the hot keys and the others follow the
// coordinator's record (Profile::split_clients). Owned by the World; single-threaded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "chaos/checker.h"
#include "chaos/sim/context.h"
#include "chaos/sim/coordinators.h"
#include "chaos/sim/network.h"
#include "chaos/sim/replica_process.h"

namespace duplex::sim {

class Clients {
 public:
  // The shared keys every client reads and writes ("hot-0".."hot-2").
  static constexpr int kHotKeys = 3;

  Clients(SimContext& sim, Network& network, Processes& processes,
          const Coordinators& coordinators);

  // Each client sends its first operation a moment after the start.
  void Start();
  // No new operations; those in flight go on to their outcome.
  void StopLoad() { loading_ = false; }
  // Some client waits for an outcome.
  bool Busy() const;
  // A reply reached client `index` (route "c<index>").
  void OnReply(int index, const ClientReply& reply);
  const std::vector<OpRecord>& history() const { return history_; }

 private:
  struct Client {
    int index;
    uint64_t id = 1000 + static_cast<uint64_t>(index);  // the client id its sessions are under
    uint64_t seq = 0;
    int target = 0;
    int64_t deadline = 0;
    size_t record = 0;  // index in history_ of the request in flight
    bool busy = false;
    uint64_t attempt = 0;  // bumps on each send, so a stale timeout is ignored
    uint64_t puts = 0;
  };

  static std::string Name(const Client& c) { return "c" + std::to_string(c.index); }
  void NextOp(Client& c);
  // One operation on a hot key, drawn from the seed: GET, PUT, DEL or INCR.
  OpRecord HotOp(const Client& c);
  // A split run's reader (client 0) and routed clients (the others).
  bool Reader(const Client& c) const { return sim_.profile.split_clients && c.index == 0; }
  bool Routed(const Client& c) const { return sim_.profile.split_clients && c.index != 0; }
  // The replica (0: a, 1: b) the leading coordinator's record names active; `otherwise` when
  // no coordinator leads or the record names none.
  int RecordedActive(int otherwise) const;
  void SendRequest(Client& c);
  void Retry(Client& c);
  // The operation in flight ends with `outcome`.
  void Complete(Client& c, OpOutcome outcome);
  void Done(Client& c, int64_t pause_ms);

  SimContext& sim_;
  Network& network_;
  Processes& processes_;
  const Coordinators& coordinators_;
  std::vector<Client> clients_;  // never grows after the start: events hold references
  std::vector<OpRecord> history_;
  bool loading_ = true;
};

}  // namespace duplex::sim
