// A simulated coordinator's election: the daemon's ElectionCore (upgrade_coordinator/etcd/
// election_core.h) driven against the simulated etcd over the simulated network, as the
// Elector drives it against a real one. One call outstanding at a time; a call whose answer
// does not come within kCallTimeoutMs fails (etcd without quorum answers nothing). Owned by
// the simulated Coordinator, which hands it every delivery (a frozen process hears nothing
// until it thaws); single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "chaos/sim/context.h"
#include "chaos/sim/etcd.h"
#include "chaos/sim/network.h"
#include "upgrade_coordinator/etcd/election_core.h"

namespace duplex::sim {

class SimElector {
 public:
  // A call's timeout: about a third of the shortest lease's TTL, as a client's read timeout
  // for keepalives must be (a lease renewed every ttl/3 survives one lost renewal).
  static constexpr int64_t kCallTimeoutMs = 300;
  // How the coordinator's process receives what reaches it: runs `fn` now, at its thaw, or
  // never (the process is down).
  using Deliver = std::function<void(std::function<void()> fn)>;

  SimElector(SimContext& sim, Network& network, SimEtcd& etcd, std::string node, std::string host,
             Deliver deliver);

  // The process starts (a new core: no lease) or dies (the core and its calls are gone; its
  // lease stays in etcd until its TTL runs out).
  void Start();
  void Stop();
  // Each loop turn of the running process: makes the call that is due.
  void Tick();
  // Acting as the leader now (holds the key under a lease surely still valid).
  bool Acting() const { return core_ && core_->Acting(sim_.now()); }
  LeaderView View() const { return core_ ? core_->View(sim_.now()) : LeaderView{}; }
  // Steps down: the lease is revoked so that another coordinator takes over.
  void Resign();

 private:
  void Send(const EtcdCall& call);
  // At etcd: the call takes effect; `answer` then travels back.
  void Serve(const EtcdCall& call, uint64_t id, int64_t sent_us);
  void Answer(uint64_t id, const std::function<void(ElectionCore&)>& fn);
  void Campaign(const EtcdCall& call, uint64_t id, int64_t sent_us);

  SimContext& sim_;
  Network& network_;
  SimEtcd& etcd_;
  const std::string node_;
  const std::string host_;
  Deliver deliver_;
  std::unique_ptr<ElectionCore> core_;  // null while the process is down
  uint64_t calls_ = 0;                  // ids of the calls sent, over every life
  uint64_t outstanding_ = 0;            // the id of the call the core waits for; 0: none
};

}  // namespace duplex::sim
