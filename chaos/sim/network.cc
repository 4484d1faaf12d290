#include "chaos/sim/network.h"

namespace duplex::sim {

bool Network::IsCut(const std::string& from, const std::string& to) const {
  return cut_.count(from + ">" + to) || cut_.count(from + ">*") || cut_.count("*>" + to);
}

void Network::Send(const std::string& from, const std::string& to, const std::string& what,
                   const std::function<void()>& fn) {
  if (faulty_ && IsCut(from, to)) return;
  Profile& p = sim_.profile;
  if (faulty_ && sim_.rng.Chance(p.drop)) return;
  int copies = faulty_ && sim_.rng.Chance(p.duplicate) ? 2 : 1;
  for (int i = 0; i < copies; ++i) {
    int64_t delay = sim_.rng.Uniform(p.delay_min_us, faulty_ ? p.delay_max_us : 300);
    sim_.queue.After(delay, [this, from, to, what, fn] {
      if (sim_.trace.keeps_text()) sim_.trace.Line(from + ">" + to + " " + what);
      fn();
    });
  }
}

}  // namespace duplex::sim
