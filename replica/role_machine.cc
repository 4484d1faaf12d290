#include "replica/role_machine.h"

#include <spdlog/spdlog.h>

#include <boost/mpl/list.hpp>
#include <boost/statechart/custom_reaction.hpp>
#include <boost/statechart/event.hpp>
#include <boost/statechart/simple_state.hpp>
#include <boost/statechart/state_machine.hpp>
#include <boost/statechart/transition.hpp>
#include <optional>

#include "common/assert.h"

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
  DUPLEX_ASSERT(false, "a role is one of the six states", static_cast<int>(state));
  return "?";
}

bool IsStandby(RoleState s) { return s == RoleState::kCatchingUp || s == RoleState::kInSync; }
bool IsActive(RoleState s) { return s == RoleState::kReplicating || s == RoleState::kSolo; }

namespace {

// What a caller asked of the machine; a lease wait over with and without solo are two inputs
// because they lead to two different leaves.
enum class Input {
  kBecomeStandby,
  kCaughtUp,
  kFellBehind,
  kPromote,
  kLeaseWaitOver,
  kLeaseWaitOverSolo,
  kSoloGranted,
  kPeerInSync,
  kTakeOutOfService,
};

// The transitions allowed, written a second time as a plain table so that every event checks
// the statechart against it: the leaf an input leads to from `from`, or nullopt when the
// input is refused there. BecomeStandby, Promote and TakeOutOfService are legal everywhere
// (the coordinator may reassign any role); the others only inside their composite state.
std::optional<RoleState> AllowedTransition(Input input, RoleState from) {
  switch (input) {
    case Input::kBecomeStandby:
      return RoleState::kCatchingUp;
    case Input::kPromote:
      return RoleState::kPromoting;
    case Input::kTakeOutOfService:
      return RoleState::kOutOfService;
    case Input::kCaughtUp:
      if (IsStandby(from)) return RoleState::kInSync;
      return std::nullopt;
    case Input::kFellBehind:
      if (IsStandby(from)) return RoleState::kCatchingUp;
      return std::nullopt;
    case Input::kLeaseWaitOver:
      if (from == RoleState::kPromoting) return RoleState::kReplicating;
      return std::nullopt;
    case Input::kLeaseWaitOverSolo:
      if (from == RoleState::kPromoting) return RoleState::kSolo;
      return std::nullopt;
    case Input::kSoloGranted:
      if (IsActive(from)) return RoleState::kSolo;
      return std::nullopt;
    case Input::kPeerInSync:
      if (IsActive(from)) return RoleState::kReplicating;
      return std::nullopt;
  }
  DUPLEX_ASSERT(false, "an input is one of the nine", static_cast<int>(input));
  return std::nullopt;
}

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
  explicit Impl(RoleListener* listener) : machine(listener) {
    machine.initiate();
    DUPLEX_ASSERT(CurrentLeaf(machine) == RoleState::kOutOfService,
                  "a replica starts out of service until the coordinator assigns it a role",
                  RoleStatePath(CurrentLeaf(machine)));
  }

  template <class Event>
  bool Process(const Event& ev, const char* name, Input input) {
    RoleState before = machine.state;
    DUPLEX_ASSERT(before == CurrentLeaf(machine), "the role reported is the machine's leaf", name,
                  RoleStatePath(before), RoleStatePath(CurrentLeaf(machine)));
    const std::optional<RoleState> allowed = AllowedTransition(input, before);
    const uint64_t refused_before = refused;
    machine.refused_now = false;
    machine.process_event(ev);
    if (machine.refused_now) {
      DUPLEX_ASSERT(!allowed.has_value(), "the machine refused a transition the table allows", name,
                    RoleStatePath(before));
      DUPLEX_ASSERT(CurrentLeaf(machine) == before, "a refused event leaves the role unchanged",
                    name, RoleStatePath(before), RoleStatePath(CurrentLeaf(machine)));
      ++refused;
      last_refusal = std::string(name) + " refused in " + RoleStatePath(before);
      spdlog::warn("role: {}", last_refusal);
      return false;
    }
    RoleState after = CurrentLeaf(machine);
    DUPLEX_ASSERT(allowed.has_value(), "the machine took a transition the table refuses", name,
                  RoleStatePath(before), RoleStatePath(after));
    DUPLEX_ASSERT(after == *allowed, "the machine reached the leaf the table names", name,
                  RoleStatePath(before), RoleStatePath(after), RoleStatePath(*allowed));
    DUPLEX_ASSERT(refused == refused_before, "only a refusal is counted", refused, refused_before);
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
  bool ok = impl_->Process(EvBecomeStandby(), "BecomeStandby", Input::kBecomeStandby);
  impl_->reentering = false;
  return ok;
}
bool RoleMachine::CaughtUp() { return impl_->Process(EvCaughtUp(), "CaughtUp", Input::kCaughtUp); }
bool RoleMachine::FellBehind() {
  return impl_->Process(EvFellBehind(), "FellBehind", Input::kFellBehind);
}
bool RoleMachine::Promote() {
  impl_->reentering = true;
  bool ok = impl_->Process(EvPromote(), "Promote", Input::kPromote);
  impl_->reentering = false;
  return ok;
}
bool RoleMachine::LeaseWaitOver(bool solo_granted) {
  return impl_->Process(EvLeaseWaitOver(solo_granted), "LeaseWaitOver",
                        solo_granted ? Input::kLeaseWaitOverSolo : Input::kLeaseWaitOver);
}
bool RoleMachine::SoloGranted() {
  return impl_->Process(EvSoloGranted(), "SoloGranted", Input::kSoloGranted);
}
bool RoleMachine::PeerInSync() {
  return impl_->Process(EvPeerInSync(), "PeerInSync", Input::kPeerInSync);
}
bool RoleMachine::TakeOutOfService() {
  return impl_->Process(EvTakeOutOfService(), "TakeOutOfService", Input::kTakeOutOfService);
}

uint64_t RoleMachine::refused() const { return impl_->refused; }
const std::string& RoleMachine::last_refusal() const { return impl_->last_refusal; }

}  // namespace duplex
