// ReplicaCore: everything a replica decides, as pure reactions (now, event) -> actions.
// It keeps the role machine, dispatches each event to the part that owns its state (the
// active term, the standby follower, the digest service) and reports status; the parts
// reach the replica only through the CoreContext it lends them. The daemon (or the
// simulator) delivers events and carries out the actions. Storage is a synchronous seam
// (Store). Single-threaded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/fatal.h"
#include "feature_flags/feature_set.h"
#include "replica/actions.h"
#include "replica/frame.h"
#include "replica/internal/active_term.h"
#include "replica/internal/core_context.h"
#include "replica/internal/digest_service.h"
#include "replica/internal/standby_follower.h"
#include "replica/processor.h"
#include "replica/replica_options.h"
#include "replica/role_machine.h"
#include "state_sync/converter.h"
#include "state_sync/store.h"

namespace duplex {

class ReplicaCore final : private RoleListener {
 public:
  ReplicaCore(ReplicaOptions options, Store* store, Processor* processor);

  // A client request; one whose op starts with "_" is refused (admin work takes the admin
  // path below).
  void OnClientRequest(std::string route, Request request, int64_t now_us);
  // The admin path: digests and checkpoints, answered with an AdminReply (ToClient).
  void OnAdminRequest(std::string route, AdminRequest request, int64_t now_us);
  void OnFromStandby(std::string route, PeerMessage message, int64_t now_us);
  void OnFromActive(PeerMessage message, int64_t now_us);
  void OnAssignment(const Assignment& assignment, int64_t now_us);
  // Timers, group commit, catch-up streaming, status. Call after each batch of events.
  void OnTick(int64_t now_us);
  // When OnTick must run again if nothing arrives first: the earliest timer still ahead of
  // now_us, the time the last OnTick ran with. A replica at rest then sleeps until its next
  // heartbeat or timeout instead of waking every few ms; a role in transition is ticked
  // every NextTick::kTransitionTickUs, as before.
  int64_t NextTickUs(int64_t now_us) const;
  // Counts and logs (the first 100, then every 1000th) a frame refused as misplaced.
  void Refuse(const std::string& why);

  std::vector<Action> TakeActions();
  void SetActionSink(ActionSink* sink) { sink_ = sink; }

  RoleState role() const { return machine_.state(); }
  uint64_t epoch() const { return store_->meta().epoch; }
  // The highest coordinator term an assignment came with (0: none, or the embedded one).
  uint64_t coordinator_term() const { return coordinator_term_; }
  // The last assignment taken (an active's peer_name is the standby it may serve).
  const Assignment& assignment() const { return assignment_; }
  bool Serving(int64_t now_us) const { return active_.Serving(now_us); }
  bool HasWork() const { return active_.HasWork(); }
  StatusReport BuildStatus(int64_t now_us) const;
  const ReplicaCounters& counters() const { return counters_; }
  // The features in force (their cluster version), as BuildStatus reports them.
  const FeatureSet& features() const { return features_; }
  // Standby: how long the newest deltas took from the active's send to our commit (us),
  // the last kLagSamples commits.
  static constexpr size_t kLagSamples = StandbyFollower::kLagSamples;
  const std::vector<int64_t>& lag_samples_us() const { return follower_.lag_samples_us(); }
  const RoleMachine& machine() const { return machine_; }

 private:
  // What the parts see of the core.
  class Context final : public CoreContext {
   public:
    explicit Context(ReplicaCore& core) : core_(core) {}
    const ReplicaOptions& options() const override { return core_.options_; }
    Store& store() const override { return *core_.store_; }
    Processor& processor() const override { return *core_.processor_; }
    const ConverterRegistry& converters() const override { return core_.converters_; }
    const FeatureSet& features() const override { return core_.features_; }
    const Assignment& assignment() const override { return core_.assignment_; }
    ReplicaCounters& counters() override { return core_.counters_; }
    int64_t now_us() const override { return core_.now_us_; }
    RoleState role() const override { return core_.role(); }
    void Emit(Action action) override { core_.Emit(std::move(action)); }
    void Commit(const std::vector<Delta>& deltas) override { core_.Commit(deltas); }
    void Adopt(uint64_t epoch) override { core_.Adopt(epoch); }
    void LearnEpoch(uint64_t seen) override { core_.LearnEpoch(seen); }
    bool PeerEpochWithinStep(uint64_t seen, const char* what) override {
      return core_.EpochWithinStep(seen, what, &core_.counters_.epochs_refused_peer);
    }
    RoleMachine& machine() override { return core_.machine_; }
    void Refuse(const std::string& why) override { core_.Refuse(why); }
    void SendStatus() override { core_.SendStatus(); }
    ToClient MakeReply(const std::string& route, const Request& request,
                       Response response) const override {
      return core_.MakeReply(route, request, std::move(response));
    }
    void ReplyNotActive(const std::string& route, const Request& request) override {
      core_.ReplyNotActive(route, request);
    }

   private:
    ReplicaCore& core_;
  };

  void OnRoleEntered(RoleState state) override;
  void ApplyClusterVersion(const std::string& version);
  void Emit(Action action);
  // Appends deltas to the store durably (a failure is fatal), after the sink has sent what
  // it holds.
  void Commit(const std::vector<Delta>& deltas);
  void Adopt(uint64_t epoch);
  void LearnEpoch(uint64_t seen);
  // False for an epoch more than epoch_step_max above ours: counted in *refused, logged (the
  // first 100, then every 1000th), never adopted.
  bool EpochWithinStep(uint64_t seen, const char* what, uint64_t* refused);
  // False for an assignment whose epoch or sync id jumps past the bound (counted, logged).
  bool AssignmentWithinStep(const Assignment& assignment);
  ToClient MakeReply(const std::string& route, const Request& request, Response response) const;
  void ReplyNotActive(const std::string& route, const Request& request);
  void SendStatus();
  void CheckStoreMeta() const;
  // False for an assignment of a coordinator term below the highest seen (counted, logged
  // once per term); raises the highest seen otherwise.
  bool FollowsCoordinatorTerm(const Assignment& assignment);

  ReplicaOptions options_;
  Store* store_;
  Processor* processor_;
  RoleMachine machine_;
  FeatureSet features_;
  ConverterRegistry converters_;
  std::vector<Action> actions_;
  ActionSink* sink_ = nullptr;
  int64_t now_us_ = 0;
  int64_t last_status_us_ = 0;
  bool reported_demoted_ = false;  // in the last status sent
  Assignment assignment_;
  // In memory only: a restarted replica takes the next leader's word (a restarted etcd
  // cluster numbers its revisions from 1 again, and a persisted term would shut it out).
  uint64_t coordinator_term_ = 0;
  uint64_t refused_term_logged_ = 0;  // the last stale term logged (once per term)
  ReplicaCounters counters_;
  std::string self_check_;  // the application's own check, run every heartbeat ("" = ok)

  // The parts, each owning its state; constructed after everything the context lends.
  Context context_{*this};
  DigestService digests_{context_};
  ActiveTerm active_{context_};
  StandbyFollower follower_{context_, digests_};
};

}  // namespace duplex
