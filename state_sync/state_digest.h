// StateDigester: the one digest of a replica's state, fed its raw state entries (keys as
// the store writes them, AppKey/SessionKey) in key order. Two replicas agree on the digest
// exactly when they hold the same entries. Fnv1a is the 64-bit hash beneath it, also fit
// for any other byte stream that must hash the same on every run. Plain values, no I/O;
// one object per thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/assert.h"

namespace duplex {

struct StateDigest {
  uint64_t digest = 0;
  uint64_t keys = 0;
  uint64_t applied_seq = 0;
};

// FNV-1a, 64 bits: cheap, stable across builds and platforms, and not cryptographic (it
// detects divergence, it does not resist an adversary).
class Fnv1a {
 public:
  void Add(std::string_view bytes) {
    for (char c : bytes) {
      hash_ ^= static_cast<uint8_t>(c);
      hash_ *= kPrime;
    }
  }
  uint64_t value() const { return hash_; }

 private:
  static constexpr uint64_t kOffsetBasis = 14695981039346656037ULL;
  static constexpr uint64_t kPrime = 1099511628211ULL;
  uint64_t hash_ = kOffsetBasis;
};

class StateDigester {
 public:
  // One state entry; entries must come in key order (a store's or a snapshot's order).
  void Add(std::string_view raw_key, std::string_view value) {
    // Two replicas agree only if they feed the same entries in the same order: a store's
    // order, bytewise and without repeats (std::string compares its bytes as unsigned, as
    // RocksDB's default comparator does).
    DUPLEX_ASSERT(keys_ == 0 || last_key_ < raw_key, "state entries are digested in key order",
                  keys_, last_key_.size(), raw_key.size());
    last_key_.assign(raw_key);
    hash_.Add(raw_key);
    hash_.Add(std::string_view("\0", 1));  // separates the key from the value
    hash_.Add(value);
    ++keys_;
  }
  // The digest of the entries added so far, as the state at `applied_seq`.
  StateDigest Finish(uint64_t applied_seq) const { return {hash_.value(), keys_, applied_seq}; }

 private:
  Fnv1a hash_;
  uint64_t keys_ = 0;
  std::string last_key_;  // the previous entry's key, for the order check
};

}  // namespace duplex
