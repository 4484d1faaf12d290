// The sequential models the linearizability search (chaos/linearizability.cc) checks a key's
// history against: each decodes an Operation once into a compact Input, and steps a State.
// Each model has State, Input, Decode, Init, Step (false: the operation cannot take effect
// here with the output it reported), Hash and Describe. An operation of unknown outcome always
// steps: it has no output to contradict. Values; thread-compatible; internal to chaos/.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "chaos/linearizability.h"

namespace duplex::lin::models {

inline bool ParseInt64(const std::string& text, int64_t* value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

inline uint64_t Mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  return h ^ (h >> 33);
}

// A compare-and-set register that starts as nil. Values are interned per key, so that a
// state is one integer.
class CasRegister {
 public:
  using State = int64_t;  // kNil or a value's id
  static constexpr State kNil = -1;
  enum class Kind { kRead, kWrite, kCas, kInvalid };
  struct Input {
    Kind kind = Kind::kInvalid;
    State a = kNil, b = kNil;  // write: a; cas: a -> b
    State read = kNil;         // a read's output
    bool swapped = false;      // a cas's output
    bool unknown = false;
  };

  Input Decode(const Operation& op) {
    Input in;
    in.unknown = op.outcome == Outcome::kUnknown;
    if (op.f == "read") {
      in.kind = Kind::kRead;
      in.read = op.output == "nil" ? kNil : Intern(op.output);
    } else if (op.f == "write") {
      in.kind = Kind::kWrite;
      in.a = Intern(op.input);
    } else if (op.f == "cas") {
      const size_t space = op.input.find(' ');
      if (space == std::string::npos) return in;
      in.kind = Kind::kCas;
      in.a = Intern(op.input.substr(0, space));
      in.b = Intern(op.input.substr(space + 1));
      in.swapped = op.output == "ok";
    }
    return in;
  }

  State Init() const { return kNil; }

  bool Step(const State& s, const Input& in, State* next) const {
    *next = s;
    switch (in.kind) {
      case Kind::kRead:
        return in.unknown || in.read == s;
      case Kind::kWrite:
        *next = in.a;
        return true;
      case Kind::kCas:
        if (s == in.a) *next = in.b;
        return in.unknown || in.swapped == (s == in.a);
      case Kind::kInvalid:
        return in.unknown;
    }
    return false;
  }

  uint64_t Hash(const State& s) const { return Mix(static_cast<uint64_t>(s)); }
  std::string Describe(const State& s) const { return s == kNil ? "nil" : values_[s]; }

 private:
  State Intern(const std::string& value) {
    auto [it, added] = ids_.try_emplace(value, static_cast<State>(values_.size()));
    if (added) values_.push_back(value);
    return it->second;
  }

  std::unordered_map<std::string, State> ids_;
  std::vector<std::string> values_;
};

// One key of a get/put/append map; a missing key reads as "".
class KvAppend {
 public:
  using State = std::string;
  enum class Kind { kGet, kPut, kAppend, kInvalid };
  struct Input {
    Kind kind = Kind::kInvalid;
    std::string value;  // put/append: the argument; get: the output
    bool unknown = false;
  };

  Input Decode(const Operation& op) const {
    Input in;
    in.unknown = op.outcome == Outcome::kUnknown;
    if (op.f == "get") {
      in.kind = Kind::kGet;
      in.value = op.output;
    } else if (op.f == "put" || op.f == "append") {
      in.kind = op.f == "put" ? Kind::kPut : Kind::kAppend;
      in.value = op.input;
    }
    return in;
  }

  State Init() const { return {}; }

  bool Step(const State& s, const Input& in, State* next) const {
    switch (in.kind) {
      case Kind::kGet:
        *next = s;
        return in.unknown || in.value == s;
      case Kind::kPut:
        *next = in.value;
        return true;
      case Kind::kAppend:
        *next = s + in.value;
        return true;
      case Kind::kInvalid:
        *next = s;
        return in.unknown;
    }
    return false;
  }

  uint64_t Hash(const State& s) const { return std::hash<std::string>{}(s); }
  std::string Describe(const State& s) const { return "\"" + s + "\""; }
};

// One key of duplex's kv (examples/kv/kv_processor*.cc): GET, PUT, DEL, INCR, and at 2.0
// PUTEX/TTL with expiries computed from the request's now_ms. Where the history does not say
// whether a record had expired (no now_ms on the operation, or a PUTEX whose now_ms is
// unknown), both are possible: the state is the set of records the history allows, as
// Porcupine turns a nondeterministic model into a deterministic one.
class DuplexKv {
 public:
  struct Record {
    bool present = false;
    std::string value;
    int64_t expires_at_ms = 0;  // 0: never; kExpiryUnknown: at a time the history lacks
    bool operator==(const Record&) const = default;
    auto operator<=>(const Record&) const = default;
  };
  static constexpr int64_t kExpiryUnknown = -1;
  using State = std::vector<Record>;  // sorted, without duplicates, never empty

  enum class Kind { kGet, kPut, kDel, kIncr, kPutEx, kTtl, kInvalid };
  struct Input {
    Kind kind = Kind::kInvalid;
    std::string value;   // PUT/PUTEX: written; GET/DEL/INCR/TTL: the reply's value
    int64_t amount = 0;  // INCR: the amount; PUTEX: ttl_ms
    int64_t now_ms = -1;
    bool absent = false;
    bool unknown = false;
  };

  Input Decode(const Operation& op) const;
  State Init() const { return {Record{}}; }
  bool Step(const State& s, const Input& in, State* next) const;
  uint64_t Hash(const State& s) const;
  std::string Describe(const State& s) const;

 private:
  // The record as an operation at now_ms sees it: live, or absent once expired (both when
  // the history cannot tell).
  static void Views(const Record& r, int64_t now_ms, std::vector<Record>* views);
  static bool StepOne(const Record& view, const Input& in, Record* next);
};

}  // namespace duplex::lin::models
