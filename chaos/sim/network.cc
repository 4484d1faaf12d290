#include "chaos/sim/network.h"

#include <algorithm>
#include <utility>

namespace duplex::sim {
namespace {

// What runs at delivery: fn, after its trace line when the run keeps its trace's text
// (only then does the closure carry the names, copied once per message).
std::function<void()> Delivery(SimContext& sim, const std::string& from, const std::string& to,
                               const std::string& what, std::function<void()> fn) {
  if (!sim.trace.keeps_text()) return fn;
  return [&sim, from, to, what, fn = std::move(fn)] {
    sim.trace.Line(from + ">" + to + " " + what);
    fn();
  };
}

}  // namespace

bool Network::IsCut(const std::string& from, const std::string& to) const {
  if (cut_.empty()) return false;  // most of the time: no link names built
  return cut_.count(from + ">" + to) || cut_.count(from + ">*") || cut_.count("*>" + to);
}

bool Network::HostCut(const std::string& from, const std::string& to) const {
  auto cut = [](const std::map<std::string, int>& cuts, const std::string& host) {
    auto it = cuts.find(host);
    return it != cuts.end() && it->second > 0;
  };
  auto from_host = host_of_.find(from);
  auto to_host = host_of_.find(to);
  if (from_host != host_of_.end() && to_host != host_of_.end() &&
      from_host->second == to_host->second) {
    return false;  // within a host: loopback, never cut
  }
  return (from_host != host_of_.end() && cut(host_out_cut_, from_host->second)) ||
         (to_host != host_of_.end() && cut(host_in_cut_, to_host->second));
}

bool Network::Reaches(const std::string& from, const std::string& to) {
  if ((faulty_ && IsCut(from, to)) || HostCut(from, to)) return false;
  return !(faulty_ && sim_.rng.Chance(DropRate(from, to)));
}

double Network::DropRate(const std::string& from, const std::string& to) const {
  const bool etcd = from == kEtcdNode || to == kEtcdNode;
  return sim_.profile.drop * (etcd ? kEtcdDropShare : 1.0);
}

void Network::CutHost(const std::string& host, bool in, bool out) {
  if (in) ++host_in_cut_[host];
  if (out) ++host_out_cut_[host];
}

void Network::RestoreHost(const std::string& host, bool in, bool out) {
  if (in && host_in_cut_[host] > 0) --host_in_cut_[host];
  if (out && host_out_cut_[host] > 0) --host_out_cut_[host];
}

void Network::Send(const std::string& from, const std::string& to, const std::string& what,
                   std::function<void()> fn) {
  if (faulty_ && IsCut(from, to)) return;
  if (HostCut(from, to)) return;
  Profile& p = sim_.profile;
  if (faulty_ && sim_.rng.Chance(p.drop)) return;
  int copies = faulty_ && sim_.rng.Chance(p.duplicate) ? 2 : 1;
  for (int i = 0; i < copies; ++i) {
    int64_t delay = sim_.rng.Uniform(p.delay_min_us, faulty_ ? p.delay_max_us : 300);
    // The last copy takes the closure itself.
    sim_.queue.After(delay, Delivery(sim_, from, to, what, i + 1 < copies ? fn : std::move(fn)));
  }
}

}  // namespace duplex::sim

namespace duplex::sim {

void Network::SendOrdered(const std::string& from, const std::string& to, const std::string& what,
                          std::function<void()> fn) {
  if ((faulty_ && IsCut(from, to)) || HostCut(from, to)) return;
  Profile& p = sim_.profile;
  if (faulty_ && sim_.rng.Chance(DropRate(from, to))) return;
  int64_t delay = sim_.rng.Uniform(p.delay_min_us, faulty_ ? p.delay_max_us : 300);
  int64_t& last = last_delivery_us_[from + ">" + to];
  last = std::max(last, sim_.now() + delay);  // ties run in the order they were scheduled
  sim_.queue.At(last, Delivery(sim_, from, to, what, std::move(fn)));
}

}  // namespace duplex::sim
