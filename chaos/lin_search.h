// The Wing–Gong–Lowe search over one key's history, with Lowe's cache of (linearized set,
// model state), as Porcupine's checker.go does it: the call and return events in time order
// in a doubly linked list; an operation is linearized by lifting its call and return out of
// the list, undone by putting them back. Templated on the model (chaos/lin_models.h), so that
// a step is an inline call. Internal to chaos/linearizability.cc; one search per thread.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "chaos/linearizability.h"
#include "common/assert.h"

namespace duplex::lin::search {

using SteadyTime = std::chrono::steady_clock::time_point;

// Calls and returns in time order; at equal times calls come first (the operations overlap),
// as Porcupine orders them. An unknown outcome's return is after every other event.
struct Event {
  int64_t time = 0;
  bool is_call = true;
  int id = 0;
};
std::vector<Event> MakeEvents(const std::vector<const Operation*>& ops);

struct SearchResult {
  Verdict verdict = Verdict::kLinearizable;
  std::vector<int> longest;    // ids of the longest linearizable order reached
  bool out_of_memory = false;  // kUnknown because the cache outgrew its bound, not the clock
};

// A set of operation ids with a hash kept up to date as members come and go (Zobrist).
class Bitset {
 public:
  explicit Bitset(size_t n) : words_((n + 63) / 64, 0) {}
  void Flip(int id, uint64_t zobrist) {
    words_[id / 64] ^= uint64_t{1} << (id % 64);
    hash_ ^= zobrist;
  }
  uint64_t hash() const { return hash_; }
  const std::vector<uint64_t>& words() const { return words_; }

 private:
  std::vector<uint64_t> words_;
  uint64_t hash_ = 0;
};

// Lowe's cache: the (linearized set, state) configurations explored, in one open-addressing
// table over flat arrays (a node per entry cost most of the search's time in allocation and
// cache misses).
template <typename State>
class Cache {
 public:
  explicit Cache(size_t words) : words_(words), slots_(kSlotsFirst) {}

  // Roughly what the cache holds (states' own heap storage not counted).
  size_t bytes() const {
    return slots_.size() * sizeof(Slot) + bits_.size() * 8 + states_.size() * sizeof(State);
  }

  // False when the configuration was there already.
  bool Insert(uint64_t hash, const std::vector<uint64_t>& bits, const State& state) {
    if ((states_.size() + 1) * 2 > slots_.size()) Grow();
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      Slot& slot = slots_[i];
      if (slot.entry == 0) {
        slot = {hash, static_cast<uint32_t>(states_.size() + 1)};
        bits_.insert(bits_.end(), bits.begin(), bits.end());
        states_.push_back(state);
        return true;
      }
      if (slot.hash == hash && Equal(slot.entry - 1, bits, state)) return false;
    }
  }

 private:
  static constexpr size_t kSlotsFirst = 1024;
  struct Slot {
    uint64_t hash = 0;
    uint32_t entry = 0;  // index in states_ + 1; 0: empty
  };

  bool Equal(size_t entry, const std::vector<uint64_t>& bits, const State& state) const {
    return std::equal(bits.begin(), bits.end(), bits_.begin() + entry * words_) &&
           states_[entry] == state;
  }

  void Grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    const size_t mask = slots_.size() - 1;
    for (const Slot& slot : old) {
      if (slot.entry == 0) continue;
      size_t i = slot.hash & mask;
      while (slots_[i].entry != 0) i = (i + 1) & mask;
      slots_[i] = slot;
    }
  }

  size_t words_;
  std::vector<Slot> slots_;     // a power of two, at most half full
  std::vector<uint64_t> bits_;  // entry i's set at [i * words_, (i + 1) * words_)
  std::vector<State> states_;
};

template <typename Model>
class Search {
 public:
  using State = typename Model::State;
  using Input = typename Model::Input;

  Search(const Model& model, const std::vector<Input>& inputs, const std::vector<Event>& events)
      : model_(model),
        inputs_(inputs),
        linearized_(inputs.size()),
        cache_((inputs.size() + 63) / 64) {
    Link(events);
    for (size_t i = 0; i < inputs.size(); ++i) zobrist_.push_back(Mix(i + 0x9e3779b97f4a7c15ULL));
  }

