#include "replica/role_machine.h"

#include <spdlog/spdlog.h>

#include <boost/mpl/list.hpp>
#include <boost/statechart/custom_reaction.hpp>
#include <boost/statechart/event.hpp>
#include <boost/statechart/simple_state.hpp>
#include <boost/statechart/state_machine.hpp>
#include <boost/statechart/transition.hpp>

namespace duplex {
namespace sc = boost::statechart;
namespace mpl = boost::mpl;

const char* RoleStatePath(RoleState state) {
  switch (state) {
    case RoleState::kOutOfService:
      return "OutOfService";
    case RoleState::kCatchingUp:
      return "Standby/CatchingUp";
    case RoleState::kInSync:
      return "Standby/InSync";
    case RoleState::kPromoting:
      return "Promoting";
    case RoleState::kReplicating:
      return "Active/Replicating";
    case RoleState::kSolo:
      return "Active/Solo";
  }
  return "?";
}

bool IsStandby(RoleState s) { return s == RoleState::kCatchingUp || s == RoleState::kInSync; }
bool IsActive(RoleState s) { return s == RoleState::kReplicating || s == RoleState::kSolo; }

namespace {

// Events are facts.
struct EvBecomeStandby : sc::event<EvBecomeStandby> {};
struct EvCaughtUp : sc::event<EvCaughtUp> {};
struct EvFellBehind : sc::event<EvFellBehind> {};
struct EvPromote : sc::event<EvPromote> {};
struct EvLeaseWaitOver : sc::event<EvLeaseWaitOver> {
  explicit EvLeaseWaitOver(bool solo) : solo_granted(solo) {}
  bool solo_granted;
};
struct EvSoloGranted : sc::event<EvSoloGranted> {};
struct EvPeerInSync : sc::event<EvPeerInSync> {};
struct EvTakeOutOfService : sc::event<EvTakeOutOfService> {};

struct OutOfService;
struct Standby;
struct CatchingUp;
struct InSync;
struct Promoting;
struct Active;
struct Replicating;
struct Solo;

struct Machine : sc::state_machine<Machine, OutOfService> {
  explicit Machine(RoleListener* l) : listener(l) {}
  void unconsumed_event(const sc::event_base&) { refused_now = true; }
  void Entered(RoleState s) {
    state = s;
    spdlog::info("role: enter {}", RoleStatePath(s));
    if (listener != nullptr) listener->OnRoleEntered(s);
  }
  RoleListener* listener;
  RoleState state = RoleState::kOutOfService;
  bool refused_now = false;
};

struct OutOfService : sc::simple_state<OutOfService, Machine> {
  using reactions =
      mpl::list<sc::transition<EvBecomeStandby, Standby>, sc::transition<EvPromote, Promoting>,
                sc::custom_reaction<EvTakeOutOfService>>;
  sc::result react(const EvTakeOutOfService&) { return discard_event(); }
};

struct Standby : sc::simple_state<Standby, Machine, CatchingUp> {
  using reactions =
      mpl::list<sc::transition<EvBecomeStandby, Standby>, sc::transition<EvPromote, Promoting>,
                sc::transition<EvTakeOutOfService, OutOfService>>;
};

struct CatchingUp : sc::simple_state<CatchingUp, Standby> {
  using reactions =
      mpl::list<sc::transition<EvCaughtUp, InSync>, sc::custom_reaction<EvFellBehind>>;
  sc::result react(const EvFellBehind&) { return discard_event(); }
};

struct InSync : sc::simple_state<InSync, Standby> {
  using reactions =
      mpl::list<sc::transition<EvFellBehind, CatchingUp>, sc::custom_reaction<EvCaughtUp>>;
  sc::result react(const EvCaughtUp&) { return discard_event(); }
};

struct Promoting : sc::simple_state<Promoting, Machine> {
  using reactions =
      mpl::list<sc::custom_reaction<EvLeaseWaitOver>, sc::transition<EvBecomeStandby, Standby>,
                sc::transition<EvPromote, Promoting>,
                sc::transition<EvTakeOutOfService, OutOfService>>;
  sc::result react(const EvLeaseWaitOver& ev);
};

struct Active : sc::simple_state<Active, Machine, Replicating> {
  using reactions =
      mpl::list<sc::transition<EvBecomeStandby, Standby>, sc::transition<EvPromote, Promoting>,
                sc::transition<EvTakeOutOfService, OutOfService>>;
};

struct Replicating : sc::simple_state<Replicating, Active> {
  using reactions =
      mpl::list<sc::transition<EvSoloGranted, Solo>, sc::custom_reaction<EvPeerInSync>>;
  sc::result react(const EvPeerInSync&) { return discard_event(); }
};

struct Solo : sc::simple_state<Solo, Active> {
  using reactions =
      mpl::list<sc::transition<EvPeerInSync, Replicating>, sc::custom_reaction<EvSoloGranted>>;
  sc::result react(const EvSoloGranted&) { return discard_event(); }
};

sc::result Promoting::react(const EvLeaseWaitOver& ev) {
  if (ev.solo_granted) return transit<Solo>();
  return transit<Replicating>();
}

// Which leaf the machine is in, read after each event (simple_state constructors
// cannot reach the machine, so entry is observed here instead).
RoleState CurrentLeaf(const Machine& m) {
  if (m.state_cast<const CatchingUp*>() != nullptr) return RoleState::kCatchingUp;
  if (m.state_cast<const InSync*>() != nullptr) return RoleState::kInSync;
  if (m.state_cast<const Promoting*>() != nullptr) return RoleState::kPromoting;
  if (m.state_cast<const Replicating*>() != nullptr) return RoleState::kReplicating;
  if (m.state_cast<const Solo*>() != nullptr) return RoleState::kSolo;
  return RoleState::kOutOfService;
}

}  // namespace

struct RoleMachine::Impl {
  explicit Impl(RoleListener* listener) : machine(listener) { machine.initiate(); }

