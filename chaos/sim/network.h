// The simulated network: delivers a message (a closure run at its destination) after a
// link delay, unless a cut link or the profile's drop loses it; may deliver it twice.
// Links are named "from>to"; processes "a", "b", "coordinator", "agent-h1", "c0", ....
// Nodes placed on a host share its fate: a host cut off (isolated one way or both, or down)
// loses what it sends or what it is sent. Owned by the World; single-threaded.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>

#include "chaos/sim/context.h"

namespace duplex::sim {

class Network {
 public:
  explicit Network(SimContext& sim) : sim_(sim) {}

  // fn is taken by value and moved into the queue: copying each message's closure (with
  // the strings it captured) was an allocation per message.
  void Send(const std::string& from, const std::string& to, const std::string& what,
            std::function<void()> fn);
  // As Send, over one connection (the agents' links: a ZeroMQ socket on TCP): never
  // duplicated, and never overtaking what the link delivers before it. It may be lost.
  void SendOrdered(const std::string& from, const std::string& to, const std::string& what,
                   std::function<void()> fn);
  // The share of the profile's drop rate that loses a message to or from etcd: over TCP a
  // lost segment is sent again, and only a retransmission that outlasts the client's timeout
  // loses the call.
  static constexpr double kEtcdDropShare = 0.25;

  // Whether a message sent now would arrive (not cut, not dropped): for calls modelled as
  // instant, such as a coordinator's record writes to etcd. Draws the drop like Send.
  bool Reaches(const std::string& from, const std::string& to);
  // The drop rate of a link (lower to and from etcd: kEtcdDropShare).
  double DropRate(const std::string& from, const std::string& to) const;

  // A link ("a>b"; "a>*" and "*>b" cut all of a node's links one way) stops delivering
  // until restored.
  void Cut(const std::string& link) { cut_.insert(link); }
  void Restore(const std::string& link) { cut_.erase(link); }
  // Places a node on a host (nodes never placed, the clients, are on no host).
  void Place(const std::string& node, const std::string& host) { host_of_[node] = host; }
  // A host's traffic cut one way: nothing it sends leaves it (out), nothing sent to it
  // arrives (in). Kept until restored, also after StopFaults (a host down stays unreachable).
  void CutHost(const std::string& host, bool in, bool out);
  void RestoreHost(const std::string& host, bool in, bool out);
  // The faults stop: every link restored, nothing dropped or duplicated, short delays.
  void StopFaults() { faulty_ = false; }
  void HealAll() {
    cut_.clear();
    host_in_cut_.clear();
    host_out_cut_.clear();
  }

 private:
  bool IsCut(const std::string& from, const std::string& to) const;
  bool HostCut(const std::string& from, const std::string& to) const;

  SimContext& sim_;
  std::set<std::string> cut_;
  std::map<std::string, std::string> host_of_;
  std::map<std::string, int64_t> last_delivery_us_;  // by link: SendOrdered's latest
  // How many faults cut each host's traffic in and out (an isolation and a crash may overlap).
  std::map<std::string, int> host_in_cut_, host_out_cut_;
  bool faulty_ = true;
};

}  // namespace duplex::sim
