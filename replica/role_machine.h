// RoleMachine: a replica's role as a Boost.Statechart machine. Sans-I/O: it
// only decides which role transitions are legal; the replica core does the
// work on entry through RoleListener. Events that are not legal in the current
// state are refused, counted and remembered — never silently applied.
// Single-threaded (owned by the replica's event loop).
//
//   Replica
//   ├── OutOfService                 (initial: no assignment yet, or taken out)
//   ├── Standby
//   │   ├── CatchingUp               (initial: hello sent, tail or snapshot coming)
//   │   └── InSync                   (following the live stream)
//   ├── Promoting                    (epoch granted; waiting out the old active's lease)
//   └── Active
//       ├── Replicating              (acks wait for the standby)
//       └── Solo                     (the coordinator recorded the standby out of sync)
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace duplex {

enum class RoleState { kOutOfService, kCatchingUp, kInSync, kPromoting, kReplicating, kSolo };

// "Standby/CatchingUp"
const char* RoleStatePath(RoleState state);
bool IsStandby(RoleState state);
bool IsActive(RoleState state);

class RoleListener {
 public:
  virtual ~RoleListener() = default;
  virtual void OnRoleEntered(RoleState state) = 0;
};

class RoleMachine {
 public:
  explicit RoleMachine(RoleListener* listener);
  ~RoleMachine();
  RoleMachine(const RoleMachine&) = delete;
  RoleMachine& operator=(const RoleMachine&) = delete;

  RoleState state() const;

  // Each returns true when the event was accepted (even if it changed nothing)
  // and false when it is not legal in the current state.
  bool BecomeStandby();                   // follow an active (re-entered on a new epoch)
  bool CaughtUp();                        // the standby has everything the active committed
  bool FellBehind();                      // the standby lost the stream
  bool Promote();                         // the coordinator granted a higher epoch
  bool LeaseWaitOver(bool solo_granted);  // the old active's lease has run out
  bool SoloGranted();                     // the coordinator recorded the standby out of sync
  bool PeerInSync();                      // the standby caught up; acks wait for it again
  bool TakeOutOfService();

  uint64_t refused() const;
  const std::string& last_refusal() const;  // "CaughtUp refused in Active/Solo"

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace duplex