  // kUnknown when `deadline` passes first.
  SearchResult Run(SteadyTime deadline) {
    SearchResult out;
    State state = model_.Init();
    int entry = nodes_[kHead].next;
    uint64_t steps = 0;
    while (nodes_[kHead].next != kNone) {
      if (++steps % kStepsPerClockRead == 0 &&
          (std::chrono::steady_clock::now() > deadline || cache_.bytes() > kCacheBytesMax)) {
        out.verdict = Verdict::kUnknown;
        out.out_of_memory = cache_.bytes() > kCacheBytesMax;
        return out;
      }
      const Node& node = nodes_[entry];
      if (node.match != kNone) {
        State next;
        if (model_.Step(state, inputs_[node.id], &next) && Remember(node.id, next)) {
          calls_.push_back({entry, std::move(state)});
          state = std::move(next);
          Lift(entry);
          entry = nodes_[kHead].next;
        } else {
          entry = node.next;
        }
        continue;
      }
      // A return reached: the operation it ends was not linearized in time. Backtrack.
      if (calls_.empty()) {
        out.verdict = Verdict::kNotLinearizable;
        return out;
      }
      if (calls_.size() > longest_.size()) {
        longest_.clear();
        for (const auto& call : calls_) longest_.push_back(nodes_[call.entry].id);
      }
      Call top = std::move(calls_.back());
      calls_.pop_back();
      state = std::move(top.state);
      linearized_.Flip(nodes_[top.entry].id, zobrist_[nodes_[top.entry].id]);
      Unlift(top.entry);
      entry = nodes_[top.entry].next;
    }
    out.longest.clear();
    for (const auto& call : calls_) out.longest.push_back(nodes_[call.entry].id);
    return out;
  }

  // After kNotLinearizable: the longest order found.
  const std::vector<int>& longest() const { return longest_; }

 private:
  static constexpr int kNone = -1;
  static constexpr int kHead = 0;
  // The clock is read once per this many steps: a step costs far less than a clock read.
  static constexpr uint64_t kStepsPerClockRead = 1024;
  // A history hard enough to fill this is left undecided rather than take the machine's memory
  // (about 5 s of search on the hardest histories measured).
  static constexpr size_t kCacheBytesMax = size_t{1} << 30;

  struct Node {
    int id = -1;
    int match = kNone;  // a call's return; kNone for a return
    int prev = kNone, next = kNone;
  };
  struct Call {
    int entry;
    State state;  // the state before it
  };

  static uint64_t Mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
  }

  void Link(const std::vector<Event>& events) {
    nodes_.resize(events.size() + 1);
    std::vector<int> return_of(inputs_.size(), kNone);
    for (size_t i = events.size(); i-- > 0;) {
      const int at = static_cast<int>(i) + 1;
      nodes_[at].id = events[i].id;
      if (events[i].is_call) {
        DUPLEX_ASSERT(return_of[events[i].id] != kNone, "a call precedes its return", i);
        nodes_[at].match = return_of[events[i].id];
      } else {
        return_of[events[i].id] = at;
      }
    }
    for (int at = 0; at < static_cast<int>(nodes_.size()); ++at) {
      nodes_[at].prev = at - 1;
      nodes_[at].next = at + 1 < static_cast<int>(nodes_.size()) ? at + 1 : kNone;
    }
  }

  // Records (linearized + id, next) in the cache; false when it was there already: that
  // configuration has been explored and led nowhere.
  bool Remember(int id, const State& next) {
    linearized_.Flip(id, zobrist_[id]);
    const uint64_t key = linearized_.hash() ^ Mix(model_.Hash(next));
    if (cache_.Insert(key, linearized_.words(), next)) return true;
    linearized_.Flip(id, zobrist_[id]);
    return false;
  }

  void Lift(int call) {
    Node& c = nodes_[call];
    nodes_[c.prev].next = c.next;
    nodes_[c.next].prev = c.prev;  // a call is always followed by its return, at least
    Node& r = nodes_[c.match];
    nodes_[r.prev].next = r.next;
    if (r.next != kNone) nodes_[r.next].prev = r.prev;
  }

  void Unlift(int call) {
    Node& c = nodes_[call];
    Node& r = nodes_[c.match];
    nodes_[r.prev].next = c.match;
    if (r.next != kNone) nodes_[r.next].prev = c.match;
    nodes_[c.prev].next = call;
    nodes_[c.next].prev = call;
  }

  const Model& model_;
  const std::vector<Input>& inputs_;
  std::vector<Node> nodes_;  // nodes_[0] is the head
  std::vector<uint64_t> zobrist_;
  Bitset linearized_;
  std::vector<Call> calls_;
  std::vector<int> longest_;
  Cache<State> cache_;
};

}  // namespace duplex::lin::search
