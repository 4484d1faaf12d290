// The digest comparison the coordinator's worker drives (DigestComparison), driven here
// through the simulated network to the cores' admin path (every simulated replica is of
// this release, so always as AdminRequest): its questions and answers may be lost, delayed
// or duplicated. A comparison without marks holds the active's writes meanwhile. Owned by
// the simulated Coordinator, whose arbiter and campaign it reads; single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "chaos/sim/context.h"
#include "chaos/sim/network.h"
#include "chaos/sim/replica_process.h"
#include "upgrade_coordinator/arbiter.h"
#include "upgrade_coordinator/campaign/campaign.h"
#include "upgrade_coordinator/digest_comparison.h"

namespace duplex::sim {

class DigestDriver {
 public:
  // How the coordinator's process runs a wake-up of its own: at once, at its thaw, or never.
  using Deliver = std::function<void(std::function<void()> fn)>;

  // `arbiter` and `campaign` are the coordinator's own slots: null while it does not lead
  // (the campaign also while it is being built). `node` is the coordinator's address.
  DigestDriver(SimContext& sim, Network& network, Processes& processes, std::string node,
               const std::unique_ptr<Arbiter>& arbiter, const std::unique_ptr<Campaign>& campaign,
               Deliver deliver)
      : sim_(sim),
        network_(network),
        processes_(processes),
        node_(std::move(node)),
        arbiter_(arbiter),
        campaign_(campaign),
        deliver_(std::move(deliver)) {}

  // The campaign asked for its digest check.
  void Start();
  // A replica's answer to one of the questions, routed by the replica asked (its route is
  // "host-<replica>@<coordinator node>").
  void OnAnswer(const std::string& from, const AdminReply& reply);
  // The coordinator died: its comparisons die with it.
  void CancelAll();

 private:
  struct Job {
    DigestComparison comparison;
    std::map<uint64_t, DigestComparison::Question> asked;  // by admin request id
    uint64_t timer = 0;                                    // only the latest scheduled wake-up acts
    bool cancelled = false;
  };

  void Ask(const std::string& to, AdminRequest q);
  void Pump(size_t index);
  void Finish(size_t index, const Status& result);

  SimContext& sim_;
  Network& network_;
  Processes& processes_;
  const std::string node_;
  const std::unique_ptr<Arbiter>& arbiter_;
  const std::unique_ptr<Campaign>& campaign_;
  Deliver deliver_;
  std::vector<Job> jobs_;
  uint64_t questions_ = 0;
};

}  // namespace duplex::sim