  template <class Event>
  bool Process(const Event& ev, const char* name) {
    RoleState before = machine.state;
    machine.refused_now = false;
    machine.process_event(ev);
    if (machine.refused_now) {
      ++refused;
      last_refusal = std::string(name) + " refused in " + RoleStatePath(before);
      spdlog::warn("role: {}", last_refusal);
      return false;
    }
    RoleState after = CurrentLeaf(machine);
    // Re-entering a state (a new epoch) is an entry too.
    if (after != before || reentering) machine.Entered(after);
    return true;
  }

  Machine machine;
  uint64_t refused = 0;
  std::string last_refusal;
  bool reentering = false;
};

RoleMachine::RoleMachine(RoleListener* listener) : impl_(std::make_unique<Impl>(listener)) {}
RoleMachine::~RoleMachine() = default;

RoleState RoleMachine::state() const { return impl_->machine.state; }

bool RoleMachine::BecomeStandby() {
  impl_->reentering = true;
  bool ok = impl_->Process(EvBecomeStandby(), "BecomeStandby");
  impl_->reentering = false;
  return ok;
}
bool RoleMachine::CaughtUp() { return impl_->Process(EvCaughtUp(), "CaughtUp"); }
bool RoleMachine::FellBehind() { return impl_->Process(EvFellBehind(), "FellBehind"); }
bool RoleMachine::Promote() {
  impl_->reentering = true;
  bool ok = impl_->Process(EvPromote(), "Promote");
  impl_->reentering = false;
  return ok;
}
bool RoleMachine::LeaseWaitOver(bool solo_granted) {
  return impl_->Process(EvLeaseWaitOver(solo_granted), "LeaseWaitOver");
}
bool RoleMachine::SoloGranted() { return impl_->Process(EvSoloGranted(), "SoloGranted"); }
bool RoleMachine::PeerInSync() { return impl_->Process(EvPeerInSync(), "PeerInSync"); }
bool RoleMachine::TakeOutOfService() {
  return impl_->Process(EvTakeOutOfService(), "TakeOutOfService");
}

uint64_t RoleMachine::refused() const { return impl_->refused; }
const std::string& RoleMachine::last_refusal() const { return impl_->last_refusal; }

}  // namespace duplex
