// CoreContext: what ReplicaCore lends each of its parts (active term, standby session,
// standby follower, session table, digest service), as Ceph's PeeringState lends its
// listener: what the replica is (options, store, processor, epoch, role, assignment, now)
// and the only ways out (emit an action, commit deltas, adopt an epoch, post a role
// event, report status). ReplicaCore implements it and outlives its parts. Single-threaded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "feature_flags/feature_set.h"
#include "replica/actions.h"
#include "replica/frame.h"
#include "replica/processor.h"
#include "replica/replica_options.h"
#include "replica/role_machine.h"
#include "state_sync/converter.h"
#include "state_sync/store.h"

namespace duplex {

class CoreContext {
 public:
  virtual ~CoreContext() = default;

  // What the replica is.
  virtual const ReplicaOptions& options() const = 0;
  virtual Store& store() const = 0;
  virtual Processor& processor() const = 0;
  virtual const ConverterRegistry& converters() const = 0;
  virtual const FeatureSet& features() const = 0;
  virtual const Assignment& assignment() const = 0;
  virtual ReplicaCounters& counters() = 0;
  virtual int64_t now_us() const = 0;  // of the event being handled
  virtual RoleState role() const = 0;
  uint64_t epoch() const { return store().meta().epoch; }
  uint64_t last_seq() const { return store().meta().applied_seq; }

  // The ways out.
  virtual void Emit(Action action) = 0;
  // Appends deltas durably (a failure is fatal), after the sink has sent what it holds.
  virtual void Commit(const std::vector<Delta>& deltas) = 0;
  virtual void Adopt(uint64_t epoch) = 0;
  // A peer showed a newer epoch: adopt it, and an active of the older one is deposed.
  virtual void LearnEpoch(uint64_t seen) = 0;
  // False (counted and logged) for an epoch a peer sent more than options().epoch_step_max
  // above ours: the message is dropped, the epoch never adopted. `what` names the message.
  virtual bool PeerEpochWithinStep(uint64_t seen, const char* what) = 0;
  // Role events go to the machine, whose entries come back to ReplicaCore.
  virtual RoleMachine& machine() = 0;
  virtual void Refuse(const std::string& why) = 0;
  virtual void SendStatus() = 0;
  virtual ToClient MakeReply(const std::string& route, const Request& request,
                             Response response) const = 0;
  void Reply(const std::string& route, const Request& request, Response response) {
    Emit(MakeReply(route, request, std::move(response)));
  }
  virtual void ReplyNotActive(const std::string& route, const Request& request) = 0;
};

}  // namespace duplex
