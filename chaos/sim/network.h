// The simulated network: delivers a message (a closure run at its destination) after a
// link delay, unless a cut link or the profile's drop loses it; may deliver it twice.
// Links are named "from>to"; processes "a", "b", "coordinator", "c0", .... Owned by the
// World; single-threaded.
#pragma once

#include <functional>
#include <set>
#include <string>

#include "chaos/sim/context.h"

namespace duplex::sim {

class Network {
 public:
  explicit Network(SimContext& sim) : sim_(sim) {}

  void Send(const std::string& from, const std::string& to, const std::string& what,
            const std::function<void()>& fn);

  // A link ("a>b"; "a>*" and "*>b" cut all of a node's links one way) stops delivering
  // until restored.
  void Cut(const std::string& link) { cut_.insert(link); }
  void Restore(const std::string& link) { cut_.erase(link); }
  // The faults stop: every link restored, nothing dropped or duplicated, short delays.
  void StopFaults() { faulty_ = false; }
  void HealAll() { cut_.clear(); }

 private:
  bool IsCut(const std::string& from, const std::string& to) const;

  SimContext& sim_;
  std::set<std::string> cut_;
  bool faulty_ = true;
};

}  // namespace duplex::sim
